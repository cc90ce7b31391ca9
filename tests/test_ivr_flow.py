"""Flow files: loading, line-numbered validation errors, live reload, and the business calendar."""

from __future__ import annotations

import os
from datetime import date, datetime
from pathlib import Path

import pytest
from test_ivr_support import CALENDAR, FLOWS, SHANGHAI

from ivr.calendar import CalendarError, CalendarFile, calendar_from_dict
from ivr.flow import FlowLibrary, FlowNotFound, FlowValidationError, MenuNode, load_flow, parse_flow

FIXTURES = Path(__file__).parent / "fixtures" / "ivr"


def test_sample_flows_are_valid() -> None:
    report = FlowLibrary(FLOWS).check_all()
    assert set(report) >= {"ivr", "survey", "after_hours"}
    assert all(problem is None for problem in report.values()), report


def test_broken_flow_reports_every_problem_with_its_line() -> None:
    with pytest.raises(FlowValidationError) as caught:
        load_flow(FIXTURES / "broken_flow.yaml")
    lines = caught.value.lines("en")
    expected = {
        11: "nodes.menu.timeout: value out of range",
        13: "nodes.menu.options.1: points to unknown node 'sales'",
        14: "nodes.menu.options.x: invalid key 'x'",
        18: "nodes.support.colour: unknown field 'colour'",
        23: "nodes.order.pattern: invalid regular expression",
        26: "nodes.mystery.type: unknown node type 'teleport'",
    }
    for line, text in expected.items():
        assert any(msg.startswith(f"broken_flow.yaml:{line}: {text}") for msg in lines), (line, lines)
    assert len(lines) == len(expected)


def test_messages_default_to_chinese() -> None:
    with pytest.raises(FlowValidationError) as caught:
        parse_flow("nodes:\n  a: {type: play, file: x}\n", "t")
    assert str(caught.value) == "t.yaml:2: nodes.a: 缺少必填字段 next"


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(FlowValidationError) as caught:
        parse_flow("nodes:\n  a: {type: play\n  b: [\n", "t")
    assert caught.value.issues[0].code == "yaml" and caught.value.issues[0].line >= 2


def test_missing_start_and_empty_flow() -> None:
    with pytest.raises(FlowValidationError) as caught:
        parse_flow("start: nowhere\nnodes:\n  a: {type: hangup}\n", "t")
    assert caught.value.lines("en") == ["t.yaml:1: start: points to unknown node 'nowhere'"]
    with pytest.raises(FlowValidationError):
        parse_flow("description: nothing\n", "t")


def test_branch_tests_are_checked() -> None:
    text = "nodes:\n  b:\n    type: branch\n    rules:\n"
    text += "      - if: {caller: famous}\n        next: b\n    else: b\n"
    with pytest.raises(FlowValidationError) as caught:
        parse_flow(text, "t")
    assert caught.value.issues[0].line == 5 and caught.value.issues[0].code == "test"


def test_library_reloads_changed_files_and_keeps_bad_ones_out(tmp_path: Path) -> None:
    library = FlowLibrary(tmp_path)
    path = tmp_path / "demo.yaml"
    path.write_text("nodes:\n  m: {type: menu, prompt: p1, options: {'1': h}}\n  h: {type: hangup}\n")
    first = library.get("demo").nodes["m"]
    assert isinstance(first, MenuNode) and first.prompt == "p1"
    path.write_text("nodes:\n  m: {type: menu, prompt: p2, options: {'1': h}}\n  h: {type: hangup}\n")
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    second = library.get("demo").nodes["m"]
    assert isinstance(second, MenuNode) and second.prompt == "p2"
    path.write_text("nodes: [")
    os.utime(path, ns=(path.stat().st_mtime_ns + 2 * 10**9,) * 2)
    with pytest.raises(FlowValidationError):
        library.get("demo")
    with pytest.raises(FlowNotFound):
        library.get("nope")
    with pytest.raises(FlowNotFound):
        library.get("../etc/passwd")


def test_library_save_rejects_invalid_text(tmp_path: Path) -> None:
    library = FlowLibrary(tmp_path)
    with pytest.raises(FlowValidationError):
        library.save("new", "nodes:\n  a: {type: play}\n")
    assert not (tmp_path / "new.yaml").exists()
    library.save("new", "nodes:\n  a: {type: hangup}\n")
    assert library.names() == ["new"]


# --- business calendar ---------------------------------------------------------------------------


def at(y: int, m: int, d: int, hh: int, mm: int = 0) -> datetime:
    return datetime(y, m, d, hh, mm, tzinfo=SHANGHAI)


def test_holiday_on_a_weekday_is_closed() -> None:
    assert date(2026, 1, 1).weekday() == 3  # a Thursday
    assert CALENDAR.day_kind(date(2026, 1, 1)) == "holiday"
    assert not CALENDAR.is_open(at(2026, 1, 1, 10))
    assert not CALENDAR.is_open(at(2026, 10, 5, 10))  # National Day week, a Monday


def test_makeup_working_sunday_is_open() -> None:
    assert date(2026, 1, 4).weekday() == 6  # a Sunday
    assert CALENDAR.day_kind(date(2026, 1, 4)) == "workday"
    assert CALENDAR.is_open(at(2026, 1, 4, 10))
    assert not CALENDAR.is_open(at(2026, 1, 4, 19))
    assert CALENDAR.is_open(at(2026, 9, 20, 9))  # make-up Sunday before National Day


def test_ordinary_weekday_hours_and_weekend() -> None:
    assert CALENDAR.is_open(at(2026, 3, 10, 9, 0))
    assert not CALENDAR.is_open(at(2026, 3, 10, 8, 59))
    assert not CALENDAR.is_open(at(2026, 3, 10, 18, 0))
    assert not CALENDAR.is_open(at(2026, 3, 14, 10))  # an ordinary Saturday


def test_calendar_round_trips_and_rejects_bad_input(tmp_path: Path) -> None:
    again = calendar_from_dict(CALENDAR.to_dict())
    assert again == CALENDAR
    with pytest.raises(CalendarError, match=r"hours\.mon"):
        calendar_from_dict({"hours": {"mon": [["18:00", "09:00"]]}})
    with pytest.raises(CalendarError, match="both"):
        calendar_from_dict({"holidays": ["2026-01-04"], "workdays": ["2026-01-04"]})
    with pytest.raises(CalendarError, match="funday"):
        calendar_from_dict({"hours": {"funday": []}})
    source = CalendarFile(tmp_path / "calendar.yaml")
    assert not source.current().is_open(at(2026, 3, 10, 10))  # no file: no hours
    source.replace(calendar_from_dict({"hours": {"tue": [["00:00", "24:00"]]}}))
    assert CalendarFile(tmp_path / "calendar.yaml").current().is_open(at(2026, 3, 10, 23, 59))
