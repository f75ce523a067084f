"""Sending replies to the platforms, without ever losing one.

The outbox is items.events itself. An operator's reply becomes a `reply` command; assign
records it as a `replied` event (the log of record, kept for ever). The ReplyDispatcher
is a consumer group over items.events inside console-api: for each `replied` event it
calls the platform's publisher, retrying temporary failures (network, 429, 5xx) with
exponential backoff for as long as it takes, and commits the offset only after the send
succeeded or failed for good. Each attempt's outcome is an audit.events record on the
item (`reply.delivered`, `reply.send_failed`, `reply.undeliverable`), which the
workspace shows. A crash replays from the last commit; a reply already recorded as
delivered (audit index, or the recorder's own file) is not sent twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import httpx
from aiokafka.structs import TopicPartition

from socialdesk.events import Actor, AuditEvent, ItemEvent, utcnow
from socialdesk.kafka import BatchResult, Meta, Output, StreamProcessor
from socialdesk.settings import ConsoleSettings
from socialdesk.topics import AUDIT_EVENTS, ITEMS_EVENTS

log = logging.getLogger(__name__)
SYSTEM = Actor(kind="system", id="console-replies")


class TemporarySendError(Exception):
    """Worth retrying: the platform is down, slow or rate-limiting."""


class PermanentSendError(Exception):
    """Retrying won't help (rejected content, deleted post, no publisher): an operator acts."""


@dataclass(frozen=True)
class OutboundReply:
    event_id: str  # "<item id>:<seq>": the idempotency key
    item_id: str
    force: str | None
    platform: str
    channel: str
    in_reply_to: str | None  # the platform's id of the message answered
    author_id: str
    text: str


def outbound_from_event(ev: ItemEvent) -> OutboundReply | None:
    """The reply a `replied` event asks us to send (its last outbound message)."""
    item = ev.item
    if ev.type != "replied" or item is None:
        return None
    outbound = [m for m in item.messages if m.direction == "outbound"]
    if not outbound:
        return None
    inbound = [m for m in item.messages if m.direction == "inbound" and m.mention_id]
    last_in = inbound[-1].mention_id if inbound else None
    return OutboundReply(
        event_id=ev.event_id,
        item_id=item.id,
        force=item.force,
        platform=item.platform.value,
        channel=item.channel.value,
        in_reply_to=last_in.split(":", 1)[1] if last_in and ":" in last_in else last_in,
        author_id=item.author.id,
        text=outbound[-1].text,
    )


class Publisher(Protocol):
    async def send(self, reply: OutboundReply) -> str:
        """Send; return the platform's id for the message sent."""


def _classify(resp: httpx.Response, platform: str) -> None:
    if resp.status_code == 429 or resp.status_code >= 500:
        raise TemporarySendError(f"{platform} answered {resp.status_code}")
    if resp.status_code >= 400:
        raise PermanentSendError(
            f"{platform} refused the reply ({resp.status_code}): {resp.text[:200]}"
        )


class XPublisher:
    """X API v2: a reply to a post, or a direct message to the author."""

    def __init__(self, base_url: str, token: str | None, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = http

    async def send(self, reply: OutboundReply) -> str:
        if not self.token:
            raise PermanentSendError("no X credentials configured (SOCIALDESK_X_BEARER_TOKEN)")
        headers = {"Authorization": f"Bearer {self.token}"}
        if reply.channel == "direct_message":
            url = f"{self.base_url}/2/dm_conversations/with/{reply.author_id}/messages"
            body: dict[str, Any] = {"text": reply.text}
        else:
            url = f"{self.base_url}/2/tweets"
            body = {"text": reply.text}
            if reply.in_reply_to:
                body["reply"] = {"in_reply_to_tweet_id": reply.in_reply_to}
        try:
            resp = await self.http.post(url, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise TemporarySendError(f"X unreachable: {exc!r}") from exc
        _classify(resp, "X")
        data = resp.json().get("data") or {}
        return str(data.get("id") or data.get("dm_event_id") or "")


class MetaPublisher:
    """Graph API for Facebook and Instagram: a comment reply, or a message."""

    def __init__(self, base_url: str, token: str | None, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.http = http

    async def send(self, reply: OutboundReply) -> str:
        if not self.token:
            raise PermanentSendError("no Meta credentials configured (SOCIALDESK_META_PAGE_TOKEN)")
        params = {"access_token": self.token}
        if reply.channel == "direct_message":
            url = f"{self.base_url}/me/messages"
            body: dict[str, Any] = {
                "recipient": {"id": reply.author_id},
                "message": {"text": reply.text},
                "messaging_type": "RESPONSE",
            }
        elif reply.in_reply_to:
            edge = "replies" if reply.platform == "instagram" else "comments"
            url = f"{self.base_url}/{reply.in_reply_to}/{edge}"
            body = {"message": reply.text}
        else:
            raise PermanentSendError("nothing to reply to on this platform message")
        try:
            resp = await self.http.post(url, json=body, params=params)
        except httpx.HTTPError as exc:
            raise TemporarySendError(f"{reply.platform} unreachable: {exc!r}") from exc
        _classify(resp, reply.platform)
        data = resp.json()
        return str(data.get("id") or data.get("message_id") or "")


class RecorderPublisher:
    """Development: appends each reply to a JSONL file instead of posting it. Idempotent
    by event id, so a replayed event is recorded once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sent: set[str] = set()
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    self.sent.add(json.loads(line)["event_id"])
                except (ValueError, KeyError):
                    continue

    async def send(self, reply: OutboundReply) -> str:
        if reply.event_id not in self.sent:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps({**asdict(reply), "sent_at": utcnow().isoformat()}) + "\n"
            await asyncio.to_thread(_append, self.path, line)
            self.sent.add(reply.event_id)
        return f"recorded:{reply.event_id}"


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(line)
        f.flush()


class PlatformRouter:
    """One publisher per platform; platforms without one fail permanently (visible)."""

    def __init__(self, by_platform: dict[str, Publisher], fallback: Publisher | None = None):
        self.by_platform = by_platform
        self.fallback = fallback

    async def send(self, reply: OutboundReply) -> str:
        pub = self.by_platform.get(reply.platform, self.fallback)
        if pub is None:
            raise PermanentSendError(f"no publisher for {reply.platform}: reply by hand")
        return await pub.send(reply)


def make_publisher(settings: ConsoleSettings, http: httpx.AsyncClient) -> Publisher:
    if settings.publisher_mode == "recorder":
        return RecorderPublisher(settings.reply_recorder_path)
    x_token = settings.x_bearer_token.get_secret_value() if settings.x_bearer_token else None
    meta_token = settings.meta_page_token.get_secret_value() if settings.meta_page_token else None
    meta = MetaPublisher(settings.meta_graph_base_url, meta_token, http)
    return PlatformRouter(
        {
            "x": XPublisher(settings.x_api_base_url, x_token, http),
            "facebook": meta,
            "instagram": meta,
        }
    )


def backoff(attempt: int, max_delay: float) -> float:
    """0.5 s, 1 s, 2 s, ... capped: quick for a blip, gentle for an outage."""
    return float(min(max_delay, 0.5 * 2 ** min(attempt, 20)))


@dataclass(frozen=True)
class Delivery:
    status: str  # delivered | undeliverable
    attempts: int
    platform_id: str | None = None
    error: str | None = None


async def deliver(
    publisher: Publisher,
    reply: OutboundReply,
    max_delay: float,
    on_failure: Callable[[int, str, float], Awaitable[None]],
    stopping: Callable[[], bool] = lambda: False,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> Delivery | None:
    """Send until it works or fails for good; None only if the service is stopping (the
    offset is then not committed, so the reply is sent after the restart)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            pid = await publisher.send(reply)
            return Delivery("delivered", attempt, platform_id=pid)
        except PermanentSendError as exc:
            return Delivery("undeliverable", attempt, error=str(exc))
        except TemporarySendError as exc:
            delay = backoff(attempt - 1, max_delay)
            await on_failure(attempt, str(exc), delay)
            if stopping():
                return None
            await sleep(delay)


def delivery_audit(reply: OutboundReply, action: str, **details: Any) -> AuditEvent:
    return AuditEvent(
        event_id=str(uuid.uuid4()),
        at=utcnow(),
        actor=Actor(kind=SYSTEM.kind, id=SYSTEM.id, force=reply.force),
        role=None,
        action=action,
        target_type="item",
        target_id=reply.item_id,
        force=reply.force,
        details={"event_id": reply.event_id, "platform": reply.platform, **details},
    )


class Stopped(Exception):
    """The service is stopping mid-retry: leave the batch uncommitted."""


class ReplyDispatcher(StreamProcessor):
    """Processor for KafkaRuntime over items.events: sends each `replied` event's reply."""

    service = "console-replies"
    group_id = "socialdesk-console-replies"
    topics: Sequence[str] = (ITEMS_EVENTS,)

    def __init__(
        self,
        settings: ConsoleSettings,
        publisher: Publisher,
        write_audit: Callable[[list[AuditEvent]], Awaitable[None]],
        already_delivered: Callable[[str, str], Awaitable[bool]],
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.write_audit = write_audit
        self.already_delivered = already_delivered
        self.stopping = False

    def decode(self, topic: str, raw: bytes) -> Any:
        return ItemEvent.model_validate_json(raw)

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        outputs: list[Output] = []
        for ev, _meta in batch:
            reply = outbound_from_event(ev)
            if reply is None or ev.actor.kind != "operator":
                continue
            if await self.already_delivered(reply.item_id, reply.event_id):
                continue

            async def failed(
                attempt: int, error: str, delay: float, r: OutboundReply = reply
            ) -> None:
                log.warning(
                    "reply send failed, will retry", extra={"item": r.item_id, "attempt": attempt}
                )
                try:
                    await self.write_audit(
                        [
                            delivery_audit(
                                r,
                                "reply.send_failed",
                                attempt=attempt,
                                error=error[:300],
                                retry_in_s=delay,
                            )
                        ]
                    )
                except Exception:
                    log.debug("could not record a failed attempt", exc_info=True)

            result = await deliver(
                self.publisher,
                reply,
                self.settings.reply_retry_max_delay_s,
                failed,
                lambda: self.stopping,
            )
            if result is None:
                raise Stopped()
            action = "reply.delivered" if result.status == "delivered" else "reply.undeliverable"
            ev_out = delivery_audit(
                reply,
                action,
                attempts=result.attempts,
                platform_id=result.platform_id,
                error=result.error,
            )
            outputs.append(Output(AUDIT_EVENTS, ev_out.actor.id, ev_out))
        return BatchResult(outputs=outputs)

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        return None

    async def on_revoke(self, partitions: set[TopicPartition]) -> None:
        return None
