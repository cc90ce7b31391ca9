"""Finding recordings: by date, agent, queue, customer, ticket, number, direction, duration, satisfaction.

Every search is limited to what the listener may hear (``access.visible_clause``), so a list never
shows a row that playing would refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from recordings.access import Listener, visible_clause
from recordings.models import Recording, RecordingStatus

MAX_LIMIT = 500


@dataclass(frozen=True, slots=True)
class RecordingQuery:
    date_from: datetime | None = None
    date_to: datetime | None = None
    call_id: str | None = None
    agent: str | None = None
    queue: str | None = None
    customer_id: int | None = None
    ticket_id: int | None = None
    number: str | None = None
    direction: str | None = None
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    min_score: int | None = None
    max_score: int | None = None
    status: str | None = None
    limit: int = 50
    offset: int = 0


def _linked_calls(column: Any, value: int) -> ColumnElement[bool]:
    from crm_core.models import CallLink

    return Recording.call_id.in_(select(CallLink.call_id).where(column == value))


def _conditions(query: RecordingQuery) -> list[ColumnElement[bool]]:
    from crm_core.models import CallLink

    where: list[ColumnElement[bool]] = []
    if query.date_from is not None:
        where.append(Recording.started_at >= query.date_from)
    if query.date_to is not None:
        where.append(Recording.started_at < query.date_to)
    if query.call_id:
        where.append(Recording.call_id == query.call_id)
    if query.agent:
        where.append(Recording.agent == query.agent)
    if query.queue:
        where.append(Recording.queue == query.queue)
    if query.customer_id is not None:
        where.append(
            or_(
                Recording.customer_id == query.customer_id,
                _linked_calls(CallLink.customer_id, query.customer_id),
            )
        )
    if query.ticket_id is not None:
        where.append(_linked_calls(CallLink.ticket_id, query.ticket_id))
    digits = re.sub(r"\D", "", query.number or "")
    if digits:
        pattern = f"%{digits}%"
        where.append(or_(Recording.caller_number.like(pattern), Recording.callee_number.like(pattern)))
    if query.direction:
        where.append(Recording.direction == query.direction)
    if query.min_duration_s is not None:
        where.append(Recording.duration_s >= query.min_duration_s)
    if query.max_duration_s is not None:
        where.append(Recording.duration_s <= query.max_duration_s)
    if query.min_score is not None:
        where.append(Recording.satisfaction >= query.min_score)
    if query.max_score is not None:
        where.append(Recording.satisfaction <= query.max_score)
    if query.status:
        where.append(Recording.status == query.status)
    return where


def search(session: Session, listener: Listener, query: RecordingQuery) -> tuple[list[Recording], int]:
    """One page of matching recordings, newest first, and the total count."""
    where = [visible_clause(listener), *_conditions(query)]
    total = session.scalar(select(func.count()).select_from(Recording).where(*where)) or 0
    rows = session.scalars(
        select(Recording)
        .where(*where)
        .order_by(Recording.started_at.desc(), Recording.id.desc())
        .limit(max(1, min(query.limit, MAX_LIMIT)))
        .offset(max(0, query.offset))
    )
    return list(rows), int(total)


def status_counts(session: Session) -> dict[str, int]:
    """Rows per status, every status present (zero when none): what the platform status page shows."""
    counts = {status.value: 0 for status in RecordingStatus}
    for status, count in session.execute(select(Recording.status, func.count()).group_by(Recording.status)):
        counts[str(status)] = int(count)
    counts["total"] = sum(counts[s.value] for s in RecordingStatus)
    return counts
