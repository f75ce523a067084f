"""The audit trail's writer: every consultation or change becomes an `audit.events`
record, acknowledged by Kafka before the answer is served."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import HTTPException, Request

from socialdesk.events import Actor, AuditEvent, utcnow
from socialdesk.kafka import Output, ProducerHolder, produce_and_wait
from socialdesk.settings import ConsoleSettings
from socialdesk.topics import AUDIT_EVENTS
from socialdesk_console.auth import User
from socialdesk_console.timing import waiting_on


class AuditWriter:
    """Writes audit events and waits for Kafka: a consultation that cannot be logged is
    refused (503) rather than served unrecorded."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.holder = ProducerHolder(settings, "console-api")

    async def write(self, events: list[AuditEvent], also: list[Output] | None = None) -> None:
        """Write audit events (and any other records, e.g. a command) and wait for Kafka."""
        try:
            async with waiting_on("audit"):
                producer = await self.holder.get()
                await asyncio.wait_for(
                    produce_and_wait(
                        producer,
                        self.settings.topic_prefix,
                        [Output(AUDIT_EVENTS, e.actor.id, e) for e in events] + (also or []),
                    ),
                    timeout=15,
                )
        except Exception as exc:
            await self.close()
            raise HTTPException(503, "Kafka unavailable; nothing was changed, try again") from exc

    async def close(self) -> None:
        await self.holder.reset()


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def audit_event(
    user: User,
    request: Request,
    action: str,
    target_type: str,
    target_id: str | None,
    **details: Any,
) -> AuditEvent:
    return AuditEvent(
        event_id=str(uuid.uuid4()),
        at=utcnow(),
        actor=Actor(kind="operator", id=user.username, force=user.force),
        role=user.role,
        action=action,
        target_type=target_type,
        target_id=target_id,
        force=user.force,
        source_ip=client_ip(request),
        details={**details, "user_agent": request.headers.get("user-agent", "")[:200]},
    )
