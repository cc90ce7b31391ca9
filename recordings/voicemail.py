"""Voicemail index over app_voicemail's spool: ``<spool>/<context>/<mailbox>/<folder>/msgNNNN.{txt,wav,...}``.

The ``.txt`` beside each message holds its metadata (callerid, origtime, duration, msg_id). The pure
part turns a folder listing and those texts into :class:`VoicemailMessage` values; the index reads
the folders. ``on_message_waiting`` turns AMI's MessageWaiting into ``voicemail.new`` events for the
messages not announced before (the stable ``msg_id`` survives the move from INBOX to Old).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

FOLDERS = ("INBOX", "Old", "Urgent")
_STEM = re.compile(r"^msg\d{4}$")
_MAILBOX = re.compile(r"^(?P<box>[0-9A-Za-z_+-]{1,40})(?:@(?P<context>[0-9A-Za-z_-]{1,40}))?$")
_CALLERID = re.compile(r'^\s*(?:"(?P<quoted>[^"]*)"|(?P<bare>[^<]*?))\s*<(?P<number>[^>]*)>\s*$')


class VoicemailNameError(ValueError):
    """A mailbox or folder name that cannot be used as a path part."""


@dataclass(frozen=True, slots=True)
class Mailbox:
    box: str
    context: str = "default"

    @property
    def label(self) -> str:
        return f"{self.box}@{self.context}"


@dataclass(frozen=True, slots=True)
class VoicemailMessage:
    mailbox: str
    folder: str
    stem: str
    message_id: str
    caller: str
    caller_name: str
    origtime: datetime | None
    duration_s: int
    audio: tuple[str, ...]

    @property
    def heard(self) -> bool:
        return self.folder == "Old"

    def as_dict(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox,
            "folder": self.folder,
            "stem": self.stem,
            "message_id": self.message_id,
            "caller": self.caller,
            "caller_name": self.caller_name,
            "origtime": self.origtime.isoformat() if self.origtime else None,
            "duration_s": self.duration_s,
            "audio": list(self.audio),
            "heard": self.heard,
        }


def parse_mailbox(text: str) -> Mailbox:
    """``100@default`` or ``100`` (context ``default``)."""
    match = _MAILBOX.match(text.strip())
    if match is None:
        raise VoicemailNameError(f"邮箱名无效 / not a mailbox: {text[:60]!r}")
    return Mailbox(match["box"], match["context"] or "default")


def parse_info(text: str) -> dict[str, str]:
    """The ``key=value`` lines of a message ``.txt`` (comment and section lines skipped)."""
    info: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in ";#[" or "=" not in line:
            continue
        key, value = line.split("=", 1)
        info[key.strip()] = value.strip()
    return info


def voicemail_new(
    mailbox: str, caller: str, message_id: str, duration_s: int, ts: datetime, pbx: str
) -> dict[str, Any]:
    """The ``voicemail.new`` event; ``ts`` in ISO-8601 UTC with milliseconds."""
    moment = ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
    stamp = moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return {
        "type": "voicemail.new",
        "ts": stamp,
        "pbx": pbx,
        "mailbox": mailbox,
        "caller": caller,
        "message_id": message_id,
        "duration_s": duration_s,
    }


def parse_callerid(value: str) -> tuple[str, str]:
    """``"PSTN 5551238" <5551238>`` -> ``("PSTN 5551238", "5551238")``; a bare number is its own number."""
    match = _CALLERID.match(value)
    if match is None:
        number = value.strip()
        return "", "" if number.lower() == "unknown" else number
    name = match["quoted"] if match["quoted"] is not None else (match["bare"] or "")
    return name.strip(), match["number"].strip()


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def message_from_info(
    mailbox: Mailbox, folder: str, stem: str, info_text: str, audio: Iterable[str]
) -> VoicemailMessage:
    info = parse_info(info_text)
    name, number = parse_callerid(info.get("callerid", ""))
    origtime = _int(info.get("origtime"))
    return VoicemailMessage(
        mailbox=mailbox.label,
        folder=folder,
        stem=stem,
        message_id=info.get("msg_id") or f"{mailbox.context}-{mailbox.box}-{folder}-{stem}",
        caller=number,
        caller_name=name,
        origtime=datetime.fromtimestamp(origtime, UTC) if origtime is not None else None,
        duration_s=_int(info.get("duration")) or 0,
        audio=tuple(sorted(audio)),
    )


def messages_in_listing(
    mailbox: Mailbox, folder: str, file_names: Iterable[str], texts: Mapping[str, str]
) -> list[VoicemailMessage]:
    """Messages of one folder from its file names; ``texts`` maps ``msgNNNN`` to its ``.txt`` content."""
    audio: dict[str, list[str]] = {}
    for name in file_names:
        stem, _, suffix = name.partition(".")
        if _STEM.match(stem) and suffix and suffix != "txt":
            audio.setdefault(stem, []).append(name)
    return [
        message_from_info(mailbox, folder, stem, texts[stem], files)
        for stem, files in sorted(audio.items())
        if stem in texts
    ]


class VoicemailIndex:
    """Reads mailbox folders under ``voicemail_dir`` and remembers which messages were announced."""

    def __init__(self, voicemail_dir: Path, pbx: str = "pbx1") -> None:
        self.root = Path(voicemail_dir)
        self.pbx = pbx
        self._announced: set[str] = set()

    def folder_path(self, mailbox: Mailbox, folder: str) -> Path:
        if folder not in FOLDERS:
            raise VoicemailNameError(f"文件夹无效 / unknown folder: {folder[:20]!r}")
        return self.root / mailbox.context / mailbox.box / folder

    def scan(self, mailbox: str, folders: Iterable[str] = ("INBOX",)) -> list[VoicemailMessage]:
        box = parse_mailbox(mailbox)
        found: list[VoicemailMessage] = []
        for folder in folders:
            path = self.folder_path(box, folder)
            if not path.is_dir():
                continue
            names = [p.name for p in path.iterdir() if p.is_file()]
            texts = {
                name[:-4]: (path / name).read_text(encoding="utf-8", errors="replace")
                for name in names
                if name.endswith(".txt") and _STEM.match(name[:-4])
            }
            found += messages_in_listing(box, folder, names, texts)
        return found

    def mailboxes(self) -> list[str]:
        """Every ``box@context`` that has a folder in the spool."""
        if not self.root.is_dir():
            return []
        return sorted(
            f"{box.name}@{context.name}"
            for context in self.root.iterdir() if context.is_dir()
            for box in context.iterdir() if box.is_dir() and _MAILBOX.match(box.name)
        )

    def on_message_waiting(
        self, event: Mapping[str, Any], received_at: datetime | None = None
    ) -> list[dict[str, Any]]:
        """AMI MessageWaiting (Mailbox, Waiting, New) -> ``voicemail.new`` for messages not yet announced.

        ``ts`` is the message's origtime (PBX time), else ``received_at``.
        """
        if str(event.get("Waiting", "0")) == "0" or not event.get("Mailbox"):
            return []
        try:
            messages = self.scan(str(event["Mailbox"]))
        except (VoicemailNameError, OSError):
            return []
        fresh = [m for m in messages if m.message_id not in self._announced]
        self._announced.update(m.message_id for m in fresh)
        return [
            voicemail_new(m.mailbox, m.caller, m.message_id, m.duration_s,
                          m.origtime or received_at or datetime.fromtimestamp(0, UTC), self.pbx)
            for m in fresh
        ]
