"""Voicemail audio files: found by mailbox + message id only, marked heard as app_voicemail does."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_recordings_support import write_tone

from recordings.index import UnsafeFileName
from recordings.voicemail import parse_info
from recordings.voicemail_audio import (
    BadVoicemailName,
    MessageNotFound,
    find_message,
    mark_heard,
    parse_mailbox,
)

TXT = """;
; Message Information file
;
[message]
origmailbox=100
context=leave-vm
exten=100
callerid="PSTN 5551238" <5551238>
origtime=1795451300
msg_id={msg_id}
duration=12
"""


def leave_message(root: Path, stem: str, msg_id: str, folder: str = "INBOX", mailbox: str = "100") -> Path:
    base = root / "default" / mailbox / folder
    write_tone(base / f"{stem}.wav", 1.0)
    (base / f"{stem}.txt").write_text(TXT.format(msg_id=msg_id))
    return base


def test_mailbox_names() -> None:
    assert parse_mailbox("100@default").label == "100@default"
    assert parse_mailbox("200").label == "200@default"
    for bad in ("../100", "100@../x", "100/INBOX", "", "a@b@c", "100@de fault"):
        with pytest.raises(BadVoicemailName):
            parse_mailbox(bad)


def test_message_info_file() -> None:
    info = parse_info(TXT.format(msg_id="1795451300-00000001"))
    assert (info["msg_id"], info["duration"], info["callerid"]) == (
        "1795451300-00000001",
        "12",
        '"PSTN 5551238" <5551238>',
    )


def test_find_by_stem_and_by_msg_id(tmp_path: Path) -> None:
    leave_message(tmp_path, "msg0000", "1795451300-00000001")
    ref = parse_mailbox("100@default")
    by_stem = find_message(tmp_path, ref, "msg0000")
    by_id = find_message(tmp_path, ref, "1795451300-00000001")
    assert by_stem.audio == by_id.audio == (tmp_path / "default/100/INBOX/msg0000.wav").resolve()
    with pytest.raises(MessageNotFound):
        find_message(tmp_path, ref, "msg0001")
    with pytest.raises(MessageNotFound):
        find_message(tmp_path, parse_mailbox("101"), "msg0000")


@pytest.mark.parametrize("message_id", ["../msg0000", "msg0000.wav", "msg00000", "msg0000/../../x", "%2e%2e"])
def test_message_ids_that_are_not_ids_are_refused(tmp_path: Path, message_id: str) -> None:
    with pytest.raises(BadVoicemailName):
        find_message(tmp_path, parse_mailbox("100"), message_id)


def test_folder_must_be_inbox_or_old(tmp_path: Path) -> None:
    with pytest.raises(BadVoicemailName):
        find_message(tmp_path, parse_mailbox("100"), "msg0000", folder="../../etc")


def test_symlink_out_of_the_spool_is_refused(tmp_path: Path) -> None:
    outside = write_tone(tmp_path / "outside" / "secret.wav", 0.5)
    inbox = tmp_path / "spool" / "default" / "100" / "INBOX"
    inbox.mkdir(parents=True)
    (inbox / "msg0000.wav").symlink_to(outside)
    with pytest.raises(UnsafeFileName):
        find_message(tmp_path / "spool", parse_mailbox("100"), "msg0000")


def test_mark_heard_moves_to_old_under_the_next_free_number(tmp_path: Path) -> None:
    leave_message(tmp_path, "msg0000", "1795451000-00000000", folder="Old")
    inbox = leave_message(tmp_path, "msg0000", "1795451300-00000001")
    ref = parse_mailbox("100")
    moved = mark_heard(tmp_path, find_message(tmp_path, ref, "msg0000"))
    assert (moved.folder, moved.stem, moved.msg_id) == ("Old", "msg0001", "1795451300-00000001")
    assert not list(inbox.iterdir())
    assert sorted(p.name for p in (tmp_path / "default/100/Old").iterdir()) == [
        "msg0000.txt",
        "msg0000.wav",
        "msg0001.txt",
        "msg0001.wav",
    ]
    # the stable msg_id still finds it; marking again changes nothing
    again = find_message(tmp_path, ref, "1795451300-00000001")
    assert mark_heard(tmp_path, again) == again


def test_listing_ids_of_messages_without_msg_id(tmp_path: Path) -> None:
    base = tmp_path / "default" / "100" / "Urgent"
    write_tone(base / "msg0003.wav", 0.5)
    (base / "msg0003.txt").write_text("[message]\nduration=1\n")
    ref = parse_mailbox("100@default")
    found = find_message(tmp_path, ref, "default-100-Urgent-msg0003")
    assert (found.folder, found.stem, found.msg_id) == ("Urgent", "msg0003", "")
    with pytest.raises(BadVoicemailName):  # the id of another mailbox is not a way into this one
        find_message(tmp_path, ref, "default-101-Urgent-msg0003")
    moved = mark_heard(tmp_path, found)
    assert (moved.folder, moved.stem) == ("Old", "msg0000")
