"""The sans-I/O AMI parser on the recorded captures, on every way TCP can cut them, and on garbage."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cti.ami.parser import AMIParser, parse_capture

FIXTURES = Path(__file__).parent / "fixtures" / "ami"
CAPTURES = sorted(FIXTURES.glob("0*.raw"))


def _recorded(raw: Path) -> tuple[str, list[dict]]:
    """The banner and the messages of the transcript's .jsonl, without the ``_`` keys."""
    banner = ""
    messages = []
    for line in raw.with_suffix(".jsonl").read_text(encoding="utf-8").splitlines():
        item = json.loads(line)
        if item["_kind"] == "banner":
            banner = item["_banner"]
            continue
        messages.append({k: v for k, v in item.items() if not k.startswith("_")})
    return banner, messages


def _feed_in_chunks(data: bytes, sizes: list[int], max_frame: int = 1 << 20) -> tuple[AMIParser, list[dict]]:
    parser = AMIParser(max_frame_bytes=max_frame)
    out: list[dict] = []
    pos = 0
    for size in sizes:
        out.extend(parser.feed(data[pos : pos + size]))
        pos += size
    out.extend(parser.feed(data[pos:]))
    return parser, out


@pytest.mark.parametrize("raw", CAPTURES, ids=lambda p: p.stem)
def test_whole_capture_equals_the_transcript(raw: Path) -> None:
    banner, expected = _recorded(raw)
    assert parse_capture(raw.read_bytes()) == expected
    parser = AMIParser()
    parser.feed(raw.read_bytes())
    assert parser.banner == banner
    assert parser.stats.malformed == parser.stats.oversized == 0


@pytest.mark.parametrize("raw", CAPTURES[:3], ids=lambda p: p.stem)
def test_one_byte_at_a_time(raw: Path) -> None:
    data = raw.read_bytes()
    _, expected = _recorded(raw)
    parser = AMIParser()
    out = []
    for i in range(len(data)):
        out.extend(parser.feed(data[i : i + 1]))
    assert out == expected


@pytest.mark.parametrize("raw", CAPTURES, ids=lambda p: p.stem)
def test_random_chunks(raw: Path) -> None:
    data = raw.read_bytes()
    _, expected = _recorded(raw)
    rng = random.Random(raw.name)
    for _ in range(5):
        sizes = [rng.randint(1, 2000) for _ in range(len(data) // 500)]
        _, out = _feed_in_chunks(data, sizes)
        assert out == expected


def test_chinese_caller_name_split_inside_a_character_survives() -> None:
    frame = (
        "Event: Newchannel\r\nChannel: PJSIP/trunk-00000001\r\nCallerIDNum: 13800138000\r\n"
        "CallerIDName: 张三丰客服\r\nUniqueid: 1.1\r\n\r\n"
    ).encode()
    start = frame.index("张".encode())
    for cut in range(start, start + len("张三丰".encode()) + 1):
        parser = AMIParser(expect_banner=False)
        out = parser.feed(frame[:cut]) + parser.feed(frame[cut:])
        assert out == [
            {
                "Event": "Newchannel",
                "Channel": "PJSIP/trunk-00000001",
                "CallerIDNum": "13800138000",
                "CallerIDName": "张三丰客服",
                "Uniqueid": "1.1",
            }
        ]


def test_empty_value_of_the_last_header_is_kept() -> None:
    parser = AMIParser(expect_banner=False)
    out = parser.feed(b"Event: QueueMemberPause\r\nQueue: support\r\nPausedReason: \r\n\r\n")
    assert out == [{"Event": "QueueMemberPause", "Queue": "support", "PausedReason": ""}]


def test_repeated_header_becomes_a_list() -> None:
    parser = AMIParser(expect_banner=False)
    out = parser.feed(b"Event: UserEvent\r\nVariable: A=1\r\nVariable: B=2\r\n\r\n")
    assert out == [{"Event": "UserEvent", "Variable": ["A=1", "B=2"]}]


def test_oversized_and_malformed_frames_are_counted_and_skipped() -> None:
    parser = AMIParser(max_frame_bytes=100, expect_banner=False)
    out = parser.feed(b"Event: Big\r\nData: " + b"x" * 300 + b"\r\n\r\n")
    out += parser.feed(b"NoColonLine\r\nKey: value\r\n\r\nEvent: Hangup\r\nUniqueid: 1.2\r\n\r\n")
    assert out == [{"Event": "Hangup", "Uniqueid": "1.2"}]
    assert parser.stats.oversized == 1
    assert parser.stats.malformed == 1
    assert parser.stats.bad_lines == 1


MAX_FRAME = 64


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(min_value=1, max_value=97), max_size=60))
def test_arbitrary_bytes_in_arbitrary_chunks_never_raise(data: bytes, cuts: list[int]) -> None:
    parser = AMIParser(max_frame_bytes=MAX_FRAME)
    pos = 0
    for size in [*cuts, len(data)]:
        messages = parser.feed(data[pos : pos + size])
        pos += size
        assert len(parser._buf) <= MAX_FRAME + 3
        for msg in messages:
            assert "Event" in msg or "Response" in msg
    assert parser.stats.bytes_in == len(data)


line_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=40)
frame_lines = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["Event", "Response", "Channel", "Uniqueid", "X"]), line_text).map(
            lambda kv: f"{kv[0]}: {kv[1]}"
        ),
        line_text,
    ),
    max_size=6,
)


@settings(max_examples=300, deadline=None)
@given(frames=st.lists(frame_lines, max_size=12), seed=st.integers(min_value=0, max_value=2**16))
def test_frames_of_random_lines_are_parsed_or_counted(frames: list[list[str]], seed: int) -> None:
    # lines without CR/LF; empty lines dropped so that a frame never ends early
    texts = ["\r\n".join(x for x in lines if x).encode() for lines in frames]
    # a frame within a separator's length of the limit may go either way when the separator is cut
    assume(all(not MAX_FRAME - 4 < len(t) <= MAX_FRAME + 4 for t in texts))
    payload = b"".join(t + b"\r\n\r\n" for t in texts)
    whole = parse_capture(payload, max_frame_bytes=MAX_FRAME)
    rng = random.Random(seed)
    sizes = [rng.randint(1, 50) for _ in range(len(payload) // 10)]
    parser, chunked = _feed_in_chunks(payload, sizes, MAX_FRAME)
    assert chunked == whole  # every frame ends with a separator: nothing is left over
    stats = parser.stats
    assert stats.messages == len(chunked)
    assert stats.messages + stats.malformed + stats.oversized <= len(frames)
    assert len(parser._buf) <= MAX_FRAME + 3
