"""A channel that only writes the message to the log: the demo's SMS gateway (and e-mail without SMTP)."""

from __future__ import annotations

import logging
from collections import deque

from crm_core.messaging.channels.base import Delivery, Outgoing

log = logging.getLogger(__name__)


class LogChannel:
    def __init__(self, name: str, keep: int = 200) -> None:
        self.name = name
        self.sent: deque[Outgoing] = deque(maxlen=keep)  # the last messages, for a look in the demo

    async def send(self, outgoing: Outgoing) -> Delivery:
        self.sent.append(outgoing)
        log.info("%s to %s (%s): %s %s", self.name, outgoing.to, outgoing.reference, outgoing.subject, outgoing.body)
        return Delivery(ok=True, provider_id=f"log-{outgoing.reference}")
