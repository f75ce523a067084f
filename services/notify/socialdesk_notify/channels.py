"""Sending one notification: email over SMTP, or a signed webhook (a pager, a Teams or
Slack bridge, the force control room). Each attempt is classified: delivered, worth
retrying (network, timeouts, 408/429/5xx, SMTP 4xx) or refused for good (other 4xx,
SMTP 5xx). Receivers get the notification id as an idempotency key
(`X-Socialdesk-Idempotency-Key`, and a Message-ID derived from it), so even the one
window no sender can close (a crash after the receiver accepted, before our record of
it is written) leaves them able to drop the repeat."""

from __future__ import annotations

import asyncio
import hashlib
import json
import smtplib
import time
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate

import httpx

from socialdesk.events import Notification
from socialdesk.settings import NotifySettings
from socialdesk.signing import HEADER, signature


class Temporary(Exception):
    """Worth another attempt later."""


class Permanent(Exception):
    """Retrying will not help: refused, misaddressed, or no secret."""


def message_id(notification_id: str) -> str:
    return f"<{hashlib.sha256(notification_id.encode()).hexdigest()[:32]}@socialdesk>"


def email_message(n: Notification, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = ", ".join(n.target.to)
    msg["Subject"] = n.subject
    msg["Date"] = formatdate(n.created_at.timestamp(), usegmt=True)
    msg["Message-ID"] = message_id(n.notification_id)
    msg["X-Socialdesk-Idempotency-Key"] = n.notification_id
    msg["X-Priority"] = "1" if n.priority.value == "P1" else "3"
    msg.set_content(n.text)
    return msg


def _smtp_send(settings: NotifySettings, msg: EmailMessage) -> None:
    try:
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s
        ) as s:
            if settings.smtp_starttls:
                s.starttls()
            if settings.smtp_username:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                s.login(settings.smtp_username, password)
            s.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        raise Permanent(f"every recipient refused: {sorted(exc.recipients)}") from exc
    except smtplib.SMTPResponseException as exc:
        code = exc.smtp_code
        text = f"SMTP {code}: {exc.smtp_error!r}"[:300]
        raise (Permanent(text) if 500 <= code < 600 else Temporary(text)) from exc
    except (OSError, smtplib.SMTPException) as exc:
        raise Temporary(f"SMTP relay unreachable: {exc!r}"[:300]) from exc


class Sender:
    """Delivers notifications; `secret_for(force, channel)` gives the HMAC key."""

    def __init__(
        self,
        settings: NotifySettings,
        http: httpx.AsyncClient,
        secret_for: Callable[[str | None, str], str | None],
    ) -> None:
        self.settings = settings
        self.http = http
        self.secret_for = secret_for

    async def send(self, n: Notification) -> str:
        """Deliver once; return a short receipt, or raise Temporary / Permanent."""
        if n.target.type == "email":
            await asyncio.to_thread(
                _smtp_send, self.settings, email_message(n, self.settings.smtp_from)
            )
            return f"smtp:{message_id(n.notification_id)}"
        return await self._webhook(n)

    async def _webhook(self, n: Notification) -> str:
        secret = self.secret_for(n.force, n.target.channel)
        if not secret or not n.target.url:
            raise Permanent(f"no URL or secret for channel {n.target.channel}")
        body = json.dumps(n.payload, separators=(",", ":"), sort_keys=True).encode()
        headers = {
            "Content-Type": "application/json",
            HEADER: signature(secret, body, int(time.time())),
            "X-Socialdesk-Idempotency-Key": n.notification_id,
            "X-Socialdesk-Kind": n.kind,
            "User-Agent": "socialdesk-notify/1",
        }
        try:
            resp = await self.http.post(
                n.target.url, content=body, headers=headers, timeout=self.settings.webhook_timeout_s
            )
        except httpx.HTTPError as exc:
            raise Temporary(f"{n.target.channel} unreachable: {exc!r}"[:300]) from exc
        if resp.status_code in (408, 429) or resp.status_code >= 500:
            raise Temporary(f"{n.target.channel} answered {resp.status_code}")
        if resp.status_code >= 400:
            raise Permanent(f"{n.target.channel} refused ({resp.status_code}): {resp.text[:200]}")
        return f"http:{resp.status_code}"
