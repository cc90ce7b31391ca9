"""Messages sent and failed per period, channel and template (the report and its Excel export)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.errors import InvalidInput
from crm_core.messaging.models import (
    DELIVERED,
    FAILED,
    NO_ADDRESS,
    OPTED_OUT,
    QUEUED,
    SENDING,
    SENT,
    Message,
    MessageTemplate,
)
from crm_core.messaging.services import visible_messages
from crm_core.models import User

GROUPINGS = ("hour", "day", "week", "month", "year", "all")
# (key, Chinese, English, kind) of each column, in order.
COLUMNS = (
    ("period", "时段", "Period", "text"),
    ("channel", "渠道", "Channel", "text"),
    ("template", "模板", "Template", "text"),
    ("total", "消息数", "Messages", "int"),
    ("sent", "已发送", "Sent", "int"),
    ("delivered", "已送达", "Delivered", "int"),
    ("failed", "失败", "Failed", "int"),
    ("opted_out", "已退订", "Opted out", "int"),
    ("no_address", "无地址", "No address", "int"),
    ("pending", "待发送", "Pending", "int"),
)
COUNTED = {SENT: "sent", DELIVERED: "delivered", FAILED: "failed", OPTED_OUT: "opted_out", NO_ADDRESS: "no_address",
           QUEUED: "pending", SENDING: "pending"}
NO_TEMPLATE = "—"


@dataclass(frozen=True, slots=True)
class Row:
    period: str
    channel: str
    template: str
    total: int
    sent: int
    delivered: int
    failed: int
    opted_out: int
    no_address: int
    pending: int

    def values(self) -> list[object]:
        return [getattr(self, key) for key, *_ in COLUMNS]


def period_of(at: datetime, group_by: str, tz: ZoneInfo) -> str:
    """The period label of a naive-UTC time in the business time zone."""
    local = at.replace(tzinfo=UTC).astimezone(tz)
    if group_by == "hour":
        return local.strftime("%Y-%m-%d %H:00")
    if group_by == "day":
        return local.strftime("%Y-%m-%d")
    if group_by == "week":
        year, week, _ = local.isocalendar()
        return f"{year}-W{week:02d}"
    if group_by == "month":
        return local.strftime("%Y-%m")
    if group_by == "year":
        return local.strftime("%Y")
    return ""


def message_report(
    session: Session, user: User, start: datetime, end: datetime, group_by: str = "day", timezone: str = "UTC"
) -> list[Row]:
    """Counts of messages created in [start, end) (naive UTC), by period, channel and template.

    "sent" counts every message a channel accepted (delivered ones too); "delivered" those a gateway
    later confirmed. Skipped messages (opted out, no address) count apart from failures.
    """
    if group_by not in GROUPINGS:
        raise InvalidInput(f"分组无效 group_by must be one of {', '.join(GROUPINGS)}", "group_by")
    if end <= start:
        raise InvalidInput("结束须晚于开始 the end must come after the start", "end")
    tz = ZoneInfo(timezone)
    names = {tid: name for tid, name in session.execute(select(MessageTemplate.id, MessageTemplate.name))}
    query = visible_messages(session, user).where(Message.created_at >= start, Message.created_at < end)
    rows = session.execute(
        query.with_only_columns(Message.created_at, Message.channel, Message.template_id, Message.status)
    )
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for created_at, channel, template_id, status in rows:
        template = names.get(template_id, NO_TEMPLATE) if template_id is not None else NO_TEMPLATE
        bucket = counts[(period_of(created_at, group_by, tz), channel, template)]
        bucket["total"] += 1
        column = COUNTED.get(status)
        if column:
            bucket[column] += 1
        if status == DELIVERED:
            bucket["sent"] += 1  # a delivered message was sent first
    return [
        Row(period, channel, template, **{key: counts[(period, channel, template)][key] for key, *_ in COLUMNS[3:]})
        for period, channel, template in sorted(counts)
    ]
