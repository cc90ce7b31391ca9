"""The IVR's customer directory over crm_core: caller facts, order status, callback tickets."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.db import make_engine, make_sessionmaker
from crm_core.models import CallLink, Customer, Order, Ticket
from crm_core.services.customers import add_phone
from crm_core.testing import postgres_database
from ivr.crm_directory import CrmDirectory

pytest_plugins = ["crm_core.testing"]


def seed(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        vip = Customer(name="王芳", category="企业客户", level="VIP")
        blocked = Customer(name="骚扰者", category="个人客户", level="D", custom={"blacklisted": True})
        plain = Customer(name="李雷", category="代理商", level="B")
        session.add_all([vip, blocked, plain])
        session.flush()
        add_phone(session, vip.id, "13900000001")
        add_phone(session, blocked.id, "13600000000")
        add_phone(session, plain.id, "021-5555 0000")
        session.add(Order(number="SO-20261123-0001", customer_id=plain.id, status="in_approval",
                          shipped_at=datetime(2026, 11, 20, 8)))
        session.add(Order(number="SO-20261123-0002", customer_id=plain.id, status="void"))
        session.commit()


async def check_directory(factory: sessionmaker[Session]) -> None:
    seed(factory)
    directory = CrmDirectory(factory, "CN")
    vip = await directory.find_by_number("+86 139 0000 0001")
    assert vip is not None and (vip["name"], vip["vip"], vip["blacklisted"]) == ("王芳", True, False)
    blocked = await directory.find_by_number("13600000000")
    assert blocked is not None and blocked["blacklisted"] and not blocked["vip"]
    plain = await directory.find_by_number("02155550000")
    assert plain is not None and plain["category"] == "代理商"
    assert await directory.find_by_number("13111111111") is None
    shipped = await directory.find_order("SO-20261123-0001")
    assert shipped is not None and shipped["status"] == "shipped"
    void = await directory.find_order("SO-20261123-0002")
    assert void is not None and void["status"] == "void"
    assert await directory.find_order("nope") is None

    await directory.create_callback("02155550000", "1795451209.0", "非工作时间回拨请求")
    with factory() as session:
        ticket = session.scalars(select(Ticket)).one()
        assert ticket.priority == "high" and ticket.status == "open" and "02155550000" in ticket.title
        assert ticket.customer_id == plain["id"]
        link = session.scalars(select(CallLink).where(CallLink.call_id == "1795451209.0")).one()
        assert link.ticket_id == ticket.id


async def test_directory_on_sqlite(crm_sessionmaker: sessionmaker[Session]) -> None:
    await check_directory(crm_sessionmaker)


@pytest.mark.postgres
async def test_directory_on_postgres() -> None:
    with postgres_database("ivr") as url:
        engine = make_engine(url)
        try:
            await check_directory(make_sessionmaker(engine))
        finally:
            engine.dispose()
