"""Delivery channels: e-mail over SMTP, SMS through an HTTP gateway, and a log-only channel for the demo.

Every channel takes an :class:`Outgoing` and answers a :class:`Delivery`; none raises for a refused or
failed send, so the outbox records each outcome as the message's status.
"""

from __future__ import annotations

from config import Settings
from crm_core.messaging.channels.base import Channel, Delivery, Outgoing
from crm_core.messaging.channels.http_sms import HttpSmsGateway
from crm_core.messaging.channels.log import LogChannel
from crm_core.messaging.channels.smtp import SmtpChannel, build_email

__all__ = ["Channel", "Delivery", "HttpSmsGateway", "LogChannel", "Outgoing", "SmtpChannel", "build_email",
           "channels_from_settings"]


def channels_from_settings(settings: Settings) -> dict[str, Channel]:
    """E-mail over SMTP when ``CC_SMTP_HOST`` is set, SMS by ``CC_SMS_GATEWAY_KIND``; the log otherwise."""
    email: Channel = (
        SmtpChannel(
            settings.smtp_host,
            settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=settings.smtp_password,
            tls=settings.smtp_tls,
            timeout_s=settings.messaging_send_timeout_s,
        )
        if settings.smtp_host
        else LogChannel("email")
    )
    sms: Channel = (
        HttpSmsGateway(settings.sms_gateway_url, settings.sms_gateway_key, timeout_s=settings.messaging_send_timeout_s)
        if settings.sms_gateway_kind == "http"
        else LogChannel("sms")
    )
    return {"email": email, "sms": sms}
