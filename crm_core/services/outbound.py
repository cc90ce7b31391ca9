"""Outbound services: campaigns and their leads, the retry policy, do-not-call, callbacks, dispositions, scripts.

The dialer (``cti.dialer.shell``) and the REST routers (``agent_desk.api.outbound*``) share these rules.
Times are naive UTC. Every function works inside the caller's session and leaves the commit to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from crm_core.errors import Conflict, InvalidInput, NotFound
from crm_core.models import (
    AgentScript,
    Attempt,
    Callback,
    CallDisposition,
    Campaign,
    Customer,
    DispositionCode,
    DncNumber,
    Lead,
    Phone,
    User,
)
from crm_core.permissions import scope_clause
from crm_core.phone import PhoneError, normalize

MODES = ("preview", "progressive", "predictive")
STATUSES = ("draft", "running", "paused", "finished")
RETRY_OUTCOMES = ("busy", "no_answer", "failed", "machine", "dropped")
DEFAULT_RETRY: dict[str, dict[str, int]] = {
    "busy": {"max": 3, "delay_s": 600},
    "no_answer": {"max": 3, "delay_s": 1800},
    "failed": {"max": 2, "delay_s": 900},
    "machine": {"max": 2, "delay_s": 3600},
    "dropped": {"max": 3, "delay_s": 300},
}
DEFAULT_SCHEDULE: dict[str, Any] = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00", "calendar": True}
OPEN_STATES = ("new", "retry")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]{0,63})\}")


class DoNotCall(Conflict):
    """The number is on a do-not-call list."""

    def __init__(self, number: str, campaign: bool = False) -> None:
        where = ("本活动的", "this campaign's") if campaign else ("", "the")
        super().__init__(
            f"号码 {number} 在{where[0]}免打扰名单中，不能拨打 / {number} is on {where[1]} do-not-call list"
        )
        self.number = number


# --- numbers and do-not-call --------------------------------------------------------------------------
def phone_key(number: str, region: str = "CN") -> str:
    """The phone index's key of ``number`` (crm_core.phone), or its digits when it has none."""
    try:
        return normalize(number, region).key
    except PhoneError:
        return re.sub(r"[^0-9+]", "", number)


def dnc_match(session: Session, number: str, campaign_id: int | None = None, region: str = "CN") -> DncNumber | None:
    """The do-not-call entry that forbids ``number``: the global list, or the campaign's."""
    key = phone_key(number, region)
    scope: ColumnElement[bool] = DncNumber.campaign_id.is_(None)
    if campaign_id is not None:
        scope = or_(scope, DncNumber.campaign_id == campaign_id)
    return session.scalar(select(DncNumber).where(DncNumber.phone_key == key, scope).limit(1))


def ensure_dialable(session: Session, number: str, campaign_id: int | None = None, region: str = "CN") -> None:
    """Raise ``DoNotCall`` when ``number`` may not be called."""
    found = dnc_match(session, number, campaign_id, region)
    if found is not None:
        raise DoNotCall(number, campaign=found.campaign_id is not None)


def add_dnc(
    session: Session, numbers: Iterable[str], campaign_id: int | None = None, note: str = "", region: str = "CN"
) -> int:
    """Put numbers on the list (global when ``campaign_id`` is None); returns how many were new."""
    added = 0
    seen: set[str] = set()
    for raw in numbers:
        raw = raw.strip()
        key = phone_key(raw, region) if raw else ""
        if not key or key in seen:
            continue
        seen.add(key)
        scope = DncNumber.campaign_id.is_(None) if campaign_id is None else DncNumber.campaign_id == campaign_id
        if session.scalar(select(DncNumber.id).where(DncNumber.phone_key == key, scope)) is None:
            session.add(DncNumber(phone_key=key, raw=raw[:50], campaign_id=campaign_id, note=note[:200]))
            added += 1
    session.flush()
    return added


def remove_dnc(session: Session, entry_id: int) -> None:
    entry = session.get(DncNumber, entry_id)
    if entry is None:
        raise NotFound("免打扰号码不存在 / No such do-not-call number")
    session.delete(entry)


# --- campaigns ------------------------------------------------------------------------------------------
def _check_campaign(data: Mapping[str, Any]) -> None:
    if data.get("mode", "progressive") not in MODES:
        raise InvalidInput("拨号方式无效 / Unknown dialing mode", "mode")
    if data.get("mode") in ("progressive", "predictive") and not data.get("queue"):
        raise InvalidInput("自动外呼需要一个队列 / Progressive and predictive campaigns need a queue", "queue")
    cap = data.get("abandon_cap_pct", 3.0)
    if not 0.0 <= float(cap) <= 20.0:
        raise InvalidInput("放弃率上限应在 0 到 20% 之间 / The abandon cap must be 0-20 %", "abandon_cap_pct")
    for outcome in data.get("retry", {}) or {}:
        if outcome not in RETRY_OUTCOMES:
            raise InvalidInput(f"未知的重拨结果 / Unknown retry outcome: {outcome}", "retry")


def create_campaign(session: Session, data: Mapping[str, Any], user_id: int | None = None) -> Campaign:
    _check_campaign(data)
    if session.scalar(select(Campaign.id).where(Campaign.name == data["name"])) is not None:
        raise Conflict("活动名称已存在 / A campaign of that name exists")
    campaign = Campaign(
        name=data["name"],
        mode=data.get("mode", "progressive"),
        caller_id=data.get("caller_id", ""),
        queue=data.get("queue", ""),
        agents=list(data.get("agents") or []),
        schedule={**DEFAULT_SCHEDULE, **(data.get("schedule") or {})},
        retry={**DEFAULT_RETRY, **(data.get("retry") or {})},
        abandon_cap_pct=float(data.get("abandon_cap_pct", 3.0)),
        max_ratio=float(data.get("max_ratio", 3.0)),
        amd=bool(data.get("amd", False)),
        script_id=data.get("script_id"),
        disposition_required=bool(data.get("disposition_required", True)),
        created_by=user_id,
    )
    session.add(campaign)
    session.flush()
    return campaign


def update_campaign(session: Session, campaign_id: int, data: Mapping[str, Any]) -> Campaign:
    campaign = get_campaign(session, campaign_id)
    merged = {**campaign_dict(campaign), **data}
    _check_campaign(merged)
    for key in (
        "name",
        "mode",
        "caller_id",
        "queue",
        "agents",
        "abandon_cap_pct",
        "max_ratio",
        "amd",
        "script_id",
        "disposition_required",
    ):
        if key in data:
            setattr(campaign, key, data[key])
    if "schedule" in data:
        campaign.schedule = {**DEFAULT_SCHEDULE, **(data["schedule"] or {})}
    if "retry" in data:
        campaign.retry = {**DEFAULT_RETRY, **(data["retry"] or {})}
    session.flush()
    return campaign


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("外呼活动不存在 / No such campaign")
    return campaign


def set_status(session: Session, campaign_id: int, status: str) -> Campaign:
    """running / paused / finished. Pausing keeps every lead where it is; calls ringing finish normally."""
    if status not in STATUSES:
        raise InvalidInput("状态无效 / Unknown status", "status")
    campaign = get_campaign(session, campaign_id)
    if status == "running" and campaign.mode != "preview" and not campaign.queue:
        raise InvalidInput("自动外呼需要一个队列 / Progressive and predictive campaigns need a queue", "queue")
    campaign.status = status
    session.flush()
    return campaign


def campaign_dict(campaign: Campaign) -> dict[str, Any]:
    keys = (
        "id",
        "name",
        "status",
        "mode",
        "caller_id",
        "queue",
        "agents",
        "schedule",
        "retry",
        "abandon_cap_pct",
        "max_ratio",
        "amd",
        "script_id",
        "disposition_required",
    )
    return {key: getattr(campaign, key) for key in keys}


def lead_counts(session: Session, campaign_id: int) -> dict[str, int]:
    rows = session.execute(
        select(Lead.state, func.count()).where(Lead.campaign_id == campaign_id).group_by(Lead.state)
    ).all()
    return {state: count for state, count in rows}


# --- schedule (pure) -------------------------------------------------------------------------------------
def _clock(text: str, default: time) -> time:
    try:
        hours, minutes = str(text).split(":")
        return time(int(hours), int(minutes))
    except (ValueError, TypeError):
        return default


def in_schedule(schedule: Mapping[str, Any], local: datetime, working_day: bool | None = None) -> bool:
    """Whether a campaign may dial at local time ``local``: on its days (or, when it follows the business
    calendar and ``working_day`` is known, on the calendar's working days: no holidays, make-up working
    days included) within its hours."""
    if schedule.get("calendar", True) and working_day is not None:
        if not working_day:
            return False
    elif local.weekday() not in schedule.get("days", DEFAULT_SCHEDULE["days"]):
        return False
    start = _clock(schedule.get("start", "09:00"), time(9, 0))
    end = _clock(schedule.get("end", "18:00"), time(18, 0))
    return start <= local.time().replace(tzinfo=None) < end


def local_time(now_utc: datetime, tz: str) -> datetime:
    """Naive UTC -> the local time of ``tz``."""
    return now_utc.replace(tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo(tz))


# --- leads ------------------------------------------------------------------------------------------------
def add_leads(session: Session, campaign_id: int, rows: Iterable[Mapping[str, Any]], region: str = "CN") -> int:
    """Append leads (``phone``, optional ``name``, ``customer_id``, ``fields``) in the order given."""
    get_campaign(session, campaign_id)
    position = session.scalar(select(func.max(Lead.position)).where(Lead.campaign_id == campaign_id)) or 0
    added = 0
    for row in rows:
        phone = str(row.get("phone") or "").strip()
        if not phone:
            continue
        position += 1
        session.add(
            Lead(
                campaign_id=campaign_id,
                customer_id=row.get("customer_id"),
                position=position,
                name=str(row.get("name") or "")[:200],
                phone=phone[:50],
                phone_key=phone_key(phone, region),
                fields=dict(row.get("fields") or {}),
            )
        )
        added += 1
    session.flush()
    return added


def leads_from_customers(session: Session, campaign_id: int, customer_ids: Iterable[int], region: str = "CN") -> int:
    """One lead per customer (its first indexed number), the customer's fields for the script."""
    ids = list(customer_ids)
    customers = session.scalars(select(Customer).where(Customer.id.in_(ids))).all() if ids else []
    phones: dict[int, str] = {}
    for customer_id, raw in session.execute(
        select(Phone.customer_id, Phone.raw).where(Phone.customer_id.in_(ids)).order_by(Phone.id)
    ):
        phones.setdefault(customer_id, raw)
    rows = [
        {"phone": phones[c.id], "name": c.name, "customer_id": c.id, "fields": customer_fields(c)}
        for c in customers
        if c.id in phones
    ]
    return add_leads(session, campaign_id, rows, region)


def customer_fields(customer: Customer) -> dict[str, Any]:
    """What a script may name: the customer's own columns and custom fields."""
    out: dict[str, Any] = {k: getattr(customer, k) for k in ("name", "category", "region", "level", "address")}
    out.update({str(k): v for k, v in (customer.custom or {}).items()})
    return out


def due_leads(session: Session, campaign_id: int, now: datetime, limit: int) -> list[Lead]:
    """Leads that may be dialled at ``now``, in list order (retries whose time came first)."""
    if limit <= 0:
        return []
    query = (
        select(Lead)
        .where(Lead.campaign_id == campaign_id, Lead.state.in_(OPEN_STATES))
        .where(or_(Lead.next_at.is_(None), Lead.next_at <= now))
        .order_by(Lead.position)
        .limit(limit)
    )
    return list(session.scalars(query))


def count_due(session: Session, campaign_id: int, now: datetime) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Lead)
            .where(Lead.campaign_id == campaign_id, Lead.state.in_(OPEN_STATES))
            .where(or_(Lead.next_at.is_(None), Lead.next_at <= now))
        )
        or 0
    )


def skip_if_dnc(session: Session, lead: Lead, region: str = "CN") -> bool:
    """Mark the lead ``dnc`` (never dialled) when its number is on a list; True when it was."""
    if dnc_match(session, lead.phone, lead.campaign_id, region) is None:
        return False
    lead.state, lead.last_outcome = "dnc", "dnc"
    session.flush()
    return True


def start_attempt(session: Session, lead: Lead, now: datetime, agent: str = "") -> Attempt:
    lead.state = "dialing"
    lead.attempts += 1
    lead.agent = agent or lead.agent
    attempt = Attempt(campaign_id=lead.campaign_id, lead_id=lead.id, number=lead.phone, started_at=now, agent=agent)
    session.add(attempt)
    session.flush()
    return attempt


def attempt_for_call(session: Session, call_id: str) -> Attempt | None:
    return session.scalar(select(Attempt).where(Attempt.call_id == call_id).order_by(Attempt.id.desc()).limit(1))


def set_attempt_call(session: Session, attempt_id: int, call_id: str) -> None:
    attempt = session.get(Attempt, attempt_id)
    if attempt is not None:
        attempt.call_id = call_id
        lead = session.get(Lead, attempt.lead_id)
        if lead is not None:
            lead.last_call_id = call_id
        session.flush()


def connect_attempt(session: Session, attempt_id: int, agent: str, now: datetime) -> Attempt | None:
    """The customer was answered and is talking to ``agent``."""
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        return None
    attempt.outcome, attempt.agent = "connected", agent
    attempt.answered_at = attempt.answered_at or now
    lead = session.get(Lead, attempt.lead_id)
    if lead is not None:
        lead.state, lead.last_outcome, lead.agent = "connected", "connected", agent
    session.flush()
    return attempt


def finish_attempt(session: Session, attempt_id: int, outcome: str, now: datetime) -> Lead | None:
    """The attempt ended with ``outcome``; the lead is retried per the campaign's policy, or closed.

    A connected call keeps its lead ``connected`` until the agent's disposition (``record_disposition``);
    a connected call that ends without one is closed as ``done``.
    """
    attempt = session.get(Attempt, attempt_id)
    if attempt is None:
        return None
    if attempt.outcome == "connected":
        outcome = "connected"
    attempt.outcome = outcome
    attempt.ended_at = now
    lead = session.get(Lead, attempt.lead_id)
    if lead is None:
        return None
    lead.last_outcome = outcome
    if outcome == "connected":
        if lead.state == "connected" and lead.disposition:
            lead.state = "done"
        session.flush()
        return lead
    campaign = session.get(Campaign, lead.campaign_id)
    policy = {**DEFAULT_RETRY, **((campaign.retry if campaign else {}) or {})}.get(outcome, {"max": 1, "delay_s": 0})
    if lead.attempts < int(policy.get("max", 1)):
        lead.state = "retry"
        lead.next_at = now + timedelta(seconds=int(policy.get("delay_s", 0)))
    else:
        lead.state = "exhausted"
    session.flush()
    return lead


def release_stale(session: Session, campaign_id: int | None = None) -> int:
    """Leads left ``dialing`` by a process that stopped go back to be dialled (their attempt failed)."""
    query = update(Lead).where(Lead.state == "dialing")
    if campaign_id is not None:
        query = query.where(Lead.campaign_id == campaign_id)
    result = session.execute(query.values(state="retry"))
    session.execute(update(Attempt).where(Attempt.outcome == "pending").values(outcome="failed"))
    return int(getattr(result, "rowcount", 0) or 0)


def preview_lead(session: Session, campaign_id: int, agent: str, now: datetime, region: str = "CN") -> Lead | None:
    """The lead offered to ``agent`` in a preview campaign: the one he holds, else the next due one."""
    held = session.scalar(
        select(Lead).where(Lead.campaign_id == campaign_id, Lead.state == "offered", Lead.agent == agent).limit(1)
    )
    if held is not None:
        return held
    for lead in due_leads(session, campaign_id, now, 20):
        if skip_if_dnc(session, lead, region):
            continue
        lead.state, lead.agent = "offered", agent
        session.flush()
        return lead
    return None


def skip_preview(session: Session, lead_id: int, agent: str) -> None:
    lead = session.get(Lead, lead_id)
    if lead is None or lead.agent != agent or lead.state != "offered":
        raise Conflict("该名单不在您这里 / That lead is not offered to you")
    lead.state, lead.last_outcome = "done", "skipped"
    session.flush()


# --- dispositions and scripts ---------------------------------------------------------------------------
def codes_for(session: Session, queue: str = "", campaign_id: int | None = None) -> list[DispositionCode]:
    """The codes an agent chooses from: the campaign's, else the queue's, else the global ones."""
    base = (
        select(DispositionCode).where(DispositionCode.is_active).order_by(DispositionCode.position, DispositionCode.id)
    )
    if campaign_id is not None:
        found = list(session.scalars(base.where(DispositionCode.campaign_id == campaign_id)))
        if found:
            return found
    if queue:
        found = list(session.scalars(base.where(DispositionCode.queue == queue, DispositionCode.campaign_id.is_(None))))
        if found:
            return found
    return list(session.scalars(base.where(DispositionCode.queue == "", DispositionCode.campaign_id.is_(None))))


@dataclass(frozen=True, slots=True)
class CallContext:
    """What the desk needs to wrap up a call: its campaign and lead (if any), and its queue."""

    call_id: str
    campaign_id: int | None
    lead_id: int | None
    queue: str


def call_context(session: Session, call_id: str, queue: str = "") -> CallContext:
    attempt = attempt_for_call(session, call_id)
    if attempt is None:
        return CallContext(call_id, None, None, queue)
    campaign = session.get(Campaign, attempt.campaign_id)
    return CallContext(call_id, attempt.campaign_id, attempt.lead_id, queue or (campaign.queue if campaign else ""))


def record_disposition(
    session: Session,
    call_id: str,
    code: str,
    *,
    queue: str = "",
    agent: str = "",
    user_id: int | None = None,
    note: str = "",
    answers: Mapping[str, Any] | None = None,
    now: datetime,
    callback_at: datetime | None = None,
) -> CallDisposition:
    """Store the agent's wrap-up code (one per call: a second one replaces the first) and close the lead."""
    context = call_context(session, call_id, queue)
    allowed = {c.code: c for c in codes_for(session, context.queue, context.campaign_id)}
    chosen = allowed.get(code)
    if chosen is None:
        raise InvalidInput("请选择一个有效的处理结果 / Choose one of the disposition codes offered", "code")
    row = session.scalar(select(CallDisposition).where(CallDisposition.call_id == call_id))
    if row is None:
        row = CallDisposition(call_id=call_id, code=code, created_at=now)
        session.add(row)
    row.code, row.campaign_id, row.lead_id, row.queue = code, context.campaign_id, context.lead_id, context.queue
    row.agent, row.user_id, row.note, row.answers = agent, user_id, note[:1000], dict(answers or {})
    if context.lead_id is not None:
        lead = session.get(Lead, context.lead_id)
        if lead is not None:
            lead.disposition = code
            if chosen.retry or callback_at is not None:
                lead.state, lead.next_at = "retry", callback_at or now + timedelta(hours=1)
            elif lead.state in ("connected", "dialing", "offered"):
                lead.state = "done"
    session.flush()
    return row


def disposition_required(session: Session, call_id: str, queue: str = "") -> bool:
    """A campaign's call needs a code when the campaign says so; a queue's call when the queue has codes."""
    context = call_context(session, call_id, queue)
    if context.campaign_id is not None:
        campaign = session.get(Campaign, context.campaign_id)
        return bool(campaign and campaign.disposition_required)
    if not context.queue:
        return False
    query = select(DispositionCode.id).where(DispositionCode.queue == context.queue, DispositionCode.is_active)
    return session.scalar(query.limit(1)) is not None


def script_for(session: Session, campaign_id: int | None, queue: str = "") -> AgentScript | None:
    if campaign_id is not None:
        campaign = session.get(Campaign, campaign_id)
        if campaign is not None and campaign.script_id is not None:
            return session.get(AgentScript, campaign.script_id)
    if queue:
        return session.scalar(select(AgentScript).where(AgentScript.queue == queue).order_by(AgentScript.id).limit(1))
    return None


def render_script(body: str, fields: Mapping[str, Any]) -> str:
    """``{name}`` and the other placeholders filled from ``fields``; an unknown one stays visible."""

    def fill(match: re.Match[str]) -> str:
        value = fields.get(match.group(1))
        return match.group(0) if value is None else str(value)

    return _PLACEHOLDER.sub(fill, body)


def lead_fields(session: Session, lead: Lead) -> dict[str, Any]:
    """The lead's own fields over its customer's, with the number."""
    out: dict[str, Any] = {}
    if lead.customer_id is not None:
        customer = session.get(Customer, lead.customer_id)
        if customer is not None:
            out.update(customer_fields(customer))
    out.update(lead.fields or {})
    out.setdefault("name", lead.name)
    out["phone"] = lead.phone
    return out


# --- callbacks ---------------------------------------------------------------------------------------------
def schedule_callback(
    session: Session,
    *,
    phone: str,
    due_at: datetime,
    customer_id: int | None = None,
    owner_id: int | None = None,
    queue: str = "",
    note: str = "",
    source: str = "agent",
    call_id: str = "",
    created_by: int | None = None,
    region: str = "CN",
    department_id: int | None = None,
) -> Callback:
    """``department_id``: the callback's department for data scope (the owner's or the scheduler's)."""
    if owner_id is None and not queue:
        raise InvalidInput("回拨要给自己或者一个队列 / A callback is for yourself or for a queue", "queue")
    key = phone_key(phone, region)
    if customer_id is None and key:
        customer_id = session.scalar(select(Phone.customer_id).where(Phone.key == key).limit(1))
    row = Callback(
        customer_id=customer_id,
        phone=phone[:50],
        phone_key=key,
        due_at=due_at,
        owner_id=owner_id,
        queue=queue,
        note=note[:500],
        source=source,
        call_id=call_id,
        created_by=created_by,
        department_id=department_id,
    )
    session.add(row)
    session.flush()
    return row


def callbacks_in_scope(session: Session, user: User) -> ColumnElement[bool]:
    """The callbacks a campaign manager oversees: those of his data scope (``crm_core.permissions``), and
    queue callbacks of no department (an IVR caller's request), which are the whole center's."""
    nobodys = Callback.owner_id.is_(None) & Callback.department_id.is_(None)
    return or_(scope_clause(session, user, Callback), nobodys)


def agent_callbacks(user_id: int, department_id: int | None, queues: Iterable[str]) -> ColumnElement[bool]:
    """The callbacks an agent may see and dial: his own, and the open queue callbacks of his queues that
    belong to his department or to none (an IVR caller's request is the whole center's)."""
    mine = Callback.owner_id == user_id
    queue_list = [q for q in queues if q]
    if not queue_list:
        return mine
    department: ColumnElement[bool] = Callback.department_id.is_(None)
    if department_id is not None:
        department = or_(department, Callback.department_id == department_id)
    return or_(mine, Callback.owner_id.is_(None) & Callback.queue.in_(queue_list) & department)


def due_callbacks(
    session: Session,
    user_id: int,
    queues: Iterable[str],
    now: datetime,
    ahead: timedelta = timedelta(0),
    department_id: int | None = None,
) -> list[Callback]:
    """Scheduled callbacks due by ``now + ahead`` for the agent or one of his queues, oldest first."""
    scope = agent_callbacks(user_id, department_id, queues)
    query = (
        select(Callback)
        .where(Callback.status == "scheduled", Callback.due_at <= now + ahead, scope)
        .order_by(Callback.due_at)
        .limit(100)
    )
    return list(session.scalars(query))


def complete_callback(session: Session, callback_id: int, call_id: str, now: datetime) -> Callback:
    row = session.get(Callback, callback_id)
    if row is None:
        raise NotFound("回拨不存在 / No such callback")
    if row.status not in ("scheduled", "missed"):
        raise Conflict("回拨已处理 / That callback is closed")
    row.status, row.done_call_id, row.done_at = "done", call_id, now
    session.flush()
    return row


def mark_missed(session: Session, now: datetime, grace: timedelta) -> int:
    """Callbacks still scheduled ``grace`` after their time are missed (reported, still diallable)."""
    result = session.execute(
        update(Callback).where(Callback.status == "scheduled", Callback.due_at < now - grace).values(status="missed")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def callback_dict(row: Callback) -> dict[str, Any]:
    keys = (
        "id",
        "customer_id",
        "phone",
        "due_at",
        "owner_id",
        "department_id",
        "queue",
        "note",
        "source",
        "call_id",
        "status",
        "done_call_id",
        "done_at",
        "created_at",
    )
    out = {key: getattr(row, key) for key in keys}
    for key in ("due_at", "done_at", "created_at"):
        if out[key] is not None:
            out[key] = out[key].isoformat() + "Z"
    return out
