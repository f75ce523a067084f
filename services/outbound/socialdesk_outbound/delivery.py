"""What outbound knows about each delivery (a reply, or a post from one account), and
what it does next (no Kafka here).

A delivery's record moves `sending` -> `sent` | `retrying` -> `sending` ... | `undeliverable`.
`sending` is written (and acknowledged) before every call to the platform, so a record
still `sending` after a restart means a call may have reached the platform without its
answer being kept: `decide` resends it only where the publisher is idempotent, and
otherwise marks it `unconfirmed` for an operator to check, rather than post it twice.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any, Literal

from socialdesk.backoff import delay_for
from socialdesk.events import Actor, AuditEvent
from socialdesk_outbound.reply import OutboundReply, PermanentSendError, TemporarySendError

SYSTEM = Actor(kind="system", id="outbound")
Status = Literal["sending", "retrying", "sent", "undeliverable", "unconfirmed"]
FINAL: frozenset[str] = frozenset({"sent", "undeliverable", "unconfirmed"})
UNCONFIRMED = (
    "may have been sent: outbound stopped while the platform was answering; "
    "check the platform before replying again"
)


@dataclass(frozen=True)
class DeliveryRecord:
    """The changelog value for one reply (keyed by its event id)."""

    status: Status
    attempts: int = 0
    platform_id: str | None = None
    error: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> DeliveryRecord:
        return cls(**json.loads(raw))


class Action(Enum):
    SEND = "send"
    SKIP = "skip"  # done already: sent, refused for good, or handed to an operator
    FLAG = "flag"  # may have reached the platform and cannot be resent safely


def decide(record: DeliveryRecord | None, idempotent: bool) -> Action:
    """What to do with a reply given what the store says about it."""
    if record is None or record.status == "retrying":
        return Action.SEND  # never sent, or the platform refused the last attempt
    if record.status in FINAL:
        return Action.SKIP
    return Action.SEND if idempotent else Action.FLAG


MAX_RETRY_AFTER = 24 * 3600.0  # X's daily window is the longest a platform asks for


def backoff(attempt: int, max_delay: float) -> float:
    """0.5 s, 1 s, 2 s, ... capped: quick for a blip, gentle for an outage."""
    return delay_for(attempt, 0.5, max_delay)


@dataclass(frozen=True)
class Delivery:
    status: str  # delivered | undeliverable
    attempts: int
    platform_id: str | None = None
    error: str | None = None
    reason: str | None = None  # credentials | reply_by_hand, for the page and the alert


async def _nothing(attempt: int) -> None:
    return None


async def deliver(
    send: Callable[[], Awaitable[str]],
    max_delay: float,
    on_failure: Callable[[int, str, float], Awaitable[None]],
    stopping: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    before_attempt: Callable[[int], Awaitable[None]] = _nothing,
) -> Delivery | None:
    """Send (a reply, or a post from one account) until it works or fails for good; None
    only if the service is stopping (the offset is then not committed, so it is sent
    after the restart). A platform's Retry-After is waited out in full."""
    attempt = 0
    while True:
        attempt += 1
        await before_attempt(attempt)
        try:
            pid = await send()
            return Delivery("delivered", attempt, platform_id=pid)
        except PermanentSendError as exc:
            return Delivery("undeliverable", attempt, error=str(exc), reason=exc.reason)
        except TemporarySendError as exc:
            delay = max(backoff(attempt - 1, max_delay), min(exc.retry_after or 0, MAX_RETRY_AFTER))
            await on_failure(attempt, str(exc), delay)
            if stopping():
                return None
            await sleep(delay)


class _Stopping(Exception):
    """The service stopped while waiting for room under an account's rate limit."""


async def deliver_recorded(
    send: Callable[[], Awaitable[str]],
    *,
    room: Callable[[], Awaitable[bool]],
    record: Callable[[DeliveryRecord, tuple[AuditEvent, ...]], Awaitable[None]],
    failure_audit: Callable[[int, str, float], AuditEvent],
    max_delay: float,
    stopping: Callable[[], bool],
) -> Delivery | None:
    """One delivery as replies and posts both make it: room under the account's rate
    limit, `sending` recorded before each platform call (so a crash mid-call is flagged,
    never resent), `retrying` recorded and audited after a temporary failure. None if
    the service is stopping."""

    async def sending(attempt: int) -> None:
        if not await room():
            raise _Stopping()
        await record(DeliveryRecord("sending", attempt), ())

    async def failed(attempt: int, error: str, delay: float) -> None:
        audit = failure_audit(attempt, error[:300], delay)
        await record(DeliveryRecord("retrying", attempt, error=error[:300]), (audit,))

    try:
        return await deliver(send, max_delay, failed, stopping, before_attempt=sending)
    except _Stopping:
        return None


def delivery_audit(reply: OutboundReply, action: str, **details: Any) -> AuditEvent:
    """The audit.events record of one attempt's outcome, on the item it answers."""
    return AuditEvent.by_system(
        SYSTEM.id,
        action,
        force=reply.force,
        target_id=reply.item_id,
        details={
            "event_id": reply.event_id,
            "platform": reply.platform,
            "account": reply.account,
            **details,
        },
    )


def outcome_audit(reply: OutboundReply, result: Delivery) -> AuditEvent:
    """`reply.delivered` or `reply.undeliverable`, as the workspace shows them."""
    action = "reply.delivered" if result.status == "delivered" else "reply.undeliverable"
    extra: dict[str, Any] = {"reason": result.reason} if result.reason else {}
    if result.reason == "reply_by_hand":
        extra["text"] = reply.text  # the item page offers it to copy and post by hand
    return delivery_audit(
        reply,
        action,
        attempts=result.attempts,
        platform_id=result.platform_id,
        error=result.error,
        **extra,
    )


def unconfirmed_audit(reply: OutboundReply, record: DeliveryRecord) -> AuditEvent:
    """`reply.undeliverable` for a reply that may have gone: the operator checks."""
    return delivery_audit(
        reply,
        "reply.undeliverable",
        attempts=record.attempts,
        platform_id=None,
        error=UNCONFIRMED,
        may_have_been_sent=True,
    )
