"""SMS through an HTTP gateway: one JSON POST per message, the key as a bearer token.

Request: ``POST <CC_SMS_GATEWAY_URL>`` with ``{"to": "+8613812345678", "text": "...", "reference": "42"}``
and ``Authorization: Bearer <CC_SMS_GATEWAY_KEY>``. A 2xx answer accepts the message; its JSON ``id``
(or ``message_id``) is kept to match later delivery reports. A 4xx answer refuses it for good; a 5xx,
a 429 or no answer may pass later and is tried again.
"""

from __future__ import annotations

import httpx

from crm_core.messaging.channels.base import Delivery, Outgoing


class HttpSmsGateway:
    name = "sms"

    def __init__(
        self, url: str, key: str, *, timeout_s: float = 30.0, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.url, self.key, self.timeout_s = url, key, timeout_s
        self.transport = transport

    async def send(self, outgoing: Outgoing) -> Delivery:
        if not self.url:
            return Delivery(ok=False, error="短信网关未配置 CC_SMS_GATEWAY_URL is not set", transient=False)
        headers = {"Authorization": f"Bearer {self.key}"} if self.key else {}
        payload = {"to": outgoing.to, "text": outgoing.body, "reference": outgoing.reference}
        try:
            async with httpx.AsyncClient(timeout=self.timeout_s, transport=self.transport) as client:
                response = await client.post(self.url, json=payload, headers=headers)
        except httpx.HTTPError as exc:
            return Delivery(ok=False, error=f"gateway {type(exc).__name__}: {exc}"[:500], transient=True)
        if response.is_success:
            return Delivery(ok=True, provider_id=_provider_id(response))
        transient = response.status_code >= 500 or response.status_code == 429
        error = f"gateway HTTP {response.status_code}: {response.text[:300]}"
        return Delivery(ok=False, error=error, transient=transient)


def _provider_id(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return str(body.get("id") or body.get("message_id") or "")[:100]
