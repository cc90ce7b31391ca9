"""Seed roles with their permissions and data scope, ticket types, default workflows, funnel stages.

Revision ID: crm_0002
Revises: crm_0001
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "crm_0002"
down_revision: str | None = "crm_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WORK = ("read", "create", "update")
BUSINESS = ("customer", "contact", "ticket", "order", "opportunity", "call_link")

# role -> (title, data scope, {resource: actions}); frozen here as the state of this revision.
# Besides the CRM resources: recording, voicemail, report, ivr, extension (bind), supervisor (monitor).
ROLES: dict[str, tuple[str, str, dict[str, tuple[str, ...]]]] = {
    "admin": ("管理员 Administrator", "all", {"*": ("*",)}),
    "supervisor": (
        "班长 Supervisor",
        "department_tree",
        {
            **{r: (*WORK, "delete", "export", "import", "approve", "transfer", "merge", "claim") for r in BUSINESS},
            "product": (*WORK, "export"),
            "product_category": WORK,
            "supplier": WORK,
            "stock": ("read", "create"),
            "kb": (*WORK, "delete", "approve"),
            "announcement": (*WORK, "delete"),
            "user": ("read",),
            "department": ("read",),
            "seat": ("read", "update"),
            "audit": ("read",),
            "report": ("read", "export"),
            "recording": ("read", "delete", "download", "export"),
            "voicemail": ("read",),
            "supervisor": ("monitor",),
            "extension": ("bind",),
            "ivr": ("read",),
            "custom_field": ("read",),
            "workflow": ("read",),
            "ticket_type": ("read",),
        },
    ),
    "agent": (
        "坐席 Agent",
        "department",
        {
            "customer": (*WORK, "claim"),
            "contact": (*WORK, "delete"),
            "ticket": WORK,
            "order": WORK,
            "opportunity": WORK,
            "call_link": ("read", "create"),
            "product": ("read",),
            "product_category": ("read",),
            "kb": ("read", "create"),
            "announcement": ("read",),
            "recording": ("read",),
            "voicemail": ("read",),
            "extension": ("bind",),
            "custom_field": ("read",),
            "workflow": ("read",),
            "ticket_type": ("read",),
            "seat": ("read",),
        },
    ),
    "quality": (
        "质检 Quality",
        "all",
        {
            **{r: ("read",) for r in BUSINESS},
            "recording": ("read", "download", "export"),
            "report": ("read", "export"),
            "kb": ("read",),
            "announcement": ("read",),
            "audit": ("read",),
            "user": ("read",),
            "department": ("read",),
        },
    ),
}

TICKET_TYPES = [
    ("consult", "咨询 Consultation", 24),
    ("complaint", "投诉 Complaint", 8),
    ("report", "报修 Repair report", 48),
    ("other", "其他 Other", 72),
]

ORDER_STEPS = [
    ("审核 Review", "review", "agent"),
    ("经理审核 Manager review", "manager_review", "supervisor"),
    ("发货 Shipping", "shipping", "supervisor"),
    ("收款 Payment", "payment", "supervisor"),
    ("签收确认 Receipt confirmation", "receipt", "agent"),
    ("回访 Follow-up visit", "followup", "agent"),
]

TICKET_STEPS = [
    ("受理 Intake", "intake", "agent"),
    ("处理 Handling", "handle", "supervisor"),
    ("回访 Follow-up visit", "followup", "agent"),
]

STAGES = [
    ("初步接触 Initial contact", 10, "open"),
    ("需求确认 Needs confirmed", 30, "open"),
    ("方案报价 Proposal", 50, "open"),
    ("谈判 Negotiation", 80, "open"),
    ("赢单 Won", 100, "won"),
    ("输单 Lost", 0, "lost"),
]


def upgrade() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    roles = sa.Table("roles", meta, autoload_with=conn)
    perms = sa.Table("permissions", meta, autoload_with=conn)
    workflows = sa.Table("workflows", meta, autoload_with=conn)
    steps = sa.Table("workflow_steps", meta, autoload_with=conn)
    types = sa.Table("ticket_types", meta, autoload_with=conn)
    stages = sa.Table("opportunity_stages", meta, autoload_with=conn)
    now = sa.func.now()

    role_ids: dict[str, int] = {}
    for name, (title, scope, grants) in ROLES.items():
        role_ids[name] = conn.execute(
            roles.insert().values(name=name, title=title, data_scope=scope).returning(roles.c.id)
        ).scalar_one()
        rows = [
            {"role_id": role_ids[name], "resource": resource, "action": action}
            for resource, actions in grants.items()
            for action in actions
        ]
        conn.execute(perms.insert(), rows)

    def workflow(name: str, kind: str, spec: list[tuple[str, str, str]]) -> int:
        wf_id: int = conn.execute(
            workflows.insert().values(name=name, kind=kind, created_at=now, updated_at=now).returning(workflows.c.id)
        ).scalar_one()
        conn.execute(
            steps.insert(),
            [
                {
                    "workflow_id": wf_id,
                    "position": i,
                    "name": title,
                    "action": action,
                    "assignee_role_id": role_ids[role],
                }
                for i, (title, action, role) in enumerate(spec)
            ],
        )
        return wf_id

    ticket_wf = workflow("默认工单流程 Default ticket workflow", "ticket", TICKET_STEPS)
    workflow("默认订单审批 Default order approval", "order", ORDER_STEPS)
    conn.execute(
        types.insert(),
        [{"code": c, "name": n, "sla_hours": h, "workflow_id": ticket_wf} for c, n, h in TICKET_TYPES],
    )
    conn.execute(
        stages.insert(),
        [{"name": n, "position": i, "probability": p, "outcome": o} for i, (n, p, o) in enumerate(STAGES)],
    )


def downgrade() -> None:
    for table in (
        "opportunity_stages",
        "ticket_types",
        "workflow_steps",
        "workflows",
        "permissions",
        "roles",
    ):
        op.execute(sa.text(f"DELETE FROM {table}"))
