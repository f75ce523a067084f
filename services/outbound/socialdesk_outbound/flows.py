"""Kafka adapter for outbound: a consumer group over items.events that sends each
operator's reply to its platform (publishers.py), one at a time per partition; the
service also runs the publishing processor over posts.commands (post_flows.py), both
pacing each account under the platforms' limits (ratelimits.py).

The delivery state per reply lives in `outbound.deliveries.changelog`, a changelog-backed
store restored on assignment. Every change to it is produced and acknowledged before the
next step (not at the end of the batch, as the runtime would): `sending` before each call
to the platform, `retrying` or `sent`/`undeliverable` after it. The decision of what to
do with a reply is delivery.decide, on the record alone. Each outcome is an audit.events
record on the item (`reply.delivered`, `reply.send_failed`, `reply.undeliverable`); the
offset is committed once the batch's outcomes are written.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Sequence
from functools import partial
from typing import Any

import httpx
from prometheus_client import Counter

from socialdesk.config import load_config
from socialdesk.events import AuditEvent, ItemEvent
from socialdesk.health import make_server, ops_app, run_until_signalled
from socialdesk.kafka import (
    BatchResult,
    DurableWriter,
    KafkaRuntime,
    Meta,
    Output,
    Stopped,
    StreamProcessor,
)
from socialdesk.logs import setup_logging
from socialdesk.settings import OutboundSettings
from socialdesk.statestore import ChangelogStore
from socialdesk.topics import AUDIT_EVENTS, ITEMS_EVENTS, OUTBOUND_DELIVERIES
from socialdesk_outbound.credentials import Credentials, watch_expiry
from socialdesk_outbound.delivery import (
    Action,
    DeliveryRecord,
    Status,
    decide,
    deliver_recorded,
    delivery_audit,
    outcome_audit,
    unconfirmed_audit,
)
from socialdesk_outbound.post_flows import PublishingProcessor
from socialdesk_outbound.publishers import Publisher, make_publisher
from socialdesk_outbound.ratelimits import RateLimits
from socialdesk_outbound.reply import OutboundReply, outbound_from_event

log = logging.getLogger(__name__)
OUTCOMES = Counter(
    "socialdesk_outbound_replies_total",
    "Replies by outcome (delivered, undeliverable, unconfirmed, by_hand) and platform",
    ["outcome", "platform"],
)


class OutboundProcessor(StreamProcessor):
    """Processor for KafkaRuntime over items.events: sends each `replied` event's reply."""

    service = "outbound"
    # The console's dispatcher group, kept: its committed offsets carry over, so the
    # first deploy of outbound does not replay every reply ever made.
    group_id = "socialdesk-console-replies"
    topics: Sequence[str] = (ITEMS_EVENTS,)

    def __init__(
        self, settings: OutboundSettings, publisher: Publisher, limits: RateLimits | None = None
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.limits = limits or RateLimits()  # shared with publishing: one account, one limit
        self.store: ChangelogStore[DeliveryRecord] = ChangelogStore(
            settings, OUTBOUND_DELIVERIES, DeliveryRecord.from_json, DeliveryRecord.to_json
        )
        self.stopping = False
        self.stores = (self.store,)
        self.journal = DurableWriter(settings, self.service, lambda: self.stopping)

    def decode(self, topic: str, raw: bytes) -> ItemEvent:
        return ItemEvent.model_validate_json(raw)

    async def _record(
        self, partition: int, reply: OutboundReply, record: DeliveryRecord, *audit: Any
    ) -> None:
        """The audit first, then the state: a kill between them leaves the reply looking
        in flight (resent or flagged), never done without its audit record."""
        if audit:
            await self.journal.write([Output(AUDIT_EVENTS, e.actor.id, e) for e in audit])
        await self.journal.write([self.store.put(partition, reply.event_id, record, tracked=False)])

    async def _send(self, partition: int, reply: OutboundReply) -> None:
        async def keep(rec: DeliveryRecord, audit: tuple[AuditEvent, ...]) -> None:
            if rec.status == "retrying":
                log.warning("reply send failed, will retry", extra={"item": reply.item_id})
            await self._record(partition, reply, rec, *audit)

        def failure_audit(attempt: int, error: str, delay: float) -> AuditEvent:
            return delivery_audit(
                reply, "reply.send_failed", attempt=attempt, error=error, retry_in_s=delay
            )

        stopping = lambda: self.stopping  # noqa: E731
        result = await deliver_recorded(
            partial(self.publisher.send, reply),
            room=partial(self.limits.acquire, reply.platform, reply.account or "", stopping),
            record=keep,
            failure_audit=failure_audit,
            max_delay=self.settings.reply_retry_max_delay_s,
            stopping=stopping,
        )
        if result is None:
            raise Stopped()
        status: Status = "sent" if result.status == "delivered" else "undeliverable"
        record = DeliveryRecord(status, result.attempts, result.platform_id, result.error)
        await self._record(partition, reply, record, outcome_audit(reply, result))
        # A reply by hand is an operator's task, not a failure: kept out of the alert.
        by_hand = result.reason == "reply_by_hand"
        OUTCOMES.labels("by_hand" if by_hand else result.status, reply.platform).inc()

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        for ev, meta in batch:
            reply = outbound_from_event(ev)
            if reply is None:
                continue
            record = self.store.get(meta.partition, reply.event_id)
            action = decide(record, self.publisher.idempotent(reply))
            if action is Action.SEND:
                await self._send(meta.partition, reply)
            elif action is Action.FLAG and record is not None:
                log.warning("reply may have been sent; flagged", extra={"item": reply.item_id})
                flagged = DeliveryRecord("unconfirmed", record.attempts, error=record.error)
                await self._record(meta.partition, reply, flagged, unconfirmed_audit(reply, record))
                OUTCOMES.labels("unconfirmed", reply.platform).inc()
        return BatchResult()


async def serve(settings: OutboundSettings) -> None:
    setup_logging("outbound", settings.log_level)
    http = httpx.AsyncClient(timeout=5.0)
    config = load_config(settings.config_dir)
    credentials = Credentials(config, settings)
    publisher = make_publisher(settings, http, credentials)
    limits = RateLimits()
    proc = OutboundProcessor(settings, publisher, limits)
    posts = PublishingProcessor(settings, publisher, config, limits)
    runtime = KafkaRuntime(settings, proc, max_records=50)
    posts_runtime = KafkaRuntime(settings, posts, max_records=50)

    async def ready() -> dict[str, bool]:
        return {"kafka": runtime.ready, "posts": posts_runtime.ready}

    server = make_server(
        ops_app("outbound", ready, settings.environment), settings.http_host, settings.http_port
    )

    # a watcher with nothing to finish: cancelled at once on stop, not waited for
    watcher = asyncio.ensure_future(watch_expiry(config))

    def stop() -> None:
        proc.stopping = posts.stopping = True
        runtime.stop()
        posts_runtime.stop()
        server.should_exit = True
        watcher.cancel()

    try:
        work: list[Awaitable[None]] = [runtime.run(), posts_runtime.run(), server.serve(), watcher]
        await run_until_signalled("outbound", work, stop)
    finally:
        await proc.journal.close()
        await posts.journal.close()
        await http.aclose()


def main() -> None:
    asyncio.run(serve(OutboundSettings()))
