"""The parser's fast path (whole reads decoded at once, lines split through a cache) gives exactly what
parsing each frame on its own by the general rules (``_parse_lines``, held to the transcripts by
test_ami_parser) gives: same messages, same counters."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cti.ami import parser as parser_module
from cti.ami.parser import AMIParser, Message


def reference(data: bytes) -> tuple[list[Message], int, int]:
    """Each frame decoded alone and read line by line by the general rules: the messages, malformed and
    bad-line counts."""
    general = AMIParser(expect_banner=False)
    messages: list[Message] = []
    malformed = 0
    for frame in data.split(b"\r\n\r\n")[:-1]:
        msg = general._parse_lines(frame.decode("utf-8", "replace").split("\r\n"))
        if "Event" in msg or "Response" in msg:
            messages.append(msg)
        elif msg:
            malformed += 1
    return messages, malformed, general.stats.bad_lines


def parsed(data: bytes, cut: int) -> tuple[list[Message], int, int]:
    parser = AMIParser(expect_banner=False)
    messages = [m for i in range(0, len(data), cut) for m in parser.feed(data[i : i + cut])]
    return messages, parser.stats.malformed, parser.stats.bad_lines


FRAMES = (
    b"Event: Newchannel\r\nChannel: PJSIP/1001-00000001\r\nCallerIDName: \xe5\xbc\xa0\xe4\xb8\x89\r\nUniqueid: 1.1",
    b"Event: Newstate\r\nChannel: PJSIP/1001-00000001\r\nUniqueid: 1.1\r\nChannelState: 6",
    b"Event: VarSet\r\nVariable: X\r\nValue: a: b: c\r\nChannel: PJSIP/1001-00000001",
    b"Event: UserEvent\r\nUserEvent: mark\r\nno colon here\r\nChannel: PJSIP/1001-00000001",
    b"Event: UserEvent\r\nUserEvent: mark\r\nno colon here\r\nChannel: PJSIP/1001-00000001",
    b"Event: Cdr\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nUniqueid: 1.1",
    b"Event: Cdr\r\nChanVariable: A=1\r\nChanVariable: B=2\r\nUniqueid: 1.1",
    b"Key:NoSpace\r\nEvent: Odd\r\nEmpty: ",
    b"Privilege: call,all\r\nUniqueid: 1.1",
    b"Event: Bad\xff\xfe\r\nValue: \xe5\xbc",
    b"Response: Success\r\nMessage: Pong",
)


@pytest.mark.parametrize("cut", [1, 7, 64, 1 << 16])
def test_recurring_lines_give_what_each_frame_alone_gives(cut: int) -> None:
    data = b"".join(frame + b"\r\n\r\n" for frame in FRAMES * 3)
    assert parsed(data, cut) == reference(data)


def test_a_full_cache_is_emptied_and_parsing_goes_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parser_module, "LINE_CACHE_SIZE", 3)
    data = b"".join(frame + b"\r\n\r\n" for frame in FRAMES * 2)
    parser = AMIParser(expect_banner=False)
    assert (parser.feed(data), parser.stats.malformed, parser.stats.bad_lines) == reference(data)
    assert len(parser._lines) <= 3


def test_long_lines_are_split_but_never_kept() -> None:
    value = "x" * (parser_module.LINE_CACHE_MAX_CHARS + 1)
    parser = AMIParser(expect_banner=False)
    (msg,) = parser.feed(f"Event: UserEvent\r\nData: {value}\r\n\r\n".encode())
    assert msg == {"Event": "UserEvent", "Data": value}
    assert set(parser._lines) == {"Event: UserEvent"}


line = st.one_of(
    st.sampled_from(["Event: Newstate", "Uniqueid: 1.1", "Event: Hangup", "Response: Success", "bad", "", "K:v"]),
    st.text(alphabet="ab: \u5f20\r", max_size=12),
)


@settings(max_examples=200, deadline=None)
@given(
    frames=st.lists(st.lists(line, min_size=1, max_size=6), max_size=10),
    cut=st.integers(min_value=1, max_value=40),
)
def test_random_recurring_lines_match_the_reference(frames: list[list[str]], cut: int) -> None:
    data = b"".join("\r\n".join(lines).encode() + b"\r\n\r\n" for lines in frames)
    assert parsed(data, cut) == reference(data)
