"""E-mail over SMTP with the standard library (smtplib, email): UTF-8 subject and body, STARTTLS or TLS.

smtplib blocks, so each send runs in a worker thread; one connection per message keeps a failed
session from poisoning the next one.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from crm_core.messaging.channels.base import Delivery, Outgoing


def build_email(outgoing: Outgoing, sender: str) -> EmailMessage:
    """The message as sent: plain text in UTF-8, the subject RFC 2047-encoded when not ASCII."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = outgoing.to
    message["Subject"] = outgoing.subject
    message["Date"] = formatdate(localtime=False)
    domain = sender.rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(idstring=outgoing.reference, domain=domain)
    message["X-Callcenter-Message"] = outgoing.reference
    message.set_content(outgoing.body, subtype="plain", charset="utf-8")
    return message


class SmtpChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        user: str = "",
        password: str = "",
        tls: str = "starttls",
        timeout_s: float = 30.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.user, self.password, self.tls = user, password, tls
        self.timeout_s = timeout_s
        self.ssl_context = ssl_context

    def _send_blocking(self, outgoing: Outgoing) -> Delivery:
        message = build_email(outgoing, self.sender)
        context = self.ssl_context or ssl.create_default_context()
        try:
            if self.tls == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout_s, context=context)
            else:
                client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
            with client:
                if self.tls == "starttls":
                    client.starttls(context=context)
                if self.user:
                    client.login(self.user, self.password)
                refused = client.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            return Delivery(ok=False, error=_refusal(exc.recipients), transient=False)
        except smtplib.SMTPResponseException as exc:
            text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc)
            return Delivery(ok=False, error=f"SMTP {exc.smtp_code} {text}"[:500], transient=400 <= exc.smtp_code < 500)
        except (OSError, smtplib.SMTPException) as exc:
            return Delivery(ok=False, error=f"SMTP {type(exc).__name__}: {exc}"[:500], transient=True)
        if refused:
            return Delivery(ok=False, error=_refusal(refused), transient=False)
        return Delivery(ok=True, provider_id=str(message["Message-ID"]))

    async def send(self, outgoing: Outgoing) -> Delivery:
        return await asyncio.to_thread(self._send_blocking, outgoing)


def _refusal(recipients: dict[str, tuple[int, bytes]]) -> str:
    parts = [f"{to}: {code} {reply.decode('utf-8', 'replace')}" for to, (code, reply) in recipients.items()]
    return f"SMTP refused {'; '.join(parts)}"[:500]
