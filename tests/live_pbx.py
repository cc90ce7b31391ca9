"""The real Asterisk that the ``asterisk`` tests run against, as ``asterisk-dev/rootfs.sh env`` describes it.

``make test`` starts it (``asterisk-dev/with-pbx.sh``) and exports ``CC_TEST_AMI`` and the rest. Without
it a test marked ``asterisk`` is skipped with the reason, except in CI (``CI=true``), where a missing
PBX fails the test: CI must prove the call path on the real PBX.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class RealPBX:
    host: str
    ami_port: int
    ami_user: str
    ami_secret: str
    agi_port: int  # where the PBX's dialplan sends FastAGI (the product must listen there)
    recordings_dir: Path  # the MixMonitor folder, as seen from this machine
    recordings_pbx_dir: str  # the same folder as Asterisk names it
    voicemail_dir: Path
    wss_url: str
    webrtc_password: str
    voicemail_pin: str
    home: Path  # the instance's folder (config, spool, logs)

    def cli(self, command: str) -> str:
        """An Asterisk CLI command on this PBX (``rootfs.sh cli``), its output."""
        script = Path(__file__).resolve().parent.parent / "asterisk-dev" / "rootfs.sh"
        env = dict(os.environ)
        # the instance and root these tests were pointed at, not rootfs.sh's defaults
        env["CC_ASTERISK_INSTANCE"] = env.get("CC_TEST_ASTERISK_INSTANCE", env.get("CC_ASTERISK_INSTANCE", "dev"))
        if env.get("CC_TEST_ASTERISK_ROOTFS"):
            env["CC_ASTERISK_ROOTFS"] = env["CC_TEST_ASTERISK_ROOTFS"]
        done = subprocess.run(
            ["bash", str(script), "cli", command], capture_output=True, text=True, timeout=30, check=True, env=env
        )
        return done.stdout


def missing(reason: str) -> None:
    """Skip locally; fail in CI, where the PBX must be there."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI needs the real Asterisk: {reason} (make test starts it with asterisk-dev/with-pbx.sh)")
    pytest.skip(reason)


def real_pbx() -> RealPBX:
    address = os.environ.get("CC_TEST_AMI", "")
    if not address:
        missing("CC_TEST_AMI is not set: no real Asterisk to test against")
    host, _, port = address.rpartition(":")
    env = os.environ.get
    return RealPBX(
        host=host or "127.0.0.1",
        ami_port=int(port),
        ami_user=env("CC_TEST_AMI_USER", "cti"),
        ami_secret=env("CC_TEST_AMI_SECRET", ""),
        agi_port=int(env("CC_TEST_AGI_PORT", "4573")),
        recordings_dir=Path(env("CC_TEST_RECORDINGS_DIR", "var/monitor")),
        recordings_pbx_dir=env("CC_TEST_RECORDINGS_PBX_DIR", "/var/spool/asterisk/monitor"),
        voicemail_dir=Path(env("CC_TEST_VOICEMAIL_DIR", "var/voicemail")),
        wss_url=env("CC_TEST_SIP_WSS_URL", ""),
        webrtc_password=env("CC_TEST_WEBRTC_PASSWORD", ""),
        voicemail_pin=env("CC_TEST_VOICEMAIL_PIN", ""),
        home=Path(env("CC_TEST_ASTERISK_HOME", "")),
    )
