"""Audio for the demo: the PBX simulator sends MixMonitor and MessageWaiting events but writes no
files, so ``demo`` stands in for Asterisk and writes a speech-like WAV (tones and pauses, 8 kHz mono)
for each recording and each voicemail message left."""

from __future__ import annotations

import contextlib
import math
import wave
from array import array
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from recordings.transcode import write_atomically
from recordings.voicemail import VoicemailIndex, VoicemailNameError, parse_mailbox

RATE = 8000


@lru_cache(maxsize=1)
def _syllables() -> tuple[bytes, bytes]:
    """One second of two voices talking in turns (different pitch, varying loudness), and one of silence."""
    samples = array("h")
    for i in range(RATE):
        t = i / RATE
        pitch = 180.0 if t < 0.5 else 260.0
        envelope = abs(math.sin(math.pi * t * 6)) * (0.7 if t < 0.5 else 0.45)
        samples.append(int(32767 * envelope * 0.6 * math.sin(2 * math.pi * pitch * t)))
    return samples.tobytes(), bytes(2 * RATE)


def write_demo_recording(path: Path, seconds: float) -> None:
    """Write ``seconds`` of demo speech to ``path`` (atomically: a reader never sees half a file)."""
    talk, pause = _syllables()
    whole = max(1, round(seconds))

    def write(tmp: str) -> None:
        with wave.open(tmp, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(RATE)
            for n in range(whole):
                out.writeframes(pause if n % 5 == 4 else talk)

    write_atomically(path, write)


class DemoVoicemailIndex(VoicemailIndex):
    """The demo's voicemail on the PBX simulator, which sends MessageWaiting but writes no spool: each
    MessageWaiting of a channel that just left a message gets a stand-in message in the mailbox's
    INBOX (``msgNNNN.txt`` as app_voicemail writes it, and a WAV), then is indexed as Asterisk's."""

    def on_message_waiting(self, event: Mapping[str, Any], received_at: datetime | None = None) -> list[dict[str, Any]]:
        if str(event.get("Waiting", "0")) != "0" and event.get("Mailbox") and event.get("Uniqueid"):
            with contextlib.suppress(VoicemailNameError, OSError):
                self.leave_message(event, received_at or datetime.now(UTC))
        return super().on_message_waiting(event, received_at)

    def leave_message(self, event: Mapping[str, Any], when: datetime, seconds: int = 12) -> Path:
        box = parse_mailbox(str(event["Mailbox"]))
        inbox = self.folder_path(box, "INBOX")
        inbox.mkdir(parents=True, exist_ok=True)
        taken = {p.name.partition(".")[0] for p in inbox.iterdir()}
        stem = next(f"msg{n:04d}" for n in range(10_000) if f"msg{n:04d}" not in taken)
        number = str(event.get("CallerIDNum") or "unknown")
        name = str(event.get("CallerIDName") or "").replace('"', "")
        write_demo_recording(inbox / f"{stem}.wav", seconds)
        info = (
            "[message]\n"
            f"origmailbox={box.box}\ncontext=leave-vm\n"
            f'callerid="{name}" <{number}>\n'
            f"origtime={int(when.timestamp())}\nduration={seconds}\n"
            f"msg_id={int(when.timestamp())}-{str(event['Uniqueid']).replace('.', '')}\n"
        )
        (inbox / f"{stem}.txt").write_text(info, encoding="utf-8")
        return inbox / f"{stem}.wav"
