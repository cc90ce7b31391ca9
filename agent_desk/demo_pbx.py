"""The real Asterisk of ``callcenter demo --pbx asterisk``: asterisk-dev's Debian root under chroot.

``DemoAsterisk.up()`` starts the instance with ``asterisk-dev/rootfs.sh up`` unless it already runs,
reads its settings from ``rootfs.sh env`` (AMI, FastAGI port, spool folders, the softphone's WSS URL
and password) and ``down()`` stops it again only when ``up()`` started it. ``demo_settings`` points
the product at it (pure).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import TypeAdapter

from config import Settings

ROOTFS_SCRIPT = Path(__file__).resolve().parent.parent / "asterisk-dev" / "rootfs.sh"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# rootfs.sh env -> Settings field; the CC_TEST_* lines are for the tests
_PRODUCT_KEYS = (
    "ami_host",
    "ami_port",
    "ami_user",
    "ami_secret",
    "ami_auth",
    "agi_host",
    "agi_port",
    "recordings_dir",
    "voicemail_dir",
    "recordings_pbx_dir",
    "sip_wss_url",
)


class DemoPBXError(Exception):
    """The demo's Asterisk cannot be started or read; ``text`` holds the message in zh-CN and en."""

    def __init__(self, en: str, zh: str) -> None:
        super().__init__(en)
        self.text = {"zh-CN": zh, "en": en}

    def __str__(self) -> str:
        return f"{self.text['zh-CN']}\n{self.text['en']}"


@dataclass(frozen=True)
class DemoPBXInfo:
    """What the demo prints about its PBX."""

    instance: str
    ami: str
    wss_url: str
    webrtc_password: str
    started_here: bool


def parse_env(text: str) -> dict[str, str]:
    """``export KEY=VALUE`` lines (as ``rootfs.sh env`` prints them) as a dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        words = shlex.split(line, comments=True)
        if len(words) == 2 and words[0] == "export" and "=" in words[1]:
            key, _, value = words[1].partition("=")
            out[key] = value
    return out


def demo_settings(settings: Settings, env: Mapping[str, str]) -> Settings:
    """``settings`` pointed at the PBX that ``env`` (``rootfs.sh env``) describes; the demo's PBX is asterisk."""
    update: dict[str, Any] = {"demo_pbx": "asterisk"}
    for name in _PRODUCT_KEYS:
        value = env.get(f"CC_{name.upper()}")
        if value is not None:
            annotation: Any = Settings.model_fields[name].annotation
            update[name] = TypeAdapter(annotation).validate_python(value)
    missing = [f"CC_{n.upper()}" for n in ("ami_port", "ami_secret", "agi_port") if n not in update]
    if missing:
        raise DemoPBXError(
            f"asterisk-dev/rootfs.sh env did not say {', '.join(missing)}",
            f"asterisk-dev/rootfs.sh env 缺少 {', '.join(missing)}",
        )
    return settings.model_copy(update=update)


def open_calendar_file(settings: Settings) -> Settings:
    """Unless ``CC_IVR_CALENDAR_FILE`` is set, a business calendar open around the clock.

    On a real PBX the IVR's hours decide where a call goes; with the shipped calendar every demo call
    outside office hours in Shanghai would go to voicemail. The file is written once, so what an
    administrator changes on /admin/calendar stays.
    """
    if "ivr_calendar_file" in settings.model_fields_set:
        return settings
    path = settings.data_dir / "demo-calendar.yaml"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        hours = {day: [["00:00", "24:00"]] for day in WEEKDAYS}
        body = {"timezone": settings.timezone, "hours": hours, "workday_hours": [["00:00", "24:00"]]}
        header = "# 演示用营业时间：全天开放 / demo business calendar: open around the clock\n"
        path.write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return settings.model_copy(update={"ivr_calendar_file": path})


@dataclass
class DemoAsterisk:
    """One asterisk-dev instance, started for the demo or joined when it already runs."""

    instance: str
    port_offset: int = 0
    script: Path = ROOTFS_SCRIPT
    started: bool = False
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> DemoAsterisk:
        return cls(settings.asterisk_instance, settings.asterisk_port_offset)

    def _run(self, *args: str, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "CC_ASTERISK_INSTANCE": self.instance,
            "CC_ASTERISK_PORT_OFFSET": str(self.port_offset),
        }
        return subprocess.run(
            ["bash", str(self.script), *args], env=env, capture_output=True, text=True, timeout=timeout
        )

    def check(self) -> None:
        if not self.script.is_file():
            raise DemoPBXError(
                f"{self.script} is missing: run the demo from a checkout of the project",
                f"找不到 {self.script}：请在项目源码目录中运行演示",
            )
        if os.geteuid() != 0:
            raise DemoPBXError(
                "callcenter demo --pbx asterisk needs root: it starts Asterisk in a Debian root under chroot "
                "(asterisk-dev/rootfs.sh up). Run: sudo .venv/bin/callcenter demo --pbx asterisk "
                "(or without --pbx for the built-in PBX simulator)",
                "callcenter demo --pbx asterisk 需要 root 权限：它通过 chroot 在 Debian 根目录中启动 Asterisk"
                "（asterisk-dev/rootfs.sh up）。请运行：sudo .venv/bin/callcenter demo --pbx asterisk"
                "（不加 --pbx 则使用内置的 PBX 模拟器）",
            )

    def up(self) -> dict[str, str]:
        """Start the instance unless it runs; its ``rootfs.sh env`` settings."""
        self.check()
        if self._run("status", timeout=60).returncode != 0:
            print(
                f"正在启动 Asterisk（asterisk-dev 实例 {self.instance}）… / "
                f"starting Asterisk (asterisk-dev instance {self.instance})…",
                flush=True,
            )
            done = self._run("up")
            if done.returncode != 0:
                raise DemoPBXError(
                    f"asterisk-dev/rootfs.sh up failed:\n{done.stderr.strip()}",
                    f"asterisk-dev/rootfs.sh up 失败：\n{done.stderr.strip()}",
                )
            self.started = True
        done = self._run("env", timeout=60)
        if done.returncode != 0:
            raise DemoPBXError(
                f"asterisk-dev/rootfs.sh env failed: {done.stderr.strip()}",
                f"asterisk-dev/rootfs.sh env 失败：{done.stderr.strip()}",
            )
        self.env = parse_env(done.stdout)
        return self.env

    def info(self) -> DemoPBXInfo:
        return DemoPBXInfo(
            instance=self.instance,
            ami=f"{self.env.get('CC_AMI_HOST', '127.0.0.1')}:{self.env.get('CC_AMI_PORT', '?')}",
            wss_url=self.env.get("CC_SIP_WSS_URL", ""),
            webrtc_password=self.env.get("CC_TEST_WEBRTC_PASSWORD", ""),
            started_here=self.started,
        )

    def down(self) -> None:
        """Stop the instance if ``up()`` started it."""
        if not self.started:
            return
        done = self._run("down", timeout=120)
        self.started = False
        if done.returncode != 0:
            print(f"asterisk-dev/rootfs.sh down: {done.stderr.strip()}", flush=True)
