"""Outbound reports: per campaign (attempts, contacts, conversion, abandon rate against the cap), per
disposition code, callbacks kept and missed, and the CDR with each call's disposition.

Definitions (shown on the page):
- attempts: calls placed for the campaign's leads; contacts: attempts connected to an agent;
- dropped: answered by the customer, no agent within the drop time (an abandon by the center);
- abandon rate % = dropped / (contacts + dropped), compared with the campaign's cap;
- conversion % = calls wrapped up with a success code / contacts;
- a callback is kept when it was made (done) by ``grace`` after its time, late when made after, missed
  when it was not made by then.
Times are naive UTC bounds ``[since, until)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from crm_core.models import Attempt, Callback, CallDisposition, Campaign, DispositionCode
from stats.models import CallRow


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 2) if whole else None


def campaign_report(session: Session, since: datetime, until: datetime) -> list[dict[str, Any]]:
    outcomes: dict[int, dict[str, int]] = {}
    query = (
        select(Attempt.campaign_id, Attempt.outcome, func.count())
        .where(Attempt.started_at >= since, Attempt.started_at < until)
        .group_by(Attempt.campaign_id, Attempt.outcome)
    )
    for campaign_id, outcome, count in session.execute(query):
        outcomes.setdefault(campaign_id, {})[outcome] = count
    success_codes = session.scalars(select(DispositionCode).where(DispositionCode.is_success))
    success = {(code.campaign_id, code.code) for code in success_codes}
    conversions: dict[int | None, int] = {}
    query2 = (
        select(CallDisposition.campaign_id, CallDisposition.code, func.count())
        .where(
            CallDisposition.created_at >= since,
            CallDisposition.created_at < until,
            CallDisposition.campaign_id.is_not(None),
        )
        .group_by(CallDisposition.campaign_id, CallDisposition.code)
    )
    for given_campaign, code, count in session.execute(query2):
        if (given_campaign, code) in success or (None, code) in success:
            conversions[given_campaign] = conversions.get(given_campaign, 0) + count
    rows = []
    for campaign in session.scalars(select(Campaign).order_by(Campaign.id)):
        seen = outcomes.get(campaign.id, {})
        attempts = sum(seen.values())
        contacts, dropped = seen.get("connected", 0), seen.get("dropped", 0)
        abandon = _pct(dropped, contacts + dropped)
        rows.append(
            {
                "campaign_id": campaign.id,
                "name": campaign.name,
                "mode": campaign.mode,
                "status": campaign.status,
                "attempts": attempts,
                "contacts": contacts,
                "dropped": dropped,
                "busy": seen.get("busy", 0),
                "no_answer": seen.get("no_answer", 0),
                "failed": seen.get("failed", 0),
                "machine": seen.get("machine", 0),
                "conversions": conversions.get(campaign.id, 0),
                "conversion_pct": _pct(conversions.get(campaign.id, 0), contacts),
                "abandon_pct": abandon,
                "abandon_cap_pct": campaign.abandon_cap_pct,
                "over_cap": abandon is not None and abandon > campaign.abandon_cap_pct,
            }
        )
    return rows


def disposition_report(
    session: Session, since: datetime, until: datetime, campaign_id: int | None = None, queue: str | None = None
) -> list[dict[str, Any]]:
    query = select(CallDisposition.code, func.count()).where(
        CallDisposition.created_at >= since, CallDisposition.created_at < until
    )
    if campaign_id is not None:
        query = query.where(CallDisposition.campaign_id == campaign_id)
    if queue:
        query = query.where(CallDisposition.queue == queue)
    counts = dict(session.execute(query.group_by(CallDisposition.code)).all())
    names = {c.code: c.name for c in session.scalars(select(DispositionCode))}
    total = sum(counts.values())
    return [
        {"code": code, "name": names.get(code, code), "calls": n, "share_pct": _pct(n, total)}
        for code, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    ]


def callback_report(
    session: Session, since: datetime, until: datetime, grace: timedelta, scope: ColumnElement[bool] | None = None
) -> dict[str, Any]:
    """Callbacks due in the period (``scope``: the reader's, ``crm_core.services.outbound.callbacks_in_scope``)."""
    query = select(Callback).where(Callback.due_at >= since, Callback.due_at < until)
    rows = session.scalars(query if scope is None else query.where(scope)).all()
    kept = sum(1 for r in rows if r.status == "done" and r.done_at is not None and r.done_at <= r.due_at + grace)
    late = sum(1 for r in rows if r.status == "done" and r.done_at is not None and r.done_at > r.due_at + grace)
    missed = sum(1 for r in rows if r.status == "missed")
    out: dict[str, Any] = {
        "total": len(rows),
        "kept": kept,
        "late": late,
        "missed": missed,
        "scheduled": sum(1 for r in rows if r.status == "scheduled"),
        "cancelled": sum(1 for r in rows if r.status == "cancelled"),
        "kept_pct": _pct(kept, kept + late + missed),
    }
    out["missed_items"] = [
        {
            "id": r.id,
            "phone": r.phone,
            "due_at": r.due_at.isoformat() + "Z",
            "queue": r.queue,
            "owner_id": r.owner_id,
            "source": r.source,
        }
        for r in rows
        if r.status == "missed"
    ][:200]
    return out


def wrapup_names(session: Session, call_ids: Iterable[str]) -> dict[str, str]:
    """Each call's wrap-up code as the agent saw it (the code's name: the campaign's code, else the
    queue's, else the global one), for the CDR report and its export."""
    ids = list(dict.fromkeys(call_ids))
    if not ids:
        return {}
    chosen = session.execute(
        select(CallDisposition.call_id, CallDisposition.code, CallDisposition.campaign_id, CallDisposition.queue).where(
            CallDisposition.call_id.in_(ids)
        )
    ).all()
    codes = {row.code for row in chosen}
    named = session.scalars(select(DispositionCode).where(DispositionCode.code.in_(codes))).all() if codes else []

    def rank(given: DispositionCode, campaign_id: int | None, queue: str) -> int:
        if campaign_id is not None and given.campaign_id == campaign_id:
            return 0
        if given.campaign_id is None and queue and given.queue == queue:
            return 1
        return 2 if given.campaign_id is None and not given.queue else 3

    out: dict[str, str] = {}
    for call_id, code, campaign_id, queue in chosen:
        ranked = sorted((c for c in named if c.code == code), key=lambda c: rank(c, campaign_id, queue))
        out[call_id] = ranked[0].name if ranked else code
    return out


def cdr_with_dispositions(session: Session, since: float, until: float, limit: int = 500) -> list[dict[str, Any]]:
    """The CDR (one row per call) with the agent's disposition code, note and campaign."""
    query = (
        select(CallRow, CallDisposition)
        .join(CallDisposition, CallDisposition.call_id == CallRow.call_id, isouter=True)
        .where(CallRow.started_at >= since, CallRow.started_at < until)
        .order_by(CallRow.started_at.desc())
        .limit(limit)
    )
    out = []
    for call, given in session.execute(query):
        out.append(
            {
                "call_id": call.call_id,
                "direction": call.direction,
                "caller_number": call.caller_number,
                "dialed": call.dialed,
                "queue": call.queue,
                "agent": call.agent,
                "started_at": call.started_at,
                "duration_s": call.duration_s,
                "disposition": call.disposition,
                "wrapup_code": given.code if given else None,
                "wrapup_note": given.note if given else None,
                "campaign_id": given.campaign_id if given else None,
            }
        )
    return out
