"""Finding recordings: by date, agent, queue, customer, ticket, number, direction, duration, satisfaction.

Every search is limited to what the listener may hear (``access.visible_clause``), so a list never
shows a row that playing would refuse.

A recorded call often has several files (the dialplan's queue recording of the whole call and the
CTI's recording of the agent leg, both with the call's Linkedid): ``search_calls`` lists one row per
call with all its files, and counts those rows per status in the same query, so the counters above a
list always add up to the list's total.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, String, case, cast, func, literal, or_, select
from sqlalchemy.orm import Session

from recordings.access import Listener, visible_clause
from recordings.models import Recording, RecordingStatus

MAX_LIMIT = 500
# A call's status is its best file's: one playable file makes the call playable.
STATUS_ORDER: tuple[str, ...] = (
    RecordingStatus.READY.value,
    RecordingStatus.UNLINKED.value,
    RecordingStatus.RECORDING.value,
    RecordingStatus.PENDING.value,
    RecordingStatus.INVALID.value,
    RecordingStatus.MISSING.value,
    RecordingStatus.DELETED.value,
)


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


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One row of the list: a call's files (best first) and the call's status."""

    key: str
    files: list[Recording]
    status: str

    @property
    def primary(self) -> Recording:
        return self.files[0]


def _call_key() -> ColumnElement[str]:
    """The call a file belongs to; a file no call has named yet is its own row."""
    return func.coalesce(Recording.call_id, literal("#").concat(cast(Recording.id, String)))


def _status_rank() -> ColumnElement[int]:
    return case({status: rank for rank, status in enumerate(STATUS_ORDER)}, value=Recording.status, else_=99)


def file_kind(row: Recording) -> str:
    """``queue``: the dialplan's recording of the whole queue call; ``agent``: the CTI's of the agent leg."""
    base = row.file_name.rsplit("/", 1)[-1]
    if base.startswith("q-"):
        return "queue"
    if base.startswith("cti-"):
        return "agent"
    return "other"


def _file_order(row: Recording) -> tuple[int, int, float, int]:
    rank = STATUS_ORDER.index(row.status) if row.status in STATUS_ORDER else 99
    return (rank, 0 if file_kind(row) == "queue" else 1, -(row.duration_s or 0.0), row.id)


def search_calls(
    session: Session, listener: Listener, query: RecordingQuery
) -> tuple[list[RecordedCall], int, dict[str, int]]:
    """One page of recorded calls (newest first), their total and the calls per status.

    The total and the counts come from one grouped query under the same scope and filters as the
    page, so ``counts["total"] == total``.
    """
    where = [visible_clause(listener), *_conditions(query)]
    key = _call_key().label("key")
    calls = (
        select(key, func.min(_status_rank()).label("rank"), func.max(Recording.started_at).label("latest"))
        .where(*where)
        .group_by(key)
        .subquery()
    )
    counts = {status: 0 for status in STATUS_ORDER}
    for rank, count in session.execute(select(calls.c.rank, func.count()).group_by(calls.c.rank)):
        if 0 <= int(rank) < len(STATUS_ORDER):
            counts[STATUS_ORDER[int(rank)]] = int(count)
    total = sum(counts.values())
    counts["total"] = total
    keys = list(
        session.scalars(
            select(calls.c.key)
            .order_by(calls.c.latest.desc().nulls_last(), calls.c.key.desc())
            .limit(max(1, min(query.limit, MAX_LIMIT)))
            .offset(max(0, query.offset))
        )
    )
    grouped: dict[str, list[Recording]] = {k: [] for k in keys}
    if keys:
        for row, row_key in session.execute(select(Recording, _call_key()).where(*where, _call_key().in_(keys))):
            grouped[row_key].append(row)
    page = []
    for k in keys:
        files = sorted(grouped[k], key=_file_order)
        page.append(RecordedCall(key=k, files=files, status=files[0].status if files else "missing"))
    return page, total, counts
