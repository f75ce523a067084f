"""Kafka adapter for publishing: a second processor in the outbound service, over
posts.commands (keyed by post id). It is each post's one writer.

Each command goes through socialdesk.publishing.apply; the post's state (the post, a
DeliveryRecord per account, the last command ids) lives in outbound.posts.changelog.
What a command or a delivery changes is written and acknowledged through DurableWriter
before the next step: events (posts.events) and audit records (audit.events) first, then
the state, so a kill between them replays the step (same event ids) rather than losing
its record. Publishing a post is one delivery per (post id, account) through the same
path as a reply (delivery.decide, delivery.deliver, `sending` written before each call).
`tick` starts the scheduled posts that have come due and finishes any post a restart
caught half published.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import partial
from typing import Any

from prometheus_client import Counter

from socialdesk.config import PlatformConfig
from socialdesk.events import AuditEvent, utcnow
from socialdesk.kafka import BatchResult, DurableWriter, Meta, Output, Stopped, StreamProcessor
from socialdesk.kafka.outputs import dead_for
from socialdesk.publishing import (
    PostCommand,
    PostEvent,
    PostStatus,
    apply,
    due,
    rejected,
    start_publishing,
)
from socialdesk.refusals import Refusal, Refused
from socialdesk.settings import OutboundSettings
from socialdesk.statestore import ChangelogStore
from socialdesk.topics import (
    AUDIT_EVENTS,
    OUTBOUND_POSTS,
    POSTS_COMMANDS,
    POSTS_EVENTS,
    POSTS_OUTBOUND,
)
from socialdesk_outbound.delivery import (
    UNCONFIRMED,
    Action,
    DeliveryRecord,
    Status,
    decide,
    deliver_recorded,
)
from socialdesk_outbound.posting import (
    DeliveryStatus,
    PostDelivery,
    PostState,
    account_of,
    attempt_audit,
    outbound_post,
    pending_deliveries,
    post_audit,
    record_delivery,
)
from socialdesk_outbound.publishers import Publisher
from socialdesk_outbound.ratelimits import RateLimits
from socialdesk_outbound.reply import PostByHand

log = logging.getLogger(__name__)
POSTS = Counter(
    "socialdesk_outbound_posts_total",
    "Post deliveries (one per post and account) by outcome and platform",
    ["outcome", "platform"],
)
SCAN_EVERY_S = 1.0  # how often tick looks for posts come due
TICK_BUDGET_S = 1.0


class PublishingProcessor(StreamProcessor):
    """Processor for KafkaRuntime over posts.commands: applies each command, publishes."""

    service = "outbound-posts"  # its own label on the runtime's metrics and dead letters
    group_id = "socialdesk-outbound-posts"
    topics: Sequence[str] = (POSTS_COMMANDS,)

    def __init__(
        self,
        settings: OutboundSettings,
        publisher: Publisher,
        config: PlatformConfig,
        limits: RateLimits | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.publisher = publisher
        self.config = config
        self.limits = limits or RateLimits()
        self.clock = clock
        self.store: ChangelogStore[PostState] = ChangelogStore(
            settings, OUTBOUND_POSTS, PostState.from_json, PostState.to_json
        )
        self.stores = (self.store,)
        self.stopping = False
        self.journal = DurableWriter(settings, self.service, lambda: self.stopping)
        self._next_scan = 0.0
        self._account_ids = {
            (platform, handle.lower()): account_id
            for (platform, account_id), handle in config.account_id_index.items()
        }

    def decode(self, topic: str, raw: bytes) -> PostCommand:
        return PostCommand.model_validate_json(raw)

    def _outputs(self, partition: int, state: PostState, events: list[PostEvent]) -> list[Output]:
        """The events and their audit records, then the state (the order they are written)."""
        out = [Output(POSTS_EVENTS, e.post_id, e) for e in events]
        out += [Output(AUDIT_EVENTS, e.actor.id, post_audit(e)) for e in events]
        out.append(self.store.put(partition, state.post.id, state, tracked=False))
        return out

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        pending: list[Output] = []
        for cmd, meta in batch:
            state = self.store.get(meta.partition, cmd.post_id)
            if state is None or not state.seen(cmd.command_id):
                try:
                    state, outputs = self._apply(meta.partition, state, cmd)
                except Exception as exc:  # a bug, not the person: keep the command, go on
                    log.exception("post command failed", extra={"post": cmd.post_id})
                    pending.append(dead_for(self.service, "processing_error", repr(exc), cmd, meta))
                    continue
                pending += outputs
            if state is not None and state.post.status == PostStatus.publishing:
                await self.journal.write(pending)  # the post's state is kept before sending
                pending = []
                await self._publish(meta.partition, state)
        await self.journal.write(pending)
        return BatchResult()

    def _apply(
        self, partition: int, state: PostState | None, cmd: PostCommand
    ) -> tuple[PostState | None, list[Output]]:
        """The command under its force's rule; a refusal keeps nothing but its events."""
        force = self.config.forces.get(cmd.force)
        now = self.clock()
        before = state.post if state else None
        if force is None:
            unknown = Refused(Refusal.unknown_force, force=cmd.force)
            events = [rejected(before, cmd, now, str(unknown), unknown.code)]
            post = before
        else:
            accounts = {p.value: list(h) for p, h in force.accounts.items()}
            welsh = force.welsh_language_standards
            post, events = apply(before, cmd, now, force.publishing, accounts, welsh)
        if force is None or post is None or post is before:
            audit = [Output(AUDIT_EVENTS, e.actor.id, post_audit(e)) for e in events]
            return state, [Output(POSTS_EVENTS, e.post_id, e) for e in events] + audit
        after = PostState(
            post,
            dict(state.records) if state else {},
            list(state.commands) if state else [],
            force.welsh_language_standards,
        )
        after.remember(cmd.command_id)
        return after, self._outputs(partition, after, events)

    async def tick(self) -> BatchResult:
        """Start what has come due; finish what a restart caught half published. A second
        of work at most per call, so commands keep flowing while a backlog goes out."""
        if time.monotonic() < self._next_scan:
            return BatchResult()
        self._next_scan = time.monotonic() + SCAN_EVERY_S
        until = time.monotonic() + TICK_BUDGET_S
        now = self.clock()
        for partition, _, state in list(self.store.items()):
            if time.monotonic() > until:
                self._next_scan = 0.0  # more to do: come back on the next poll
                break
            if due(state.post, now):
                post, events = start_publishing(state.post, now)
                state = PostState(post, state.records, state.commands, state.welsh)
                await self.journal.write(self._outputs(partition, state, events))
            if state.post.status == PostStatus.publishing:
                await self._publish(partition, state)
        return BatchResult()

    async def _publish(self, partition: int, state: PostState) -> None:
        """Each account still without an outcome, one at a time, as the record says."""
        for delivery in pending_deliveries(state, self._account_ids):
            current = self.store.get(partition, state.post.id) or state
            record = current.records.get(delivery.delivery_id)
            action = decide(record, self.publisher.idempotent_post(delivery))
            if action is Action.SEND:
                await self._send(partition, delivery)
            elif action is Action.FLAG and record is not None:
                log.warning("post may have been sent; flagged", extra={"post": delivery.post_id})
                await self._outcome(
                    partition, delivery, "unconfirmed", record.attempts, None, UNCONFIRMED
                )
                POSTS.labels("unconfirmed", delivery.platform).inc()

    async def _put_record(
        self, partition: int, delivery: PostDelivery, record: DeliveryRecord, *audit: Any
    ) -> None:
        state = self.store.get(partition, delivery.post_id)
        assert state is not None
        state = PostState(
            state.post, {**state.records, delivery.delivery_id: record}, state.commands, state.welsh
        )
        outs = [Output(AUDIT_EVENTS, a.actor.id, a) for a in audit]
        await self.journal.write(
            [*outs, self.store.put(partition, delivery.post_id, state, tracked=False)]
        )

    async def _send(self, partition: int, delivery: PostDelivery) -> None:
        async def keep(rec: DeliveryRecord, audit: tuple[AuditEvent, ...]) -> None:
            if rec.status == "retrying":
                log.warning("post send failed, will retry", extra={"post": delivery.post_id})
            await self._put_record(partition, delivery, rec, *audit)

        def failure_audit(attempt: int, error: str, delay: float) -> AuditEvent:
            return attempt_audit(
                delivery, "post.send_failed", attempt=attempt, error=error, retry_in_s=delay
            )

        stopping = lambda: self.stopping  # noqa: E731
        result = await deliver_recorded(
            partial(self.publisher.publish, delivery),
            room=partial(self.limits.acquire, delivery.platform, delivery.account, stopping),
            record=keep,
            failure_audit=failure_audit,
            max_delay=self.settings.reply_retry_max_delay_s,
            stopping=stopping,
        )
        if result is None:
            raise Stopped()
        status: DeliveryStatus = "delivered" if result.status == "delivered" else "undeliverable"
        if result.reason == PostByHand.reason:
            status = "by_hand"  # a task for an officer, not a failure
        await self._outcome(
            partition, delivery, status, result.attempts, result.platform_id, result.error
        )
        POSTS.labels(result.reason or result.status, delivery.platform).inc()

    async def _outcome(
        self,
        partition: int,
        delivery: PostDelivery,
        status: DeliveryStatus,
        attempts: int,
        platform_id: str | None,
        error: str | None,
    ) -> None:
        """One account's outcome: its events and audit, the post for metrics, then the
        state with the record final (`sent`, `undeliverable` or `unconfirmed`)."""
        state = self.store.get(partition, delivery.post_id)
        assert state is not None
        now = self.clock()
        post, events = record_delivery(
            state.post,
            account_of(delivery),
            status,
            now,
            attempts,
            platform_id,
            error,
        )
        final: Status = (
            "sent" if status == "delivered" else "undeliverable" if status == "by_hand" else status
        )
        record = DeliveryRecord(final, attempts, platform_id, error)
        after = PostState(
            post, {**state.records, delivery.delivery_id: record}, state.commands, state.welsh
        )
        outs = self._outputs(partition, after, events)
        if status == "delivered" and platform_id:
            op = outbound_post(post, delivery, platform_id, now)
            outs.insert(0, Output(POSTS_OUTBOUND, op.id, op))
        await self.journal.write(outs)
