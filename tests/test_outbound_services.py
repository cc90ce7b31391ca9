"""Outbound rules over a migrated database: do-not-call by the phone index's key, the retry policy per
outcome, pause and restart keeping the campaign's place, schedules, scripts, dispositions and callbacks."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.errors import InvalidInput
from crm_core.models import Callback, Customer, DispositionCode, Lead, Ticket, TicketType, User
from crm_core.services import outbound as svc
from crm_core.services.customers import add_phone
from crm_core.testing import Org
from ivr.crm_directory import CrmDirectory
from stats.outbound_reports import callback_report

pytest_plugins = ["crm_core.testing"]

NOW = datetime(2026, 12, 2, 2, 0)  # naive UTC: 10:00 in Shanghai, a Wednesday


def campaign(session: Session, **extra: object) -> int:
    data = {"name": "续费回访", "mode": "progressive", "queue": "sales", "caller_id": "4008001000", **extra}
    return svc.create_campaign(session, data).id


def test_do_not_call_matches_every_way_of_writing_the_number(crm_sqlite_session: Session) -> None:
    session = crm_sqlite_session
    cid = campaign(session)
    assert svc.add_dnc(session, ["138-0013-8000", "+86 138 0013 8000", ""]) == 1  # one key, written twice
    assert svc.add_dnc(session, ["021 5555 0000"], campaign_id=cid) == 1
    with pytest.raises(svc.DoNotCall) as refused:
        svc.ensure_dialable(session, "008613800138000")
    assert "免打扰" in str(refused.value) and "do-not-call" in str(refused.value)
    svc.ensure_dialable(session, "02155550000")  # only on the campaign's list
    with pytest.raises(svc.DoNotCall):
        svc.ensure_dialable(session, "02155550000", campaign_id=cid)


def test_retry_policy_per_outcome_then_exhausted(crm_sqlite_session: Session) -> None:
    session = crm_sqlite_session
    cid = campaign(session, retry={"busy": {"max": 2, "delay_s": 60}, "no_answer": {"max": 1, "delay_s": 0}})
    svc.add_leads(session, cid, [{"phone": "13900000001"}, {"phone": "13900000002"}])
    first, second = svc.due_leads(session, cid, NOW, 10)
    attempt = svc.start_attempt(session, first, NOW)
    lead = svc.finish_attempt(session, attempt.id, "busy", NOW)
    assert lead is not None and (lead.state, lead.next_at) == ("retry", NOW + timedelta(seconds=60))
    assert [x.id for x in svc.due_leads(session, cid, NOW, 10)] == [second.id]  # the busy one waits
    again = svc.due_leads(session, cid, NOW + timedelta(seconds=61), 10)
    assert [x.id for x in again] == [first.id, second.id]
    attempt = svc.start_attempt(session, first, NOW)
    assert svc.finish_attempt(session, attempt.id, "busy", NOW).state == "exhausted"  # type: ignore[union-attr]
    attempt = svc.start_attempt(session, second, NOW)
    assert svc.finish_attempt(session, attempt.id, "no_answer", NOW).state == "exhausted"  # type: ignore[union-attr]


def test_a_restart_puts_leads_left_dialing_back(crm_sqlite_session: Session) -> None:
    session = crm_sqlite_session
    cid = campaign(session)
    svc.add_leads(session, cid, [{"phone": f"1390000000{i}"} for i in range(3)])
    svc.set_status(session, cid, "running")
    lead = svc.due_leads(session, cid, NOW, 1)[0]
    svc.start_attempt(session, lead, NOW)
    svc.set_status(session, cid, "paused")
    assert svc.count_due(session, cid, NOW) == 2  # paused: its place kept
    assert svc.release_stale(session) == 1
    assert [x.position for x in svc.due_leads(session, cid, NOW, 10)] == [1, 2, 3]


def test_schedule_days_hours_and_calendar() -> None:
    schedule = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "18:00", "calendar": True}
    wednesday = datetime(2026, 12, 2, 10, 0)
    assert svc.in_schedule(schedule, wednesday)
    assert not svc.in_schedule(schedule, wednesday.replace(hour=18))
    assert not svc.in_schedule(schedule, wednesday, working_day=False)  # a holiday in the calendar
    saturday = datetime(2026, 12, 5, 10, 0)
    assert not svc.in_schedule(schedule, saturday)
    assert svc.in_schedule(schedule, saturday, working_day=True)  # a make-up working day
    assert not svc.in_schedule({**schedule, "calendar": False}, saturday, working_day=True)


def test_script_filled_from_the_customer(crm_sqlite_session: Session) -> None:
    session = crm_sqlite_session
    customer = Customer(name="王芳", level="VIP", custom={"plan": "金卡"})
    session.add(customer)
    session.flush()
    add_phone(session, customer.id, "13900000001")
    cid = campaign(session)
    assert svc.leads_from_customers(session, cid, [customer.id]) == 1
    lead = session.scalars(select(Lead)).one()
    fields = svc.lead_fields(session, lead)
    text = svc.render_script("您好{name}，您的{plan}会员（{level}）{unknown}", fields)
    assert text == "您好王芳，您的金卡会员（VIP）{unknown}"


def test_disposition_codes_per_campaign_and_queue(crm_sqlite_session: Session) -> None:
    session = crm_sqlite_session
    cid = campaign(session)
    session.add_all(
        [
            DispositionCode(code="sale", name="成交 Sale", campaign_id=cid, is_success=True),
            DispositionCode(code="later", name="再联系 Later", campaign_id=cid, retry=True),
            DispositionCode(code="solved", name="已解决 Solved", queue="support"),
        ]
    )
    svc.add_leads(session, cid, [{"phone": "13900000001"}])
    lead = svc.due_leads(session, cid, NOW, 1)[0]
    attempt = svc.start_attempt(session, lead, NOW)
    svc.set_attempt_call(session, attempt.id, "1796.1")
    svc.connect_attempt(session, attempt.id, "1001", NOW)
    assert svc.disposition_required(session, "1796.1")
    with pytest.raises(InvalidInput):
        svc.record_disposition(session, "1796.1", "solved", now=NOW)  # the support queue's code
    svc.record_disposition(session, "1796.1", "sale", agent="1001", answers={"interested": "yes"}, now=NOW)
    assert (lead.state, lead.disposition) == ("done", "sale")
    assert svc.disposition_required(session, "other-call", queue="support")
    assert not svc.disposition_required(session, "other-call", queue="sales")
    assert [c.code for c in svc.codes_for(session, queue="support")] == ["solved"]


def test_callbacks_due_for_agent_or_queue_then_missed(crm_sqlite_session: Session) -> None:
    session = crm_sqlite_session
    agent, other = User(username="a7", password_hash="-"), User(username="a8", password_hash="-")
    session.add_all([agent, other])
    session.flush()
    mine = svc.schedule_callback(session, phone="13900000001", due_at=NOW, owner_id=agent.id)
    queued = svc.schedule_callback(session, phone="13900000002", due_at=NOW, queue="support")
    later = svc.schedule_callback(session, phone="13900000003", due_at=NOW + timedelta(hours=2), owner_id=agent.id)
    assert [c.id for c in svc.due_callbacks(session, agent.id, ["support"], NOW)] == [mine.id, queued.id]
    assert [c.id for c in svc.due_callbacks(session, other.id, ["sales"], NOW)] == []
    svc.complete_callback(session, mine.id, "1796.9", NOW)
    assert svc.mark_missed(session, NOW + timedelta(minutes=20), timedelta(minutes=15)) == 1
    assert (queued.status, later.status) == ("missed", "scheduled")
    with pytest.raises(InvalidInput):
        svc.schedule_callback(session, phone="139", due_at=NOW)  # for nobody


def test_a_supervisor_sees_the_callbacks_of_his_departments_and_the_centers_queue_requests(
    db: Session, org: Org
) -> None:
    """Callbacks carry their owner's (or, for a queue, their scheduler's) department; data scope reaches
    them in the list, on cancel and in the report; an IVR caller's request for a queue is everybody's."""

    def schedule(user: User | None, **extra: object) -> int:
        owner = extra.pop("owner", user)
        return svc.schedule_callback(
            db,
            phone="13900000009",
            due_at=NOW,
            owner_id=owner.id if isinstance(owner, User) else None,
            created_by=user.id if user else None,
            department_id=user.department_id if user else None,
            **extra,  # type: ignore[arg-type]
        ).id

    a_own, a2_own, b_own = schedule(org.agent_a), schedule(org.agent_a2), schedule(org.agent_b)
    a_queue, b_queue = (
        schedule(org.agent_a, owner=None, queue="support"),
        schedule(org.agent_b, owner=None, queue="sales"),
    )
    ivr = schedule(None, owner=None, queue="support", source="ivr")
    db.commit()

    def seen(user: User) -> set[int]:
        return set(db.scalars(select(Callback.id).where(svc.callbacks_in_scope(db, user))))

    assert seen(org.supervisor_a) == {a_own, a2_own, a_queue, ivr}
    assert seen(org.admin) == {a_own, a2_own, b_own, a_queue, b_queue, ivr}
    report = callback_report(
        db,
        NOW - timedelta(hours=1),
        NOW + timedelta(hours=1),
        timedelta(minutes=15),
        svc.callbacks_in_scope(db, org.supervisor_a),
    )
    assert (report["total"], report["scheduled"]) == (4, 4)
    assert db.get(Callback, b_queue).department_id == org.dept_b.id  # type: ignore[union-attr]


def test_an_agent_sees_and_dials_his_own_and_his_departments_queue_callbacks_only(db: Session, org: Org) -> None:
    """A queue callback scheduled in department B carries B's customer: an agent of A on the same queue
    neither lists it nor may dial it; the IVR caller's request (no department) is every queue agent's."""

    def queued(department_id: int | None) -> int:
        return svc.schedule_callback(
            db, phone="13900000010", due_at=NOW, queue="support", department_id=department_id
        ).id

    a_queue, b_queue, ivr = queued(org.dept_a.id), queued(org.dept_b.id), queued(None)
    b_own = svc.schedule_callback(db, phone="13900000011", due_at=NOW, owner_id=org.agent_b.id).id
    db.commit()

    def seen(user: User, queues: list[str]) -> set[int]:
        clause = svc.agent_callbacks(user.id, user.department_id, queues)
        return set(db.scalars(select(Callback.id).where(clause)))

    assert seen(org.agent_a, ["support"]) == {a_queue, ivr}
    assert seen(org.agent_b, ["support"]) == {b_queue, ivr, b_own}
    assert seen(org.agent_a, []) == set()
    due = svc.due_callbacks(db, org.agent_a.id, ["support"], NOW, department_id=org.agent_a.department_id)
    assert {c.id for c in due} == {a_queue, ivr}


async def test_ivr_callback_request_becomes_a_callback(crm_sessionmaker: sessionmaker[Session]) -> None:
    with crm_sessionmaker() as session:
        if session.scalar(select(TicketType).where(TicketType.code.in_(("callback", "other")))) is None:
            session.add(TicketType(code="other", name="其他"))
        customer = Customer(name="李雷")
        session.add(customer)
        session.flush()
        add_phone(session, customer.id, "021-5555 0000")
        session.commit()
    await CrmDirectory(crm_sessionmaker, "CN", "support").create_callback("02155550000", "1795.2", "回拨请求")
    with crm_sessionmaker() as session:
        callback = session.scalars(select(Callback)).one()
        assert (callback.source, callback.queue, callback.call_id) == ("ivr", "support", "1795.2")
        assert callback.customer_id == customer.id and callback.status == "scheduled"
        assert session.scalars(select(Ticket)).one().customer_id == customer.id  # the ticket is still made
