"""The organisation and the records the scope matrix runs on: departments A and B, each with the same
kinds of rows (customer, contact, phone, follow-up, ticket with a note and an attachment, order with a
return, opportunity, seat, call in the history, recording, call link, sales target, quote, contract, an
agent's callback), and the users who act on them.

Rows are named ``<kind>A`` / ``<kind>B``; a request of the matrix names them as ``@<kind>A`` and its
"other department" twin is the same request with every ``@…A`` replaced by ``@…B``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from crm_core.auth import open_session
from crm_core.models import (
    Announcement,
    AuditEntry,
    Callback,
    CallLink,
    Contact,
    Contract,
    Customer,
    CustomFieldDef,
    Department,
    DictionaryItem,
    FollowUp,
    KbArticle,
    KbCategory,
    Opportunity,
    OpportunityStage,
    Order,
    OrderLine,
    OrderReturn,
    PauseReason,
    Product,
    ProductCategory,
    Quote,
    QuoteLine,
    Role,
    SalesTarget,
    Seat,
    StockMovement,
    Supplier,
    SupplierDocument,
    SupplierDocumentLine,
    TicketType,
    User,
    Workflow,
    WorkflowStep,
)
from crm_core.phone import normalize
from crm_core.services.tickets import add_attachment, open_ticket
from crm_core.testing import Org, make_org, reload_user
from recordings.models import Recording
from stats.models import CallLegRow, CallRow

USERS = ("admin", "sup_a", "sup_b", "agent_a", "agent_a2", "agent_b", "noperm")
STARTED = datetime(2026, 11, 20, 9, 30)


@dataclass
class World:
    org: Org
    ids: dict[str, Any]
    tokens: dict[str, str]  # user name -> bearer token


def _phone(session: Session, customer: Customer, raw: str) -> int:
    from crm_core.models import Phone

    key = normalize(raw)
    row = Phone(customer_id=customer.id, raw=raw, key=key.key, kind=key.kind, extension=key.extension)
    session.add(row)
    session.flush()
    return row.id


def _department_rows(session: Session, org: Org, side: str, owner: User, number: str, ext: str) -> dict[str, Any]:
    dept = org.dept_a if side == "A" else org.dept_b
    ids: dict[str, Any] = {}
    customer = Customer(name=f"客户{side}", owner_id=owner.id, department_id=dept.id, status="active")
    spare = Customer(name=f"备用客户{side}", owner_id=owner.id, department_id=dept.id, status="active")
    session.add_all([customer, spare])
    session.flush()
    ids[f"customer{side}"], ids[f"spare{side}"] = customer.id, spare.id
    ids[f"phone{side}"] = _phone(session, customer, number)
    contact = Contact(customer_id=customer.id, name=f"联系人{side}")
    followup = FollowUp(customer_id=customer.id, user_id=owner.id, note=f"回访{side}", at=STARTED)
    session.add_all([contact, followup])
    session.flush()
    ids[f"contact{side}"], ids[f"followup{side}"] = contact.id, followup.id
    ticket_type = session.scalars(select(TicketType).order_by(TicketType.id)).first()
    assert ticket_type is not None
    ids["type"] = ticket_type.id
    fields = {"type_id": ticket_type.id, "title": f"工单{side}", "customer_id": customer.id}
    ticket = open_ticket(session, owner, fields)
    ticket.assignee_id = owner.id
    ids[f"ticket{side}"] = ticket.id
    product = session.scalars(select(Product)).first()
    assert product is not None
    order_flow = session.scalars(select(Workflow.id).where(Workflow.kind == "order")).first()
    order = Order(
        number=f"SO-{side}",
        customer_id=customer.id,
        owner_id=owner.id,
        department_id=dept.id,
        total=Decimal("10.00"),
        workflow_id=order_flow,
    )
    session.add(order)
    session.flush()
    line = OrderLine(
        order_id=order.id, product_id=product.id, quantity=2, unit_price=Decimal("5.00"), amount=Decimal("10.00")
    )
    session.add(line)
    session.flush()
    ret = OrderReturn(order_id=order.id, order_line_id=line.id, quantity=1, kind="return", reason=f"退货{side}")
    session.add(ret)
    session.flush()
    ids[f"order{side}"], ids[f"line{side}"], ids[f"return{side}"] = order.id, line.id, ret.id
    stage = session.scalars(select(OpportunityStage).order_by(OpportunityStage.position)).first()
    assert stage is not None
    ids["stage"] = stage.id
    opportunity = Opportunity(
        title=f"商机{side}",
        customer_id=customer.id,
        stage_id=stage.id,
        owner_id=owner.id,
        department_id=dept.id,
        amount=Decimal("100"),
    )
    seat = Seat(name=f"seat-{side}", extension=f"3{ext}", department_id=dept.id)
    session.add_all([opportunity, seat])
    session.flush()
    ids[f"opportunity{side}"], ids[f"seat{side}"], ids[f"seatname{side}"] = opportunity.id, seat.id, seat.name
    call_id = f"1795000000.{ext}"
    started = STARTED.timestamp()
    session.add(
        CallRow(
            pbx="pbx1",
            call_id=call_id,
            caller_number=number,
            agent=ext,
            started_at=started,
            hour=int(started // 3600),
            ended_at=started + 60,
            disposition="answered",
            answered_at=started + 5,
            talk_s=55.0,
            customer_id=customer.id,
        )
    )
    session.add(
        CallLegRow(pbx="pbx1", call_id=call_id, channel=f"PJSIP/{ext}-1", extension=ext, agent=ext, ring_at=started)
    )
    link = CallLink(call_id=call_id, customer_id=customer.id, created_by=owner.id)
    recording = Recording(
        file_name=f"rec-{side}.wav",
        status="ready",
        call_id=call_id,
        agent=ext,
        agent_user_id=owner.id,
        department_id=dept.id,
        started_at=STARTED,
        format="wav",
    )
    session.add_all([link, recording])
    session.flush()
    ids[f"call{side}"], ids[f"link{side}"], ids[f"recording{side}"] = call_id, link.id, recording.id
    ids[f"ext{side}"] = ext
    ids[f"number{side}"] = number
    return ids


def _sales_rows(session: Session, ids: dict[str, Any], side: str, owner: User) -> dict[str, Any]:
    """A person's sales target, a draft quote with one line, a contract and a callback promised to the person's
    customer, for department ``side``."""
    target = SalesTarget(
        title=f"目标{side}",
        user_id=owner.id,
        department_id=owner.department_id,
        period_start=date(2026, 11, 1),
        period_end=date(2026, 11, 30),
        calls=10,
        created_by=owner.id,
    )
    quote = Quote(
        number=f"QT-{side}",
        customer_id=ids[f"customer{side}"],
        owner_id=owner.id,
        department_id=owner.department_id,
        total=Decimal("10.00"),
        lines=[QuoteLine(product_id=ids["product"], quantity=2, unit_price=Decimal("5.00"), amount=Decimal("10.00"))],
    )
    callback = Callback(
        customer_id=ids[f"customer{side}"],
        phone=f"1370000000{1 if side == 'A' else 2}",
        due_at=STARTED + timedelta(hours=1),
        owner_id=owner.id,
        department_id=owner.department_id,
        created_by=owner.id,
    )
    session.add_all([target, quote, callback])
    session.flush()
    contract = Contract(
        number=f"HT-{side}",
        title=f"合同{side}",
        customer_id=ids[f"customer{side}"],
        quote_id=quote.id,
        owner_id=owner.id,
        department_id=owner.department_id,
        amount=Decimal("10.00"),
    )
    session.add(contract)
    session.flush()
    ids = {f"target{side}": target.id, f"quote{side}": quote.id, f"contract{side}": contract.id}
    return ids | {f"callback{side}": callback.id}


def _shared_rows(session: Session, org: Org) -> dict[str, Any]:
    """Rows of the shared tables, and every user's id by name."""
    category = ProductCategory(name="配件")
    supplier = Supplier(name="华鑫电器")
    spare_role = Role(name="spare", title="备用")
    field = CustomFieldDef(key="grade", label="等级", kind="text")
    session.add_all([category, supplier, spare_role, field])
    session.flush()
    product = session.scalars(select(Product)).first()
    assert product is not None
    movement = StockMovement(product_id=product.id, quantity=3, reason="purchase", user_id=org.admin.id)
    session.add(movement)
    session.flush()

    def first(model: Any) -> int:
        found = session.scalars(select(model.id).order_by(model.id)).first()
        assert found is not None, model
        return int(found)

    ids: dict[str, Any] = {
        "product": product.id,
        "category": category.id,
        "supplier": supplier.id,
        "role": spare_role.id,
        "field": field.id,
        "movement": movement.id,
        "workflow": first(Workflow),
        "step": first(WorkflowStep),
        "reason": first(PauseReason),
        "dictionary": first(DictionaryItem),
    }
    for side, user in (("A", org.agent_a), ("B", org.agent_b)):
        entry = session.scalars(select(AuditEntry.id).where(AuditEntry.user_id == user.id)).first()
        assert entry is not None
        ids[f"audit{side}"] = entry
    for name in USERS:
        ids[name] = reload_user(session, name).id
    ids["userA"], ids["userB"] = org.agent_a.id, org.agent_b.id
    spare_dept = Department(name="待撤销部门", parent_id=org.head.id, path=org.head.path)
    spare_category = KbCategory(name="空类别")
    session.add_all([spare_dept, spare_category])
    session.flush()
    spare_dept.path = f"{org.head.path}{spare_dept.id}/"
    ids["spare_dept"], ids["spare_kbcat"] = spare_dept.id, spare_category.id
    return ids


def build_world(session: Session, data_dir: Path) -> World:
    org = make_org(session)
    nobody = Role(name="nobody", title="无权限 No permission", data_scope="department")
    session.add(nobody)
    session.flush()
    supervisor = session.scalars(select(Role).where(Role.name == "supervisor")).one()
    session.add(
        User(
            username="noperm",
            display_name="noperm",
            password_hash="",
            roles=[nobody],
            department_id=org.dept_a.id,
            extension="1003",
        )
    )
    session.add(
        User(username="sup_b", display_name="sup_b", password_hash="", roles=[supervisor], department_id=org.dept_b.id)
    )
    session.add(Product(sku="P1", name="净水器", price=Decimal("5.00")))
    session.flush()
    ids: dict[str, Any] = {"deptA": org.dept_a.id, "deptB": org.dept_b.id}
    ids |= _department_rows(session, org, "A", org.agent_a, "13800000001", "1001")
    ids |= _department_rows(session, org, "B", org.agent_b, "13900000002", "2001")
    pool = Customer(name="公海客户", status="pool")
    category = KbCategory(name="常见问题")
    session.add_all([pool, category])
    session.flush()
    article = KbArticle(
        title="退货流程", body="七天无理由", category_id=category.id, status="published", author_id=org.supervisor_a.id
    )
    announcement = Announcement(title="通知", body="今天培训", starts_at=STARTED - timedelta(days=1))
    session.add_all([article, announcement])
    session.flush()
    ids |= {"pool": pool.id, "kbcat": category.id, "article": article.id, "announcement": announcement.id}
    for side, owner in (("A", org.agent_a), ("B", org.agent_b)):
        row = add_attachment(session, owner, ids[f"ticket{side}"], f"{side}.txt", b"text", "text/plain", data_dir)
        ids[f"attachment{side}"] = row.id
    ids |= _shared_rows(session, org)
    for side, owner in (("A", org.agent_a), ("B", org.agent_b)):
        ids |= _sales_rows(session, ids, side, owner)
    vendor = Supplier(name="进货供应商")  # the shared supplier stays free to delete
    session.add(vendor)
    session.flush()
    document = SupplierDocument(
        number="PO-1",
        kind="purchase",
        supplier_id=vendor.id,
        lines=[SupplierDocumentLine(product_id=ids["product"], quantity=4)],
    )
    session.add(document)
    session.flush()
    ids["document"] = document.id
    tokens = {}
    for name in USERS:
        user = reload_user(session, name)
        tokens[name] = open_session(session, user, "bearer", timedelta(days=1)).token
    session.commit()
    return World(org, ids, tokens)
