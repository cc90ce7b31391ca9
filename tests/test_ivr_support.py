"""Shared helpers for the IVR tests: drive a FlowEngine with scripted caller behaviour."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ivr.calendar import load_calendar
from ivr.engine import (
    Action,
    CallContext,
    Collect,
    FlowEngine,
    GetVar,
    LookupCustomer,
    LookupOrder,
    Terminal,
)
from ivr.flow import Flow, parse_flow

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "config" / "flows"
CALENDAR = load_calendar(ROOT / "config" / "calendar.yaml")
SHANGHAI = ZoneInfo("Asia/Shanghai")
# Tuesday 2026-03-10 10:00 in Shanghai: an ordinary working morning
OPEN_TIME = datetime(2026, 3, 10, 10, 0, tzinfo=SHANGHAI)
CLOSED_TIME = datetime(2026, 3, 10, 21, 0, tzinfo=SHANGHAI)


@dataclass
class Caller:
    """What the caller presses and what the CRM knows, answering the engine's actions."""

    keys: list[str] = field(default_factory=list)
    customers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    orders: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    variables: Mapping[str, str] = field(default_factory=dict)

    def respond(self, action: Action) -> Any:
        if isinstance(action, Collect):
            return self.keys.pop(0) if self.keys else ""
        if isinstance(action, LookupCustomer):
            return self.customers.get(action.number)
        if isinstance(action, LookupOrder):
            return self.orders.get(action.order_no)
        if isinstance(action, GetVar):
            return self.variables.get(action.name)
        return None


def flow_from(text: str, name: str = "test") -> Flow:
    return parse_flow(text, name)


def context(caller: str = "13800138000", now: datetime = OPEN_TIME, **kw: Any) -> CallContext:
    return CallContext(call_id="1795451209.1", caller=caller, now=now, calendar=CALENDAR, **kw)


def walk(flow: Flow, ctx: CallContext, caller: Caller) -> tuple[FlowEngine, list[Action], Terminal]:
    engine = FlowEngine(flow, ctx)
    actions: list[Action] = []
    action = engine.start()
    while not action.terminal:
        actions.append(action)
        action = engine.resume(caller.respond(action))
    assert isinstance(action, Terminal)
    return engine, actions, action
