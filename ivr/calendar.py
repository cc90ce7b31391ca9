"""The business calendar: working hours per weekday, public holidays and make-up working days.

Pure: ``is_open(moment)`` is given the local time; nothing here reads the clock.
A make-up working day (调休上班) is open with the make-up hours even on a weekend; a holiday is closed
even on a weekday.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import yaml

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class CalendarError(ValueError):
    """The calendar file is not valid; the message names the field."""


@dataclass(frozen=True, slots=True)
class OpeningSpan:
    start: time
    end: time

    def contains(self, moment: time) -> bool:
        return self.start <= moment < self.end


@dataclass(frozen=True, slots=True)
class SpecialDay:
    day: date
    name: str


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    hours: Mapping[str, tuple[OpeningSpan, ...]]
    holidays: tuple[SpecialDay, ...] = ()
    workdays: tuple[SpecialDay, ...] = ()
    workday_hours: tuple[OpeningSpan, ...] = ()
    timezone: str = "Asia/Shanghai"
    _holiday_set: frozenset[date] = field(default=frozenset(), repr=False, compare=False)
    _workday_set: frozenset[date] = field(default=frozenset(), repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_holiday_set", frozenset(h.day for h in self.holidays))
        object.__setattr__(self, "_workday_set", frozenset(w.day for w in self.workdays))

    def day_kind(self, day: date) -> str:
        """``holiday``, ``workday`` (make-up working day), ``weekday`` or ``weekend`` (no hours)."""
        if day in self._holiday_set:
            return "holiday"
        if day in self._workday_set:
            return "workday"
        return "weekday" if self.hours.get(WEEKDAYS[day.weekday()]) else "weekend"

    def spans_on(self, day: date) -> tuple[OpeningSpan, ...]:
        kind = self.day_kind(day)
        if kind == "holiday":
            return ()
        if kind == "workday":
            return self.workday_hours or self.hours.get("mon", ())
        return self.hours.get(WEEKDAYS[day.weekday()], ())

    def is_open(self, moment: datetime) -> bool:
        """Open at ``moment`` (local business time)."""
        clock = moment.time().replace(tzinfo=None)
        return any(span.contains(clock) for span in self.spans_on(moment.date()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "hours": {day: [_span_out(s) for s in self.hours.get(day, ())] for day in WEEKDAYS},
            "workday_hours": [_span_out(s) for s in self.workday_hours],
            "holidays": [{"date": h.day.isoformat(), "name": h.name} for h in self.holidays],
            "workdays": [{"date": w.day.isoformat(), "name": w.name} for w in self.workdays],
        }


def _span_out(span: OpeningSpan) -> list[str]:
    return [span.start.strftime("%H:%M"), _end_text(span.end)]


def _end_text(end: time) -> str:
    return "24:00" if end == time.max else end.strftime("%H:%M")


def _parse_time(text: Any, where: str) -> time:
    value = str(text).strip()
    if value == "24:00":
        return time.max
    try:
        return time.fromisoformat(value if len(value) > 4 else "0" + value)
    except ValueError:
        raise CalendarError(f"{where}: {value!r} is not a time HH:MM / 不是有效时间") from None


def _parse_spans(raw: Any, where: str) -> tuple[OpeningSpan, ...]:
    if raw in (None, "closed"):
        return ()
    if not isinstance(raw, list):
        raise CalendarError(f"{where}: expected a list of [start, end] / 应为时间段列表")
    spans = []
    for index, item in enumerate(raw):
        if not isinstance(item, list | tuple) or len(item) != 2:
            raise CalendarError(f"{where}[{index}]: expected [start, end] / 应为 [开始, 结束]")
        start, end = _parse_time(item[0], f"{where}[{index}]"), _parse_time(item[1], f"{where}[{index}]")
        if end <= start:
            raise CalendarError(f"{where}[{index}]: end before start / 结束时间早于开始时间")
        spans.append(OpeningSpan(start, end))
    return tuple(spans)


def _parse_days(raw: Any, where: str) -> tuple[SpecialDay, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise CalendarError(f"{where}: expected a list / 应为列表")
    days = []
    for index, item in enumerate(raw):
        value = item.get("date") if isinstance(item, dict) else item
        name = str(item.get("name", "")) if isinstance(item, dict) else ""
        try:
            day = value if isinstance(value, date) else date.fromisoformat(str(value))
        except ValueError:
            message = f"{where}[{index}]: {value!r} is not a date YYYY-MM-DD / 不是有效日期"
            raise CalendarError(message) from None
        days.append(SpecialDay(day, name))
    return tuple(sorted(days, key=lambda d: d.day))


def calendar_from_dict(raw: Mapping[str, Any]) -> BusinessCalendar:
    """Build and check a calendar from its YAML/JSON shape (see ``config/calendar.yaml``)."""
    if not isinstance(raw, Mapping):
        raise CalendarError("calendar: expected a mapping / 日历应为映射")
    hours_raw = raw.get("hours") or {}
    if not isinstance(hours_raw, Mapping):
        raise CalendarError("hours: expected a mapping of weekday -> spans / 应为 星期 -> 时间段")
    unknown = set(hours_raw) - set(WEEKDAYS)
    if unknown:
        raise CalendarError(f"hours: unknown weekday {sorted(unknown)} (use {', '.join(WEEKDAYS)})")
    hours = {day: _parse_spans(hours_raw.get(day), f"hours.{day}") for day in WEEKDAYS}
    holidays = _parse_days(raw.get("holidays"), "holidays")
    workdays = _parse_days(raw.get("workdays"), "workdays")
    clash = {h.day for h in holidays} & {w.day for w in workdays}
    if clash:
        first = min(clash).isoformat()
        raise CalendarError(f"{first} is both a holiday and a make-up working day / 同时为节假日和调休工作日")
    return BusinessCalendar(
        hours=hours,
        holidays=holidays,
        workdays=workdays,
        workday_hours=_parse_spans(raw.get("workday_hours"), "workday_hours"),
        timezone=str(raw.get("timezone", "Asia/Shanghai")),
    )


def load_calendar(path: Path) -> BusinessCalendar:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise CalendarError(f"{path.name}: not valid YAML: {exc}") from None
    return calendar_from_dict(raw or {})


def save_calendar(calendar: BusinessCalendar, path: Path) -> None:
    """Write atomically so a running server never reads half a file."""
    text = yaml.safe_dump(calendar.to_dict(), allow_unicode=True, sort_keys=False)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


class CalendarFile:
    """A calendar read from a file and read again when the file changes (edited by administrators)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mtime: float | None = None
        self._calendar: BusinessCalendar | None = None

    def current(self) -> BusinessCalendar:
        mtime = self.path.stat().st_mtime_ns if self.path.exists() else None
        if self._calendar is None or mtime != self._mtime:
            self._calendar = load_calendar(self.path) if mtime is not None else calendar_from_dict({})
            self._mtime = mtime
        return self._calendar

    def replace(self, calendar: BusinessCalendar) -> None:
        save_calendar(calendar, self.path)
        self._calendar, self._mtime = calendar, self.path.stat().st_mtime_ns
