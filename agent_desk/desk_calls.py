"""Which live channels a desk command may touch, and what waits in the agent's message box.

``parties_of`` reads the call tracker's snapshot (plain data) and answers, for one call and one agent:
the agent's own leg, the other party's leg and every channel of the call; an agent that is not in the call
gets ``NotYourCall``. It is pure: the snapshot is passed in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session


class NotYourCall(Exception):
    """The agent asked to act on a call (or channel) it does not take part in."""


@dataclass(frozen=True, slots=True)
class CallParties:
    call_id: str
    own: str  # the agent's leg
    remote: str  # the leg of the party the agent talks to (the one a blind transfer moves)
    channels: frozenset[str]


def _channel_name(row: dict[str, Any]) -> str | None:
    for key in ("channel", "name", "Channel"):
        value = row.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def _channel_call(row: dict[str, Any]) -> str | None:
    for key in ("call_id", "linkedid", "Linkedid"):
        value = row.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def snapshot_channels(snapshot: Any) -> Iterator[dict[str, Any]]:
    """Every channel row of a tracker snapshot, whether channels are a list, a mapping, or under calls."""
    if not isinstance(snapshot, dict):
        return
    channels = snapshot.get("channels")
    if isinstance(channels, dict):
        for name, row in channels.items():
            if isinstance(row, dict):
                yield {"channel": name, **row} if _channel_name(row) is None else row
    elif isinstance(channels, list):
        yield from (row for row in channels if isinstance(row, dict))
    calls = snapshot.get("calls")
    rows = calls.values() if isinstance(calls, dict) else calls if isinstance(calls, list) else ()
    for call in rows:
        if not isinstance(call, dict):
            continue
        for row in call.get("channels") or ():
            if isinstance(row, dict):
                yield {"call_id": call.get("call_id"), **row}


def is_agent_leg(row: dict[str, Any], extension: str) -> bool:
    """Whether a channel is the agent's: by the tracker's extension/agent field, else by its name."""
    for key in ("extension", "agent"):
        if row.get(key) == extension:
            return True
    name = _channel_name(row) or ""
    pattern = rf"^(?:Local/{re.escape(extension)}@agents|(?:PJSIP|SIP|IAX2)/{re.escape(extension)}-)"
    return re.match(pattern, name) is not None


def _remote_rank(name: str) -> tuple[int, str]:
    # A caller enters through a Local pair whose ;2 half runs the queue and is bridged to the agent
    # (transcript 06 redirects that half); a trunk or phone channel is a party by itself.
    if name.startswith("Local/"):
        return (0 if name.endswith(";2") else 1, name)
    return (0, name)


def parties_of(snapshot: Any, call_id: str, extension: str) -> CallParties:
    """The agent's leg and the other party's leg in ``call_id``; ``NotYourCall`` if the agent is not in it.

    The other party is the channel sharing a bridge with the agent's leg when the snapshot says so, else
    another party of the call.
    """
    rows = [r for r in snapshot_channels(snapshot) if _channel_call(r) == call_id and _channel_name(r)]
    if not rows:
        raise NotYourCall(f"call {call_id} is not in progress")
    names = {_channel_name(r) or "" for r in rows}
    own = {_channel_name(r) or "" for r in rows if is_agent_leg(r, extension)}
    if not own:
        raise NotYourCall(f"extension {extension} is not in call {call_id}")
    bridges = {r.get("bridge") for r in rows if _channel_name(r) in own and r.get("bridge")}
    bridged = {_channel_name(r) or "" for r in rows if r.get("bridge") in bridges} - own
    others = sorted(bridged or (names - own), key=_remote_rank)
    own_first = sorted(own, key=lambda n: (not n.endswith(";1"), n))
    return CallParties(call_id, own_first[0], others[0] if others else own_first[0], frozenset(names))


def agent_channel(snapshot: Any, extension: str) -> str | None:
    """The channel of the agent's current call (for a supervisor's ChanSpy), or None."""
    names = sorted(
        (_channel_name(r) or "" for r in snapshot_channels(snapshot) if is_agent_leg(r, extension)),
        key=lambda n: (not n.endswith(";1"), n),
    )
    return names[0] if names else None


def messages_for(session: Session, user: Any, now: datetime) -> dict[str, Any]:
    """The message box: open tickets assigned to the agent, order steps waiting for the agent (the
    current step names the agent or one of its roles), the announcements shown now, and for those who
    keep the stock (stock.read) ``stock_alerts``: the products at or under their alert level."""
    from crm_core.models import Announcement, Order, Ticket, Workflow, WorkflowStep

    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.assignee_id == user.id, Ticket.status.notin_(("resolved", "closed")))
        .order_by(Ticket.due_at.is_(None), Ticket.due_at, Ticket.id.desc())
        .limit(50)
    ).all()
    role_ids = [role.id for role in user.roles]
    waiting = session.execute(
        select(Order, WorkflowStep.name)
        .join(Workflow, Workflow.id == Order.workflow_id)
        .join(
            WorkflowStep,
            (WorkflowStep.workflow_id == Workflow.id) & (WorkflowStep.position == Order.step_position),
        )
        .where(
            Order.status == "in_approval",
            or_(WorkflowStep.assignee_user_id == user.id, WorkflowStep.assignee_role_id.in_(role_ids)),
        )
        .order_by(Order.id.desc())
        .limit(50)
    ).all()
    naive_now = now.astimezone(UTC).replace(tzinfo=None)
    notices = session.scalars(
        select(Announcement)
        .where(or_(Announcement.starts_at.is_(None), Announcement.starts_at <= naive_now))
        .where(or_(Announcement.ends_at.is_(None), Announcement.ends_at >= naive_now))
        .order_by(Announcement.id.desc())
        .limit(20)
    ).all()
    box = {
        "tickets": [_row(t, ("id", "title", "status", "priority", "due_at", "customer_id")) for t in tickets],
        "order_steps": [
            {**_row(o, ("id", "number", "status", "customer_id")), "step": step} for o, step in waiting
        ],
        "announcements": [_row(a, ("id", "title", "body", "starts_at", "ends_at")) for a in notices],
    }
    if user.has_permission("stock", "read"):  # those who keep the stock: products at or under their alert level
        from dataclasses import asdict

        from crm_core.services.purchasing import stock_alerts

        box["stock_alerts"] = [asdict(a) for a in stock_alerts(session, user)[:50]]
    return box


def _row(obj: Any, keys: tuple[str, ...]) -> dict[str, Any]:
    out = {}
    for key in keys:
        value = getattr(obj, key, None)
        out[key] = value.isoformat() if isinstance(value, datetime) else value
    return out
