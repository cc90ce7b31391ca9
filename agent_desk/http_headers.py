"""Security headers on every HTTP response: a Content-Security-Policy, no framing, no sniffing.

One ASGI middleware (not ``BaseHTTPMiddleware``, which would buffer streamed recordings) adds them to
each response start. Pages load only this site's scripts; inline ``<style>`` and ``style=`` stay allowed
because the pages use them. The softphone's SIP websocket (``CC_SIP_WSS_URL``) is the only outside address
a page may connect to; no other site may put the pages in a frame.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

Scope = dict[str, Any]
Message = dict[str, Any]


def content_security_policy(sip_wss_url: str = "") -> str:
    connect = ["'self'"]
    if sip_wss_url:
        parts = urlsplit(sip_wss_url)
        if parts.scheme in ("ws", "wss") and parts.netloc:
            connect.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "media-src 'self' blob:",
            f"connect-src {' '.join(connect)}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(sip_wss_url: str = "") -> list[tuple[bytes, bytes]]:
    return [
        (b"content-security-policy", content_security_policy(sip_wss_url).encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
    ]


class SecurityHeaders:
    """ASGI middleware: ``security_headers`` on every HTTP response that does not set them itself."""

    def __init__(self, app: Any, sip_wss_url: str = "") -> None:
        self.app = app
        self.headers = security_headers(sip_wss_url)
        self.names = {name for name, _ in self.headers}

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in self.headers if h[0] not in present)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
