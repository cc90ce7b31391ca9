"""What a channel is given and what it answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message ready to go: ``reference`` is our message id, handed to gateways that echo it back."""

    channel: str
    to: str
    subject: str
    body: str
    reference: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome: ``ok``; when not, ``error`` and whether trying again later may help (``transient``)."""

    ok: bool
    provider_id: str = ""
    error: str = ""
    transient: bool = False


class Channel(Protocol):
    name: str

    async def send(self, outgoing: Outgoing) -> Delivery: ...
