"""Audio for the demo: the PBX simulator sends MixMonitor events but writes no files, so ``demo``
stands in for Asterisk and writes a speech-like WAV (tones and pauses, 8 kHz mono) for each one."""

from __future__ import annotations

import math
import wave
from array import array
from functools import lru_cache
from pathlib import Path

from recordings.transcode import write_atomically

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
