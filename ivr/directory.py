"""What the IVR needs from the CRM, as a protocol the composition root implements over crm_core.

:class:`InMemoryDirectory` serves the tests and the demo when no database is wired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


class CustomerDirectory(Protocol):
    async def find_by_number(self, number: str) -> dict[str, Any] | None:
        """The customer calling from ``number``: name, category, vip, blacklisted (and id), or None."""
        ...

    async def find_order(self, order_no: str) -> dict[str, Any] | None:
        """The order ``order_no`` (at least ``status``), or None."""
        ...

    async def create_callback(self, number: str, call_id: str, note: str) -> None:
        """Leave a callback task for the agents."""
        ...


@dataclass(frozen=True, slots=True)
class CallbackRequest:
    number: str
    call_id: str
    note: str


@dataclass
class InMemoryDirectory:
    """Customers keyed by number and orders keyed by order number; callbacks are kept in a list."""

    customers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    orders: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    callbacks: list[CallbackRequest] = field(default_factory=list)

    async def find_by_number(self, number: str) -> dict[str, Any] | None:
        found = self.customers.get(number)
        return dict(found) if found is not None else None

    async def find_order(self, order_no: str) -> dict[str, Any] | None:
        found = self.orders.get(order_no)
        return dict(found) if found is not None else None

    async def create_callback(self, number: str, call_id: str, note: str) -> None:
        self.callbacks.append(CallbackRequest(number, call_id, note))
