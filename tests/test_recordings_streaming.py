"""HTTP Range parsing, and the audio probe that refuses files that are not audio or are cut short."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_recordings_support import write_tone

from recordings.audio import NotAudio, TruncatedAudio, decode, peaks_of, probe_file, probe_wav_header
from recordings.streaming import ByteRange, MalformedRange, RangeNotSatisfiable, parse_range


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        (None, 100, None),
        ("", 100, None),
        ("bytes=0-", 100, ByteRange(0, 99)),
        ("bytes=0-0", 100, ByteRange(0, 0)),
        ("bytes=10-19", 100, ByteRange(10, 19)),
        ("bytes=90-500", 100, ByteRange(90, 99)),
        ("bytes=-10", 100, ByteRange(90, 99)),
        ("bytes=-500", 100, ByteRange(0, 99)),
        (" bytes = 5 - 6 ", 100, ByteRange(5, 6)),
    ],
)
def test_ranges_browsers_send(header: str | None, size: int, expected: ByteRange | None) -> None:
    assert parse_range(header, size) == expected


@pytest.mark.parametrize(
    "header",
    [
        "bytes",
        "bytes=",
        "bytes=-",
        "items=0-1",
        "bytes=a-b",
        "bytes=5-1",
        "bytes=0-1,3-4",
        "bytes=1-2-3",
        "bytes=99999999999999999999-",
    ],
)
def test_malformed_ranges_are_400(header: str) -> None:
    with pytest.raises(MalformedRange) as info:
        parse_range(header, 100)
    assert info.value.status == 400


@pytest.mark.parametrize(
    ("header", "size"), [("bytes=100-", 100), ("bytes=500-600", 100), ("bytes=-0", 100), ("bytes=0-", 0)]
)
def test_ranges_beyond_the_file_are_416(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as info:
        parse_range(header, size)
    assert (info.value.status, info.value.size) == (416, size)


@given(size=st.integers(1, 10**9), start=st.integers(0, 10**9), length=st.integers(1, 10**9))
def test_any_satisfiable_range_stays_inside_the_file(size: int, start: int, length: int) -> None:
    header = f"bytes={start}-{start + length - 1}"
    if start >= size:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(header, size)
        return
    got = parse_range(header, size)
    assert got is not None
    assert got.start == start and 0 <= got.end < size and got.length == min(length, size - start)


def test_probe_reads_a_mixmonitor_style_wav(tmp_path: Path) -> None:
    info = probe_file(write_tone(tmp_path / "a.wav", 2.5))
    assert (info.format, info.duration_s, info.sample_rate, info.channels) == ("wav", 2.5, 8000, 1)
    assert info.size == (tmp_path / "a.wav").stat().st_size


def test_truncated_wav_is_refused(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "a.wav", 1.0)
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(TruncatedAudio, match="promises 16000 bytes"):
        probe_file(path)


def test_wav_still_being_written_uses_the_bytes_there(tmp_path: Path) -> None:
    data = bytearray(write_tone(tmp_path / "a.wav", 1.0).read_bytes())
    struct.pack_into("<I", data, 40, 0)  # data chunk size not written yet
    assert probe_wav_header(bytes(data[:64]), len(data)).duration_s == 1.0


@pytest.mark.parametrize("content", [b"", b"hello, not audio at all" * 10, b"RIFF\x00\x00\x00\x00WAVE"])
def test_files_that_are_not_audio_are_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "x.wav"
    path.write_bytes(content)
    with pytest.raises((NotAudio, TruncatedAudio)):
        probe_file(path)


def test_non_wav_garbage_is_not_audio(tmp_path: Path) -> None:
    path = tmp_path / "x.mp3"
    path.write_bytes(b"\x00garbage" * 100)
    with pytest.raises(NotAudio):
        probe_file(path)


def test_peaks_follow_loudness(tmp_path: Path) -> None:
    quiet = write_tone(tmp_path / "q.wav", 1.0, amplitude=0.1)
    loud = write_tone(tmp_path / "l.wav", 1.0, amplitude=0.8)
    quiet_peaks, loud_peaks = peaks_of(decode(quiet), 20), peaks_of(decode(loud), 20)
    assert len(quiet_peaks) == len(loud_peaks) == 20
    assert all(0.08 < p <= 0.11 for p in quiet_peaks)
    assert all(0.75 < p <= 0.81 for p in loud_peaks)
