"""Resume the live board after a restart from the history tables (the thin I/O shell of ``LiveBoard.prime``)."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stats.kpi import AgentState
from stats.live import AgentLive, LiveBoard
from stats.models import AgentStateRow, CallLegRow, QueueCallRow
from stats.queue_call import as_record


def resume_board(session: Session, board: LiveBoard, day: date, tz: str, pbx: str | None = None) -> None:
    """Start ``board`` on ``day`` with that day's queue calls and every agent's open state."""
    board.reset_day(day)
    start = datetime.combine(day, time(0), ZoneInfo(tz)).timestamp()
    q = select(QueueCallRow).where(QueueCallRow.joined_at >= start).order_by(QueueCallRow.joined_at)
    a = select(AgentStateRow).where(AgentStateRow.is_open.is_(True))
    # Calls an agent answered today, transfers included: the agent's answered legs, one per call.
    c = (
        select(CallLegRow.agent, func.count(func.distinct(CallLegRow.call_id)))
        .where(CallLegRow.answered_at >= start, CallLegRow.agent.isnot(None))
        .group_by(CallLegRow.agent)
    )
    if pbx is not None:
        q, a = q.where(QueueCallRow.pbx == pbx), a.where(AgentStateRow.pbx == pbx)
        c = c.where(CallLegRow.pbx == pbx)
    calls_today = {agent: int(n) for agent, n in session.execute(c)}
    records = [as_record(row, row.call_id, row.queue, row.department) for row in session.scalars(q)]
    agents = [
        AgentLive(
            agent=row.agent,
            extension=row.extension,
            state=AgentState(row.state),
            reason=row.reason,
            since=row.started_at,
            queues=tuple(x for x in row.queues.split(",") if x),
            calls_today=calls_today.get(row.agent, 0),
        )
        for row in session.scalars(a)
    ]
    board.prime(records, agents)
