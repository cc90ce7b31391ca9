"""Messaging on the services: safe templates, e-mail to a local SMTP server, bulk SMS through a local HTTP
gateway with opt-outs honoured, service messages from order and ticket steps, retries, the report."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from agent_desk.app import create_app
from config import Settings
from crm_core.errors import PermissionDenied
from crm_core.messaging import services, templates
from crm_core.messaging.channels import HttpSmsGateway, LogChannel, SmtpChannel
from crm_core.messaging.models import Message, MessageTemplate
from crm_core.messaging.outbox import Outbox
from crm_core.messaging.reports import message_report
from crm_core.models import Contact, Customer, Product, TicketType, utcnow
from crm_core.services import customers, orders, tickets
from crm_core.testing import Org
from tests.messaging_support import sms_gateway, smtp_server

pytest_plugins = ["crm_core.testing"]


def _customer(db: Session, org: Org, name: str, mobile: str | None = None, **fields: object) -> Customer:
    customer = Customer(name=name, owner_id=org.agent_a.id, department_id=org.dept_a.id, status="active", **fields)
    db.add(customer)
    db.flush()
    if mobile:
        customers.add_phone(db, customer.id, mobile)
    return customer


def _template(db: Session, org: Org, **data: object) -> MessageTemplate:
    return services.save_template(db, org.supervisor_a, {"name": str(data.get("name", "t")), **data})


# --- templates ---------------------------------------------------------------------------------------


def test_a_template_fills_fields_and_runs_no_code() -> None:
    values = {"customer.name": "张三", "order.tracking_number": "SF1234567890"}
    text = "{{customer.name}}您好，运单号 {{ order.tracking_number }}。"
    assert templates.fill(text, values) == "张三您好，运单号 SF1234567890。"
    # Anything that is not a dotted field name is refused, never evaluated.
    for bad in ("{{ __import__('os').system('id') }}", "{{ customer.name|upper }}", "{{ 1+1 }}", "{{}}"):
        with pytest.raises(templates.TemplateError, match="invalid placeholder"):
            templates.fields_in(bad)
    with pytest.raises(templates.TemplateError, match="line 2"):
        templates.fields_in("您好\n{{ customer.name")
    with pytest.raises(templates.TemplateError, match="unmatched"):
        templates.fields_in("{{ customer.name }} }}")


def test_fields_outside_the_family_and_fields_without_value_are_clear_errors() -> None:
    with pytest.raises(templates.TemplateError, match=r"order\.number"):
        templates.check_fields(["{{ order.number }}"], templates.families_for(""))
    assert templates.check_fields(["{{ order.number }}"], templates.families_for("order.shipping")) == ["order.number"]
    assert templates.check_fields(["{{ customer.custom.vip_no }}"], ("customer",)) == ["customer.custom.vip_no"]
    with pytest.raises(templates.MissingFields) as missing:
        templates.render(
            "", "{{ customer.name }} {{ customer.custom.vip_no }} {{ contact.name }}", {"customer.name": "李四"}
        )
    assert missing.value.names == ["customer.custom.vip_no", "contact.name"]
    assert "customer.custom.vip_no, contact.name" in str(missing.value)


def test_saving_a_template_checks_it_and_needs_the_permission(db: Session, org: Org) -> None:
    with pytest.raises(PermissionDenied):
        services.save_template(db, org.agent_a, {"name": "x", "channel": "sms", "body": "hi"})
    with pytest.raises(templates.TemplateError, match=r"ticket\.title"):
        _template(db, org, channel="sms", body="{{ ticket.title }}", trigger="order.shipping")
    with pytest.raises(services.InvalidInput, match="subject"):
        _template(db, org, channel="email", body="hi")
    saved = _template(
        db, org, name="发货通知", channel="sms", body="已发货 {{ order.tracking_number }}", trigger="order.shipping"
    )
    assert (saved.trigger, saved.is_active) == ("order.shipping", True)


# --- e-mail over SMTP ----------------------------------------------------------------------------------


async def test_an_email_reaches_the_smtp_server_with_the_customers_fields_in_chinese(
    db: Session, org: Org, crm_sessionmaker: sessionmaker[Session]
) -> None:
    customer = _customer(db, org, "北京华鑫科技有限公司", level="VIP", custom={"vip_no": "V-0086"})
    db.add(Contact(customer_id=customer.id, name="王芳", email="wang.fang@example.com", is_primary=True))
    template = _template(
        db,
        org,
        name="会员通知",
        channel="email",
        subject="{{ customer.name }}：您的会员编号",
        body="尊敬的{{ contact.name }}：\n贵公司（{{ customer.level }}）的会员编号是 {{ customer.custom.vip_no }}。"
        "\n——客服中心",
    )
    message = services.send_to_customer(db, org.agent_a, customer.id, services.Draft.of(template))
    db.commit()
    assert (message.status, message.to_address) == ("queued", "wang.fang@example.com")

    with smtp_server() as (port, box):
        channel = SmtpChannel("127.0.0.1", port, sender="客服中心 <service@example.com>", tls="none", timeout_s=30)
        outbox = Outbox(crm_sessionmaker, {"email": channel})
        [delivery] = await outbox.deliver([message.id])
        assert delivery.ok, delivery.error
        assert box.received.wait(30)
    [(sender, recipients, mail)] = box.mails
    assert (sender, recipients) == ("service@example.com", ["wang.fang@example.com"])
    assert mail["Subject"] == "北京华鑫科技有限公司：您的会员编号"
    assert mail.get_content_charset() == "utf-8"
    assert mail.get_content().replace("\r\n", "\n") == "尊敬的王芳：\n贵公司（VIP）的会员编号是 V-0086。\n——客服中心\n"
    # On the wire the Chinese is encoded: the subject as RFC 2047 words, the body in a transfer encoding.
    [raw] = box.raw
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "Subject: =?utf-8?" in head
    assert "Content-Transfer-Encoding: base64" in head or "Content-Transfer-Encoding: 8bit" in head
    db.expire_all()
    stored = db.get(Message, message.id)
    assert stored is not None
    assert (stored.status, stored.attempts, stored.subject) == ("sent", 1, "北京华鑫科技有限公司：您的会员编号")
    assert stored.provider_id == mail["Message-ID"]


async def test_an_email_the_server_refuses_is_stored_as_failed(
    db: Session, org: Org, crm_sessionmaker: sessionmaker[Session]
) -> None:
    customer = _customer(db, org, "上海启明")
    db.add(Contact(customer_id=customer.id, name="赵六", email="zhao@example.com"))
    draft = services.Draft("email", "通知", "您好 {{ contact.name }}")
    message = services.send_to_customer(db, org.agent_a, customer.id, draft)
    db.commit()
    channel = SmtpChannel("127.0.0.1", 1, sender="service@example.com", tls="none", timeout_s=5)  # nothing listens
    outbox = Outbox(crm_sessionmaker, {"email": channel}, max_attempts=2, retry_s=60)
    [first] = await outbox.deliver([message.id])
    assert not first.ok and first.transient
    db.expire_all()
    row = db.get(Message, message.id)
    assert row is not None and row.status == "queued" and row.next_attempt_at is not None
    assert await outbox.deliver([message.id]) == []  # not due before the retry time
    outbox.clock = lambda: utcnow() + timedelta(seconds=61)
    [second] = await outbox.deliver([message.id])
    assert not second.ok
    db.expire_all()
    row = db.get(Message, message.id)
    assert row is not None and (row.status, row.attempts) == ("failed", 2) and "SMTP" in row.error


# --- bulk SMS ------------------------------------------------------------------------------------------


async def test_a_bulk_sms_to_a_crm_search_honours_opt_outs(
    db: Session, org: Org, crm_sessionmaker: sessionmaker[Session]
) -> None:
    plain = _customer(db, org, "华东客户甲", "13800000001", region="上海")
    said_no = _customer(db, org, "华东客户乙", "13800000002", region="上海")
    email_only_no = _customer(db, org, "华东客户丙", "13800000003", region="上海")
    no_mobile = _customer(db, org, "华东客户丁", None, region="上海")
    contact_no = _customer(db, org, "华东客户戊", None, region="上海")
    elsewhere = _customer(db, org, "华北客户", "13800000009", region="北京")
    boss = Contact(customer_id=contact_no.id, name="钱七")
    db.add(boss)
    db.flush()
    customers.add_phone(db, contact_no.id, "13800000005", contact_id=boss.id)
    services.set_opt_out(db, org.agent_a, said_no.id, "sms", True, note="客户来电要求退订")
    services.set_opt_out(db, org.agent_a, email_only_no.id, "email", True)
    services.set_opt_out(db, org.agent_a, contact_no.id, "sms", True, contact_id=boss.id)
    template = _template(db, org, name="促销", channel="sms", body="{{ customer.name }}：本周会员日，回T退订")

    batch = services.bulk_send(db, org.supervisor_a, services.Draft.of(template), filters={"region": "上海"})
    db.commit()
    assert (batch.matched, batch.queued, batch.opted_out, batch.no_address) == (5, 2, 2, 1)

    with sms_gateway() as gateway:
        channel = HttpSmsGateway(gateway.url, "gw-key", timeout_s=30)
        outbox = Outbox(crm_sessionmaker, {"sms": channel})
        deliveries = await outbox.deliver()
    assert [d.ok for d in deliveries] == [True, True]
    assert sorted((r["to"], r["text"]) for r in gateway.requests) == [
        ("+8613800000001", "华东客户甲：本周会员日，回T退订"),
        ("+8613800000003", "华东客户丙：本周会员日，回T退订"),
    ]
    assert {r["auth"] for r in gateway.requests} == {"Bearer gw-key"}
    db.expire_all()
    status = {m.customer_id: m.status for m in db.scalars(select(Message).where(Message.batch_id == batch.id))}
    assert status == {
        plain.id: "sent",
        said_no.id: "opted_out",
        email_only_no.id: "sent",
        no_mobile.id: "no_address",
        contact_no.id: "opted_out",
    }
    assert elsewhere.id not in status
    sent = db.scalar(select(Message).where(Message.customer_id == plain.id))
    assert sent is not None and sent.provider_id.startswith("gw-")


async def test_a_gateway_that_refuses_or_is_busy(
    db: Session, org: Org, crm_sessionmaker: sessionmaker[Session]
) -> None:
    customer = _customer(db, org, "广州客户", "13900000001")
    draft = services.Draft("sms", "", "您好")
    busy = services.send_to_customer(db, org.agent_a, customer.id, draft)
    refused = services.send_to_customer(db, org.agent_a, customer.id, draft)
    db.commit()
    with sms_gateway() as gateway:
        outbox = Outbox(crm_sessionmaker, {"sms": HttpSmsGateway(gateway.url, "k")}, max_attempts=3)
        gateway.status = 503
        await outbox.deliver([busy.id])
        gateway.status = 400
        await outbox.deliver([refused.id])
    db.expire_all()
    assert (db.get(Message, busy.id).status, db.get(Message, refused.id).status) == ("queued", "failed")  # type: ignore[union-attr]


async def test_the_gateways_delivery_reports_are_stored_when_it_gives_the_shared_secret(
    db: Session, org: Org, crm_sessionmaker: sessionmaker[Session], crm_url: str, tmp_path: Path
) -> None:
    customer = _customer(db, org, "深圳客户", "13900000002")
    draft = services.Draft("sms", "", "您的订单已发货")
    reached = services.send_to_customer(db, org.agent_a, customer.id, draft)
    lost = services.send_to_customer(db, org.agent_a, customer.id, draft)
    db.commit()
    with sms_gateway() as gateway:
        await Outbox(crm_sessionmaker, {"sms": HttpSmsGateway(gateway.url, "k")}).deliver([reached.id, lost.id])
    db.expire_all()
    ids = {m.id: m.provider_id for m in db.scalars(select(Message).where(Message.customer_id == customer.id))}
    assert all(ids.values()) and len(set(ids.values())) == 2

    app = create_app(Settings(database_url=crm_url, data_dir=tmp_path, sms_gateway_report_secret="gw-secret"))
    route = "/api/messaging/gateway/reports"
    with TestClient(app) as web:
        # what the gateway posts back, as its own HTTP client would
        wrong = web.post(route, json={"id": ids[reached.id], "status": "delivered"}, headers={"X-Gateway-Secret": "x"})
        none = web.post(route, json={"id": ids[reached.id], "status": "delivered"})
        assert (wrong.status_code, none.status_code) == (401, 401)
        db.expire_all()
        assert db.get(Message, reached.id).status == "sent"  # type: ignore[union-attr]
        secret = {"X-Gateway-Secret": "gw-secret"}
        ok = web.post(route, json={"id": ids[reached.id], "status": "delivered"}, headers=secret)
        failed = web.post(route, json={"id": ids[lost.id], "status": "undelivered", "error": "空号"}, headers=secret)
        unknown = web.post(route, json={"id": "gw-nobody", "status": "delivered"}, headers=secret)
        bad = web.post(route, json={"id": ids[lost.id], "status": "maybe"}, headers=secret)
    assert (ok.status_code, ok.json()) == (200, {"id": reached.id, "status": "delivered"})
    assert (failed.status_code, failed.json()["status"]) == (200, "failed")
    assert (unknown.status_code, bad.status_code) == (404, 422)
    db.expire_all()
    gone = db.get(Message, lost.id)
    assert gone is not None and (gone.status, gone.error) == ("failed", "空号")
    assert db.get(Message, reached.id).status == "delivered"  # type: ignore[union-attr]


# --- service messages ----------------------------------------------------------------------------------


async def test_an_order_passing_its_shipping_step_sends_the_tracking_number(
    db: Session, org: Org, crm_sessionmaker: sessionmaker[Session]
) -> None:
    customer = _customer(db, org, "成都客户", "13700000001")
    _template(
        db,
        org,
        name="发货通知",
        channel="sms",
        trigger="order.shipping",
        body="{{ customer.name }}，您的订单 {{ order.number }} 已由{{ order.carrier }}发出，"
        "运单号 {{ order.tracking_number }}",
    )
    product = Product(sku="P-9", name="净水器", price=Decimal("100"), stock=5)
    db.add(product)
    db.flush()
    order = orders.create_order(
        db, org.agent_a, {"customer_id": customer.id}, [{"product_id": product.id, "quantity": 1}]
    )
    orders.submit(db, org.agent_a, order.id)
    orders.approve(db, org.agent_a, order.id)
    orders.approve(db, org.supervisor_a, order.id)
    assert db.scalars(select(Message)).all() == []  # nothing before shipping
    orders.approve(db, org.supervisor_a, order.id, {"carrier": "顺丰", "tracking_number": "SF1234567890"})
    db.commit()
    [message] = db.scalars(select(Message)).all()
    assert (message.order_id, message.customer_id, message.trigger, message.status) == (
        order.id,
        customer.id,
        "order.shipping",
        "queued",
    )
    log = LogChannel("sms")
    await Outbox(crm_sessionmaker, {"sms": log}).deliver()
    [sent] = log.sent
    assert sent.to == "+8613700000001"
    assert sent.body == f"成都客户，您的订单 {order.number} 已由顺丰发出，运单号 SF1234567890"
    # On the customer's history.
    db.expire_all()
    history = services.list_messages(db, org.agent_a, customer_id=customer.id)
    assert [(m.id, m.status) for m in history] == [(message.id, "sent")]
    assert services.list_messages(db, org.agent_b, customer_id=customer.id) == []  # outside agent_b's scope


def test_a_rolled_back_step_queues_nothing_and_a_ticket_resolution_messages_the_customer(db: Session, org: Org) -> None:
    customer = _customer(db, org, "武汉客户", "13600000001")
    _template(
        db, org, name="工单办结", channel="sms", trigger="ticket.resolve", body="您的工单“{{ ticket.title }}”已办结"
    )
    _template(db, org, name="停用的", channel="sms", trigger="ticket.resolve", body="x", is_active=False)
    db.commit()
    kind = db.scalar(select(TicketType).where(TicketType.code == "consult"))
    assert kind is not None
    ticket = tickets.open_ticket(db, org.agent_a, {"title": "发票", "type_id": kind.id, "customer_id": customer.id})
    tickets.pass_on(db, org.agent_a, ticket.id, "")
    tickets.pass_on(db, org.supervisor_a, ticket.id, "")
    db.rollback()
    assert db.scalars(select(Message)).all() == []
    ticket = tickets.open_ticket(db, org.agent_a, {"title": "发票", "type_id": kind.id, "customer_id": customer.id})
    for handler in (org.agent_a, org.supervisor_a, org.agent_a):
        tickets.pass_on(db, handler, ticket.id, "")
    [message] = db.scalars(select(Message)).all()
    assert (message.ticket_id, message.body, message.status) == (ticket.id, "您的工单“发票”已办结", "queued")


def test_a_service_message_missing_a_field_is_stored_as_failed_not_raised(db: Session, org: Org) -> None:
    customer = _customer(db, org, "西安客户", "13500000001")
    _template(db, org, name="缺字段", channel="sms", trigger="order.submit", body="{{ customer.custom.vip_no }}")
    product = Product(sku="P-8", name="滤芯", price=Decimal("10"), stock=5)
    db.add(product)
    db.flush()
    order = orders.create_order(
        db, org.agent_a, {"customer_id": customer.id}, [{"product_id": product.id, "quantity": 1}]
    )
    orders.submit(db, org.agent_a, order.id)
    [message] = db.scalars(select(Message)).all()
    assert message.status == "failed" and "customer.custom.vip_no" in message.error
    with pytest.raises(templates.MissingFields):  # an agent's own send says so at once
        draft = services.Draft("sms", "", "{{ customer.custom.vip_no }}")
        services.send_to_customer(db, org.agent_a, customer.id, draft)


# --- report --------------------------------------------------------------------------------------------


def test_the_report_counts_sent_failed_and_skipped_per_channel_template_and_day(db: Session, org: Org) -> None:
    a = _customer(db, org, "甲", "13800000001")
    b = _customer(db, org, "乙", None)
    template = _template(db, org, name="会员日", channel="sms", body="您好")
    services.bulk_send(db, org.supervisor_a, services.Draft.of(template), q="")
    db.flush()
    first = db.scalar(select(Message).where(Message.customer_id == a.id))
    assert first is not None
    first.status = "sent"
    db.add(
        Message(
            channel="email",
            customer_id=b.id,
            status="failed",
            error="x",
            created_at=first.created_at - timedelta(days=1),
        )
    )
    db.commit()
    start = first.created_at - timedelta(days=2)
    rows = message_report(db, org.supervisor_a, start, first.created_at + timedelta(hours=1), "all", "Asia/Shanghai")
    assert [(r.channel, r.template, r.total, r.sent, r.failed, r.no_address) for r in rows] == [
        ("email", "—", 1, 0, 1, 0),
        ("sms", "会员日", 2, 1, 0, 1),
    ]
    by_day = message_report(db, org.supervisor_a, start, first.created_at + timedelta(hours=1), "day", "Asia/Shanghai")
    assert len({r.period for r in by_day}) == 2
