"""Voicemail index: app_voicemail's spool folders in, messages and voicemail.new events out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from recordings.voicemail import (
    Mailbox,
    VoicemailIndex,
    VoicemailNameError,
    messages_in_listing,
    parse_callerid,
    parse_mailbox,
)

FIXTURE_TXT = (Path(__file__).parent / "fixtures" / "ivr" / "msg0000.txt").read_text()
MESSAGE_WAITING = Path(__file__).parent / "fixtures" / "ivr" / "message_waiting.json"


def message_waiting_event() -> dict[str, str]:
    """The MessageWaiting event recorded from Asterisk 22 after a message was left in 100@default."""
    event: dict[str, str] = json.loads(MESSAGE_WAITING.read_text())
    return event


def put_message(root: Path, folder: str, stem: str, msg_id: str, caller: str, duration: int) -> None:
    path = root / "default" / "100" / folder
    path.mkdir(parents=True, exist_ok=True)
    text = FIXTURE_TXT.replace("1795451412-00000000", msg_id).replace("duration=12", f"duration={duration}")
    text = text.replace('"PSTN 5551238" <5551238>', caller)
    (path / f"{stem}.txt").write_text(text)
    (path / f"{stem}.wav").write_bytes(b"RIFF" + bytes(40))


def test_listing_is_parsed_without_the_filesystem() -> None:
    names = ["msg0000.txt", "msg0000.wav", "msg0000.gsm", "msg0001.wav", ".lock", "greet.wav"]
    messages = messages_in_listing(Mailbox("100"), "INBOX", names, {"msg0000": FIXTURE_TXT})
    assert len(messages) == 1  # msg0001 has no .txt yet: still being recorded
    message = messages[0]
    assert (message.caller, message.caller_name, message.duration_s) == ("5551238", "PSTN 5551238", 12)
    assert message.message_id == "1795451412-00000000"
    assert message.origtime is not None and message.origtime.isoformat() == "2026-11-23T16:30:12+00:00"
    assert message.audio == ("msg0000.gsm", "msg0000.wav") and not message.heard


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('"PSTN 5551238" <5551238>', ("PSTN 5551238", "5551238")),
        ("张三 <13800138000>", ("张三", "13800138000")),
        ("<100>", ("", "100")),
        ("Unknown", ("", "")),
        ("5551234", ("", "5551234")),
    ],
)
def test_callerid_forms(raw: str, expected: tuple[str, str]) -> None:
    assert parse_callerid(raw) == expected


def test_mailbox_names_are_checked() -> None:
    assert parse_mailbox("100@sales") == Mailbox("100", "sales")
    assert parse_mailbox("100").label == "100@default"
    with pytest.raises(VoicemailNameError):
        parse_mailbox("../../etc")


def test_scan_lists_inbox_and_old(tmp_path: Path) -> None:
    put_message(tmp_path, "INBOX", "msg0000", "1795451412-00000000", '"A" <5551238>', 12)
    put_message(tmp_path, "Old", "msg0000", "1795450000-00000001", "<5550000>", 3)
    index = VoicemailIndex(tmp_path)
    assert [m.caller for m in index.scan("100@default")] == ["5551238"]
    both = index.scan("100", folders=("INBOX", "Old"))
    assert [(m.folder, m.heard) for m in both] == [("INBOX", False), ("Old", True)]
    assert index.mailboxes() == ["100@default"]


def test_message_waiting_announces_each_new_message_once(tmp_path: Path) -> None:
    index = VoicemailIndex(tmp_path, pbx="pbx1")
    event = message_waiting_event()
    assert index.on_message_waiting(event) == []  # nothing in the folder yet
    put_message(tmp_path, "INBOX", "msg0000", "1795451412-00000000", '"PSTN 5551238" <5551238>', 12)
    first = index.on_message_waiting(event)
    assert first == [{
        "type": "voicemail.new", "ts": "2026-11-23T16:30:12.000Z", "pbx": "pbx1", "mailbox": "100@default",
        "caller": "5551238", "message_id": "1795451412-00000000", "duration_s": 12,
    }]
    put_message(tmp_path, "INBOX", "msg0001", "1795451500-00000002", "<13800138000>", 30)
    second = index.on_message_waiting(event)
    assert [e["message_id"] for e in second] == ["1795451500-00000002"]
    assert index.on_message_waiting({**event, "Waiting": "0"}) == []
    assert index.on_message_waiting({**event, "Mailbox": "../x"}) == []
