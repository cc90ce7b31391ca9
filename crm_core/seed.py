"""Demo data made by code: departments, users with extensions, customers with Chinese names and
phone numbers (including those the PBX simulator calls from), products, tickets and orders."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from crm_core.auth import hash_password
from crm_core.models import (
    Contact,
    Customer,
    Department,
    Order,
    OrderLine,
    Phone,
    Product,
    ProductCategory,
    Role,
    Seat,
    Supplier,
    Ticket,
    TicketType,
    User,
    WorkflowStep,
    utcnow,
)
from crm_core.phone import normalize

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红玉兰海燕婷雪梅"
CITIES = [
    ("北京", "10"),
    ("上海", "21"),
    ("广州", "20"),
    ("深圳", "755"),
    ("杭州", "571"),
    ("成都", "28"),
    ("武汉", "27"),
    ("南京", "25"),
    ("西安", "29"),
    ("天津", "22"),
]
BRANDS = "华鑫恒达宏远金泰瑞丰新元博创嘉禾永盛中联天成东方安信"
TRADES = ["科技", "贸易", "电子", "物流", "医药", "建材", "食品", "机械", "信息技术", "文化传媒"]
STREETS = ["中山路", "人民路", "解放路", "建设路", "和平路", "长江路", "新华街", "文化路"]
# A category fits the kind of customer: a person is never an enterprise, a company never a private person.
COMPANY_CATEGORIES = ["企业客户", "代理商", "政府机构"]
PERSON_CATEGORY = "个人客户"
CATEGORIES = [*COMPANY_CATEGORIES, PERSON_CATEGORY]
SOURCES = ["电话呼入", "官网", "展会", "转介绍", "广告"]
LEVELS = ["A", "B", "C", "D"]
POSITIONS = ["总经理", "采购经理", "财务", "行政主管", "技术负责人"]
PRODUCTS = [
    ("净水器 A1", 1999),
    ("净水器 Pro", 3999),
    ("滤芯套装", 299),
    ("空气净化器", 2599),
    ("加湿器", 399),
    ("智能门锁", 1599),
    ("扫地机器人", 2299),
    ("延保服务一年", 199),
]
SIMULATOR_NUMBERS = [f"55512{n:02d}" for n in range(34, 100)]  # 5551234..5551299


def person_name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def company_name(rng: random.Random) -> tuple[str, str, str]:
    city, area = rng.choice(CITIES)
    brand = "".join(rng.sample(BRANDS, 2))
    return f"{city}{brand}{rng.choice(TRADES)}有限公司", city, area


def mobile(rng: random.Random) -> str:
    return f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"


def customer_rows(rng: random.Random, first_id: int, count: int, now: Any) -> Iterator[dict[str, Any]]:
    """Plain rows for ``customers``, ids from ``first_id``; a tenth are people, the rest companies."""
    for i in range(count):
        if rng.random() < 0.1:
            name, (city, _area) = person_name(rng), rng.choice(CITIES)
            kind = "person"
        else:
            name, city, _area = company_name(rng)
            kind = "company"
        yield {
            "id": first_id + i,
            "name": name,
            "kind": kind,
            "category": PERSON_CATEGORY if kind == "person" else rng.choice(COMPANY_CATEGORIES),
            "region": city,
            "source": rng.choice(SOURCES),
            "level": rng.choice(LEVELS),
            "status": "active",
            "address": f"{city}市{rng.choice(STREETS)}{rng.randrange(1, 999)}号",
            "notes": "",
            "custom": {},
            "created_at": now,
            "updated_at": now,
        }


def phone_row(customer_id: int, raw: str, contact_id: int | None = None) -> dict[str, Any]:
    key = normalize(raw)
    return {
        "customer_id": customer_id,
        "contact_id": contact_id,
        "raw": raw,
        "key": key.key,
        "kind": key.kind,
        "extension": key.extension,
        "label": "",
        "created_at": utcnow(),
    }


def _next_id(session: Session, model: Any) -> int:
    return int(session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0) + 1


def _organisation(session: Session, password: str) -> tuple[list[User], dict[str, Department]]:
    roles = {r.name: r for r in session.scalars(select(Role))}
    head = Department(name="总部 Headquarters", path="/")
    session.add(head)
    session.flush()
    head.path = f"/{head.id}/"
    departments = {"head": head}
    for key, name in (("service", "客服中心 Service center"), ("sales", "销售部 Sales")):
        dept = Department(name=name, parent_id=head.id, path=head.path)
        session.add(dept)
        session.flush()
        dept.path = f"{head.path}{dept.id}/"
        departments[key] = dept
    pw_hash = hash_password(password)
    users = [
        User(
            username="admin",
            display_name="系统管理员",
            password_hash=pw_hash,
            roles=[roles["admin"]],
            department_id=head.id,
        ),
        User(
            username="supervisor",
            display_name="客服班长",
            password_hash=pw_hash,
            roles=[roles["supervisor"]],
            department_id=departments["service"].id,
        ),
    ]
    rng = random.Random(1001)
    for n in range(1001, 1011):
        dept = departments["service"] if n <= 1007 else departments["sales"]
        users.append(
            User(
                username=str(n),
                display_name=person_name(rng),
                password_hash=pw_hash,
                roles=[roles["agent"]],
                department_id=dept.id,
                extension=str(n),
                agent_number=str(n),
            )
        )
    session.add_all(users)
    session.flush()
    session.add_all(
        Seat(name=f"坐席-{n}", extension=str(n), department_id=u.department_id, user_id=u.id)
        for n, u in zip(range(1001, 1011), users[2:], strict=True)
    )
    return users, departments


def _catalogue(session: Session) -> list[Product]:
    category = ProductCategory(name="家用电器")
    supplier = Supplier(name="深圳华鑫电器有限公司", contact_name="陈经理", phone="0755-82345678")
    session.add_all([category, supplier])
    session.flush()
    products = [
        Product(
            sku=f"P{i + 1:04d}",
            name=name,
            category_id=category.id,
            supplier_id=supplier.id,
            price=Decimal(price),
            price_floor=Decimal(price) * Decimal("0.8"),
            price_ceiling=Decimal(price) * Decimal("1.2"),
            stock=100_000,
        )
        for i, (name, price) in enumerate(PRODUCTS)
    ]
    session.add_all(products)
    session.flush()
    return products


def seed_demo(session: Session, customers: int = 2000, *, password: str, seed: int = 7) -> None:
    """Fill an empty, migrated database with a demo data set. Prints nothing."""
    rng = random.Random(seed)
    now = utcnow()
    users, _departments = _organisation(session, password)
    agents = users[2:]
    products = _catalogue(session)
    first = _next_id(session, Customer)
    rows = list(customer_rows(rng, first, customers, now))
    for row in rows:
        owner = rng.choice(agents) if rng.random() < 0.8 else None
        row.update(
            owner_id=owner.id if owner else None,
            department_id=owner.department_id if owner else None,
            status="active" if owner else "pool",
            claimed_at=now if owner else None,
        )
    session.execute(insert(Customer), rows)
    contacts, phones = [], []
    contact_id = _next_id(session, Contact)
    for i, row in enumerate(rows):
        cid = row["id"]
        number = SIMULATOR_NUMBERS[i] if i < len(SIMULATOR_NUMBERS) else mobile(rng)
        phones.append(phone_row(cid, number))
        if row["kind"] == "company":
            area = next(a for c, a in CITIES if c == row["region"])
            phones.append(phone_row(cid, f"0{area}-{rng.randrange(2, 9)}{rng.randrange(10**7):07d}"))
            contacts.append(
                {
                    "id": contact_id,
                    "customer_id": cid,
                    "name": person_name(rng),
                    "position": rng.choice(POSITIONS),
                    "is_primary": True,
                    "gender": "",
                    "email": "",
                    "notes": "",
                    "created_at": now,
                    "updated_at": now,
                }
            )
            phones.append(phone_row(cid, mobile(rng), contact_id))
            contact_id += 1
    session.execute(insert(Contact), contacts)
    session.execute(insert(Phone), phones)
    _tickets_and_orders(session, rng, rows, agents, products, now)
    session.flush()


def _tickets_and_orders(
    session: Session,
    rng: random.Random,
    rows: list[dict[str, Any]],
    agents: list[User],
    products: list[Product],
    now: Any,
) -> None:
    types = list(session.scalars(select(TicketType)))
    first_step = dict(
        session.execute(
            select(WorkflowStep.workflow_id, func.min(WorkflowStep.position)).group_by(WorkflowStep.workflow_id)
        ).all()
    )
    titles = {
        "consult": "咨询产品价格",
        "complaint": "投诉送货延迟",
        "report": "设备报修：不出水",
        "other": "变更联系地址",
    }
    tickets, orders = [], []
    for row in rows:
        agent = rng.choice(agents)
        if rng.random() < 0.3:
            kind = rng.choice(types)
            created = now - timedelta(hours=rng.randrange(1, 24 * 30))
            tickets.append(
                {
                    "title": titles.get(kind.code, kind.name),
                    "description": "",
                    "type_id": kind.id,
                    "priority": rng.choice(["low", "normal", "normal", "high", "urgent"]),
                    "status": rng.choice(["open", "in_progress", "resolved", "closed"]),
                    "customer_id": row["id"],
                    "workflow_id": kind.workflow_id,
                    "step_position": first_step.get(kind.workflow_id, 0) if kind.workflow_id else 0,
                    "owner_id": agent.id,
                    "assignee_id": agent.id,
                    "department_id": agent.department_id,
                    "due_at": created + timedelta(hours=kind.sla_hours),
                    "followup_note": "",
                    "created_at": created,
                    "updated_at": created,
                }
            )
        if rng.random() < 0.25:
            orders.append((row["id"], agent, rng.sample(products, rng.randrange(1, 3))))
    if tickets:
        session.execute(insert(Ticket), tickets)
    for n, (customer_id, agent, chosen) in enumerate(orders, start=_next_id(session, Order)):
        lines = [
            OrderLine(product_id=p.id, quantity=q, unit_price=p.price, amount=p.price * q)
            for p in chosen
            for q in [rng.randrange(1, 4)]
        ]
        session.add(
            Order(
                number=f"SO-DEMO-{n:06d}",
                customer_id=customer_id,
                owner_id=agent.id,
                department_id=agent.department_id,
                status=rng.choice(["draft", "in_approval", "completed"]),
                lines=lines,
                total=sum((ln.amount for ln in lines), Decimal("0")),
                created_at=now - timedelta(days=rng.randrange(0, 90)),
            )
        )
