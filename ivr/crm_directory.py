"""The IVR's :class:`~ivr.directory.CustomerDirectory` over crm_core (phone index, orders, tickets).

VIP and blacklist come from the customer record: ``level`` ``VIP`` or a truthy ``vip`` custom field;
a truthy ``blacklisted`` custom field (or status ``blacklisted``). A callback request becomes a ticket
of type ``callback`` (else ``other``), high priority, linked to the call, and a callback due at once for the
agents of ``callback_queue`` (crm_core.services.outbound).
Database work runs in a thread so the FastAGI loop never blocks.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.lookup import lookup
from crm_core.models import Customer, Order, Ticket, TicketType
from crm_core.models.base import utcnow
from crm_core.services.calls import link_call
from crm_core.services.outbound import schedule_callback

CALLBACK_TYPES = ("callback", "other")


def customer_facts(row: dict[str, Any], custom: dict[str, Any] | None, status: str = "") -> dict[str, Any]:
    """What the IVR branches on, from a lookup row and the customer's custom fields."""
    custom = custom or {}
    level = str(row.get("level") or "")
    return {
        "id": row.get("id"),
        "name": row.get("name") or "",
        "category": row.get("category") or "",
        "vip": level.upper() == "VIP" or bool(custom.get("vip")),
        "blacklisted": bool(custom.get("blacklisted")) or status == "blacklisted",
    }


def order_status(order: Order) -> str:
    """One word for the status prompt: void, received, shipped, paid, processing or completed."""
    if order.status == "void":
        return "void"
    for status, moment in (("received", order.received_at), ("shipped", order.shipped_at),
                           ("paid", order.paid_at)):
        if moment is not None:
            return status
    return "completed" if order.status == "completed" else "processing"


class CrmDirectory:
    def __init__(
        self, factory: sessionmaker[Session], default_region: str = "CN", callback_queue: str = "support"
    ) -> None:
        self.factory = factory
        self.region = default_region
        self.callback_queue = callback_queue  # its agents see the request on the desk, due at once

    async def find_by_number(self, number: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._find_by_number, number)

    async def find_order(self, order_no: str) -> dict[str, Any] | None:
        return await asyncio.to_thread(self._find_order, order_no)

    async def create_callback(self, number: str, call_id: str, note: str) -> None:
        await asyncio.to_thread(self._create_callback, number, call_id, note)

    def _find_by_number(self, number: str) -> dict[str, Any] | None:
        with self.factory() as session:
            found = lookup(session, number, self.region).customer
            if found is None:
                return None
            customer = session.get(Customer, found["id"])
            custom = customer.custom if customer is not None else None
            return customer_facts(found, custom, found.get("status") or "")

    def _find_order(self, order_no: str) -> dict[str, Any] | None:
        with self.factory() as session:
            order = session.scalar(select(Order).where(Order.number == order_no))
            if order is None:
                return None
            return {
                "id": order.id,
                "number": order.number,
                "status": order_status(order),
                "customer_id": order.customer_id,
                "carrier": order.carrier,
                "tracking_number": order.tracking_number,
            }

    def _create_callback(self, number: str, call_id: str, note: str) -> None:
        now = utcnow()
        with self.factory() as session:
            query = select(TicketType).where(TicketType.code.in_(CALLBACK_TYPES))
            kinds = {t.code: t for t in session.scalars(query)}
            kind = kinds.get("callback") or kinds.get("other")
            if kind is None:
                raise LookupError("no ticket type 'callback' or 'other' for callback requests")
            found = lookup(session, number, self.region).customer
            ticket = Ticket(
                title=f"回拨 Callback {number}",
                description=f"{note}\n号码 number: {number}\n通话 call: {call_id}",
                type_id=kind.id,
                priority="high",
                status="open",
                customer_id=found["id"] if found else None,
                workflow_id=kind.workflow_id,
                due_at=now + timedelta(hours=kind.sla_hours),
                created_at=now,
            )
            session.add(ticket)
            session.flush()
            if call_id:
                link_call(session, call_id, ticket_id=ticket.id, customer_id=found["id"] if found else None)
            schedule_callback(
                session, phone=number, due_at=now, customer_id=found["id"] if found else None,
                queue=self.callback_queue, note=note, source="ivr", call_id=call_id, region=self.region,
            )
            session.commit()
