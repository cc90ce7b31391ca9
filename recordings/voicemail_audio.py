"""Voicemail audio in app_voicemail's spool: ``<context>/<mailbox>/<INBOX|Old>/msgNNNN.{wav,WAV,gsm,txt}``.

A message is named by its mailbox (``100@default`` or ``100``) and either its file stem (``msg0000``,
in INBOX unless another folder is given), the stable ``msg_id`` Asterisk writes into the ``.txt``
file (which survives the move to Old), or ``<context>-<mailbox>-<folder>-<stem>`` for a message
without one (the message ids of the voicemail listing). Every part is validated before it touches a path.

Marking a message heard does what app_voicemail does when a caller listens: the files move from INBOX
to Old under the next free number, so the mailbox's waiting count drops.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from recordings import voicemail
from recordings.paths import resolve_inside
from recordings.voicemail import FOLDERS, Mailbox

AUDIO_SUFFIXES = (".wav", ".WAV", ".gsm")
_STEM_RE = re.compile(r"^msg\d{4}$")
_MSG_ID_RE = re.compile(r"^\d{1,20}-[0-9A-Fa-f]{1,16}$")
_PLACED_RE = re.compile(r"^(?P<where>[0-9A-Za-z_+@-]{1,82})-(?P<folder>INBOX|Old|Urgent)-(?P<stem>msg\d{4})$")


class VoicemailError(ValueError):
    status = 400


class BadVoicemailName(VoicemailError):
    status = 400


class MessageNotFound(VoicemailError):
    status = 404


@dataclass(frozen=True, slots=True)
class MessageFiles:
    mailbox: Mailbox
    folder: str
    stem: str
    audio: Path
    info: dict[str, str]

    @property
    def msg_id(self) -> str:
        return self.info.get("msg_id", "")


def parse_mailbox(value: str) -> Mailbox:
    """``100@default`` or ``100``, by the spool index's rule; a bad name is a 400."""
    try:
        box = voicemail.parse_mailbox(value or "")
    except voicemail.VoicemailNameError as exc:
        raise BadVoicemailName(str(exc)) from exc
    return box


def _read_info(path: Path) -> dict[str, str]:
    try:
        return voicemail.parse_info(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return {}


def _files(root: Path, ref: Mailbox, folder: str, stem: str) -> MessageFiles | None:
    base = f"{ref.context}/{ref.box}/{folder}/{stem}"
    for suffix in AUDIO_SUFFIXES:
        audio = resolve_inside(root, base + suffix)
        if audio.is_file():
            return MessageFiles(ref, folder, stem, audio, _read_info(resolve_inside(root, base + ".txt")))
    return None


def find_message(root: Path, ref: Mailbox, message_id: str, folder: str = "INBOX") -> MessageFiles:
    """The files of one message, by stem (in ``folder``) or by msg_id (in INBOX or Old)."""
    if folder not in FOLDERS:
        raise BadVoicemailName(f"文件夹无效 unknown folder: {folder[:20]!r}")
    placed = _PLACED_RE.match(message_id)
    if _STEM_RE.match(message_id):
        found = _files(root, ref, folder, message_id)
    elif placed and placed.group("where") == f"{ref.context}-{ref.box}":
        found = _files(root, ref, placed.group("folder"), placed.group("stem"))
    elif _MSG_ID_RE.match(message_id):
        found = _find_by_msg_id(root, ref, message_id)
    else:
        raise BadVoicemailName(f"留言编号无效 not a message id: {message_id[:40]!r}")
    if found is None:
        raise MessageNotFound(f"留言不存在 no such message: {ref.label} {message_id}")
    return found


def _find_by_msg_id(root: Path, ref: Mailbox, msg_id: str) -> MessageFiles | None:
    for folder in FOLDERS:
        directory = resolve_inside(root, f"{ref.context}/{ref.box}/{folder}")
        if not directory.is_dir():
            continue
        for txt in sorted(directory.glob("msg[0-9][0-9][0-9][0-9].txt")):
            if _read_info(txt).get("msg_id") == msg_id:
                return _files(root, ref, folder, txt.stem)
    return None


def mark_heard(root: Path, message: MessageFiles) -> MessageFiles:
    """Move a message from INBOX (or Urgent) to Old under the next free number; one in Old stays."""
    if message.folder == "Old":
        return message
    ref = message.mailbox
    old = resolve_inside(root, f"{ref.context}/{ref.box}/Old")
    old.mkdir(parents=True, exist_ok=True)
    taken = {p.stem for p in old.glob("msg[0-9][0-9][0-9][0-9].*")}
    number = next(n for n in range(10_000) if f"msg{n:04d}" not in taken)
    stem = f"msg{number:04d}"
    source = message.audio.parent
    for entry in sorted(source.glob(f"{message.stem}.*")):
        os.replace(entry, old / f"{stem}{entry.suffix}")
    moved = _files(root, ref, "Old", stem)
    if moved is None:
        raise MessageNotFound(f"留言已被移走 the message moved away: {ref.label} {message.stem}")
    return moved
