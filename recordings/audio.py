"""What an audio file is: format, duration, sample rate, and whether it is whole.

WAV files (what MixMonitor writes) are read from their RIFF header only, which is what makes indexing
100,000 files fast; other formats are asked of ffprobe through pydub.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from pydub import AudioSegment
from pydub.exceptions import CouldntDecodeError

_UNKNOWN_SIZE = (0, 0xFFFFFFFF)  # a WAV still being written has no final size in its header
_WAV_CODECS = {1: "pcm", 3: "float", 6: "alaw", 7: "ulaw", 0x31: "gsm"}


class AudioProblem(ValueError):
    """The file cannot be played; ``code`` says why (``not_audio`` or ``truncated``)."""

    code = "not_audio"


class NotAudio(AudioProblem):
    code = "not_audio"


class TruncatedAudio(AudioProblem):
    code = "truncated"


@dataclass(frozen=True, slots=True)
class AudioInfo:
    format: str
    duration_s: float
    sample_rate: int
    channels: int
    size: int


def probe_wav_header(head: bytes, size: int) -> AudioInfo:
    """Read a WAV header (the first bytes of the file) of a file of ``size`` bytes."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise NotAudio("not a WAV file (no RIFF/WAVE header)")
    pos = 12
    fmt: tuple[int, int, int, int] | None = None
    while pos + 8 <= len(head):
        chunk_id, chunk_size = head[pos : pos + 4], struct.unpack_from("<I", head, pos + 4)[0]
        body = pos + 8
        if chunk_id == b"fmt ":
            if body + 16 > len(head):
                raise TruncatedAudio("WAV format chunk is cut short")
            codec, channels, rate, byte_rate = struct.unpack_from("<HHII", head, body)
            fmt = (codec, channels, rate, byte_rate)
        elif chunk_id == b"data":
            if fmt is None:
                raise NotAudio("WAV data before its format chunk")
            codec, channels, rate, byte_rate = fmt
            if channels == 0 or rate == 0 or byte_rate == 0:
                raise NotAudio("WAV format chunk has zero channels or rate")
            available = max(size - body, 0)
            data_size = available if chunk_size in _UNKNOWN_SIZE else chunk_size
            if data_size > available:
                raise TruncatedAudio(
                    f"WAV header promises {data_size} bytes of audio, the file has {available}"
                )
            name = "wav" if codec != 0x31 else "wav49"
            return AudioInfo(name, round(data_size / byte_rate, 3), rate, channels, size)
        pos = body + chunk_size + (chunk_size & 1)
    if fmt is None:
        raise NotAudio("WAV file without a format chunk")
    raise TruncatedAudio("WAV file without a data chunk")


def probe_file(path: Path | str, size: int | None = None) -> AudioInfo:
    """Probe ``path`` (``size``: when just seen by a scan); raise NotAudio or TruncatedAudio."""
    with open(path, "rb", buffering=0) as handle:
        size = os.fstat(handle.fileno()).st_size if size is None else size
        if size == 0:
            raise TruncatedAudio("empty file")
        head = handle.read(1024)
    if head[:4] == b"RIFF":
        return probe_wav_header(head, size)
    suffix = Path(path).suffix.lower()
    if suffix == ".wav":
        raise NotAudio("not a WAV file (no RIFF/WAVE header)")
    segment = decode(Path(path))
    return AudioInfo(
        suffix.lstrip("."),
        round(len(segment) / 1000, 3),
        segment.frame_rate,
        segment.channels,
        size,
    )


def decode(path: Path) -> AudioSegment:
    """Decode with pydub (WAV natively, anything else through ffmpeg)."""
    try:
        return AudioSegment.from_file(str(path))
    except (CouldntDecodeError, IndexError, EOFError) as exc:
        raise NotAudio(
            f"cannot decode audio: {str(exc).splitlines()[0][:120] if str(exc) else exc!r}"
        ) from exc


def peaks_of(segment: AudioSegment, buckets: int) -> list[float]:
    """Per-bucket peak amplitude (0..1) of the mono mix: what the player draws as a waveform."""
    mono = segment.set_channels(1) if segment.channels > 1 else segment
    count = int(mono.frame_count())
    if count == 0 or buckets <= 0:
        return []
    buckets = min(buckets, count)
    full_scale = float(mono.max_possible_amplitude)
    return [
        round(
            min(
                mono.get_sample_slice(i * count // buckets, (i + 1) * count // buckets).max / full_scale, 1.0
            ),
            3,
        )
        for i in range(buckets)
    ]
