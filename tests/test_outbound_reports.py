"""The CDR report names each call's wrap-up code (the agent's disposition), on the page and in its export."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from sqlalchemy.orm import Session

from crm_core.models import DispositionCode
from crm_core.services import outbound as svc
from stats.export import to_csv
from stats.models import CallRow
from stats.reports import report

pytest_plugins = ["crm_core.testing"]

START = datetime(2026, 12, 2, 9, 0)  # Shanghai time
EPOCH_10H = 1796176800.0  # 2026-12-02 10:00 in Shanghai


def _call(session: Session, call_id: str, queue: str, offset_s: float) -> None:
    session.add(
        CallRow(
            pbx="pbx1",
            call_id=call_id,
            direction="inbound",
            caller_number="13900000001",
            queue=queue,
            agent="1001",
            started_at=EPOCH_10H + offset_s,
            hour=10,
            disposition="answered",
        )
    )


def test_the_cdr_names_the_wrap_up_code_of_each_call(db: Session) -> None:
    db.add(DispositionCode(code="refund", name="退款咨询", queue="support"))
    _call(db, "1796176800.1", "support", 0)
    _call(db, "1796176800.2", "sales", 60)
    _call(db, "1796176800.3", "support", 120)  # wrapped up with nothing
    db.flush()
    now = datetime(2026, 12, 2, 2, 5)
    svc.record_disposition(db, "1796176800.1", "refund", queue="support", agent="1001", now=now)
    svc.record_disposition(db, "1796176800.2", "sale", queue="sales", agent="1001", now=now)
    db.commit()

    table = report(db, "cdr", START, datetime(2026, 12, 2, 12, 0))
    by_call = {row["call_id"]: row["wrapup"] for row in table.as_dicts()}
    assert by_call == {"1796176800.1": "退款咨询", "1796176800.2": "成交 Sale", "1796176800.3": ""}
    lines = list(csv.DictReader(io.StringIO(to_csv(table, "en").decode("utf-8-sig"))))
    assert [line["Wrap-up code"] for line in lines] == ["退款咨询", "成交 Sale", ""]
