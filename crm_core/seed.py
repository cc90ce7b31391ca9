"""Demo data made by code: departments, users with extensions, customers with Chinese names and
phone numbers (including those the PBX simulator calls from), products, tickets, orders standing at
every step of the order workflow (each one a handler can take on) and a knowledge base."""

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
    KbArticle,
    KbCategory,
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
    Workflow,
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
    seed_knowledge_base(session, users[0])
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
    order_flow = session.scalar(select(Workflow).where(Workflow.kind == "order").order_by(Workflow.id))
    steps = list(order_flow.steps) if order_flow is not None else []
    # draft, then in approval at each step in turn, then completed: every step has orders waiting
    stages: list[WorkflowStep | str | None] = ["draft", *steps, "completed"] if steps else ["draft"]
    for n, (customer_id, agent, chosen) in enumerate(orders, start=_next_id(session, Order)):
        lines = [
            OrderLine(product_id=p.id, quantity=q, unit_price=p.price, amount=p.price * q)
            for p in chosen
            for q in [rng.randrange(1, 4)]
        ]
        order = Order(
            number=f"SO-DEMO-{n:06d}",
            customer_id=customer_id,
            owner_id=agent.id,
            department_id=agent.department_id,
            workflow_id=order_flow.id if order_flow is not None else None,
            status="draft",
            lines=lines,
            total=sum((ln.amount for ln in lines), Decimal("0")),
            created_at=now - timedelta(days=rng.randrange(0, 90)),
        )
        _stand_at(order, stages[n % len(stages)], steps, rng)
        session.add(order)


def _stand_at(order: Order, stage: WorkflowStep | str | None, steps: list[WorkflowStep], rng: random.Random) -> None:
    """Put a seeded order where the workflow would have left it: at ``stage`` (a step, or draft or
    completed) with what the steps before it recorded (shipment, payment, receipt, follow-up)."""
    if stage == "draft" or stage is None:
        return
    if stage == "completed":
        order.status, order.step_position, done = "completed", steps[-1].position, steps
    else:
        assert isinstance(stage, WorkflowStep)
        order.status, order.step_position = "in_approval", stage.position
        done = steps[: steps.index(stage)]
    actions = {step.action for step in done}
    if "shipping" in actions:
        order.carrier, order.tracking_number = (
            rng.choice(["顺丰速运", "京东物流", "中通快递"]),
            f"SF{rng.randrange(10**12):012d}",
        )
        order.shipped_at = order.created_at + timedelta(days=1)
    if "payment" in actions:
        order.paid_amount, order.paid_at = order.total, order.created_at + timedelta(days=2)
    if "receipt" in actions:
        order.received_at = order.created_at + timedelta(days=3)
    if "followup" in actions:
        order.followup_note = "客户表示满意 the customer is satisfied"


KNOWLEDGE_BASE: dict[str, list[tuple[str, str, str]]] = {
    "产品与价格 Products and prices": [
        (
            "净水器滤芯多久更换一次 How often to change a water purifier filter",
            "PP 棉滤芯 3-6 个月，活性炭 6-12 个月，RO 膜 24 个月；水质差时提前更换。\n"
            "PP cotton 3-6 months, carbon 6-12 months, RO membrane 24 months; sooner with poor water.",
            "净水器,滤芯,保养",
        ),
        (
            "价格区间与折扣权限 Price ranges and discount authority",
            "坐席可在产品价格区间内报价；低于下限须经理审核。\n"
            "Agents quote within a product's price range; below the floor a manager must approve.",
            "价格,折扣,报价",
        ),
    ],
    "订单与物流 Orders and delivery": [
        (
            "订单审批流程 The order approval workflow",
            "审核 → 经理审核 → 发货 → 收款 → 签收确认 → 回访。每一步由该步骤的角色处理，可退回上一步。\n"
            "Review → manager review → shipping → payment → receipt → follow-up; each step's role handles it.",
            "订单,审批,流程",
        ),
        (
            "查询快递单号 Finding a tracking number",
            "订单详情的“发货”一栏有承运商和运单号；客户可在承运商官网查询。\n"
            "The order's shipping section shows the carrier and tracking number.",
            "物流,快递,运单",
        ),
        (
            "退换货规则 Returns and exchanges",
            "签收 7 天内无理由退货，15 天内质量问题换货；已收款订单走退换货流程，不能退回步骤。\n"
            "Returns within 7 days of receipt, exchanges for defects within 15 days.",
            "退货,换货,售后",
        ),
    ],
    "服务规范 Service standards": [
        (
            "标准开场白与结束语 Standard greeting and closing",
            "您好，这里是客服中心，工号 XXXX，很高兴为您服务。……感谢您的来电，祝您生活愉快！\n"
            "Hello, customer service, agent number XXXX speaking. … Thank you for calling.",
            "话术,开场白,规范",
        ),
        (
            "投诉处理五步法 Handling a complaint in five steps",
            "倾听、致歉、确认问题、给出方案与时限、回访。投诉工单 8 小时内响应。\n"
            "Listen, apologise, confirm, offer a solution with a deadline, follow up. Complaints: 8 h SLA.",
            "投诉,工单,SLA",
        ),
        (
            "报修上门时间 Repair visit times",
            "工作日 9:00-18:00 预约上门，偏远地区 48 小时内。\n"
            "Visits on working days 9:00-18:00; remote areas within 48 hours.",
            "报修,上门,售后",
        ),
    ],
}


def seed_knowledge_base(session: Session, author: User) -> int:
    """Published articles in a few categories, so the desk's and the CRM's searches find answers."""
    count = 0
    for category_name, articles in KNOWLEDGE_BASE.items():
        category = KbCategory(name=category_name)
        session.add(category)
        session.flush()
        for title, body, tags in articles:
            session.add(
                KbArticle(
                    title=title,
                    body=body,
                    tags=tags,
                    category_id=category.id,
                    status="published",
                    author_id=author.id,
                    approved_by=author.id,
                )
            )
            count += 1
    return count
