"""Kafka adapter for notify: two processors in one process, each its own consumer group.

- The planner follows items.events (state per item in `notify.watch.changelog`, a heap
  of due ladder steps checked on every poll, like sla) and writes each notification to
  the `notifications` topic, and a force rule's `hand_over` command to items.commands.
- The dispatcher reads `notifications` and sends each one (channels.py). What it has
  done is kept per notification id in `notify.deliveries.changelog`, written right after
  each attempt (not at the end of the batch) and read back on assignment: an id found
  there is never sent again, a pending one is retried from the store after a restart.
  Every outcome is an audit.events record on the item; a handover's outcome is also a
  `control_room_update` command, so the item shows it.

The planner never waits on a receiver: a slow or dead channel delays only the dispatcher,
and within it only its own retries (a few quick attempts, then a scheduled retry).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from aiokafka.structs import TopicPartition
from prometheus_client import Counter, Gauge, Histogram

from socialdesk.backoff import delay_for
from socialdesk.config import ConfigError, PlatformConfig, load_config
from socialdesk.events import (
    Actor,
    AuditEvent,
    CommandType,
    ItemCommand,
    ItemEvent,
    Notification,
    item_key_of,
    utcnow,
)
from socialdesk.health import make_server, ops_app, run_until_signalled
from socialdesk.kafka import (
    BatchResult,
    DurableWriter,
    KafkaRuntime,
    Meta,
    Output,
    StreamProcessor,
    process_each,
)
from socialdesk.logs import setup_logging
from socialdesk.settings import NotifySettings, secret_from_env
from socialdesk.statestore import ChangelogStore
from socialdesk.timers import DueQueue
from socialdesk.topics import (
    AUDIT_EVENTS,
    ITEMS_COMMANDS,
    ITEMS_EVENTS,
    NOTIFICATIONS,
    NOTIFY_CHANGELOG,
    NOTIFY_DELIVERIES,
)
from socialdesk_notify.channels import Permanent, Sender, Temporary
from socialdesk_notify.ladder import (
    Watch,
    due_notifications,
    forgettable,
    next_due,
    on_item_event,
)

log = logging.getLogger(__name__)
SYSTEM = Actor(kind="system", id="notify")

PLANNED = Counter("socialdesk_notify_planned_total", "Notifications planned", ["kind", "type"])
OUTCOMES = Counter(
    "socialdesk_notify_outcomes_total",
    "Notification attempts by outcome (delivered, retrying, undeliverable)",
    ["kind", "type", "outcome"],
)
PENDING = Gauge("socialdesk_notify_pending", "Notifications waiting for a retry")
STEP_LATENESS = Histogram(
    "socialdesk_notify_step_lateness_seconds",
    "How long after its due time a ladder step was planned",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 300),
)
DELIVERY_SECONDS = Histogram(
    "socialdesk_notify_delivery_seconds",
    "From a notification's creation to its delivery",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)


class PlannerProcessor(StreamProcessor):
    service = "notify"
    group_id = "socialdesk-notify"
    topics: Sequence[str] = (ITEMS_EVENTS,)

    def __init__(self, settings: NotifySettings, config: PlatformConfig) -> None:
        self.settings = settings
        self.config = config
        self.store: ChangelogStore[Watch] = ChangelogStore(
            settings, NOTIFY_CHANGELOG, Watch.from_json, Watch.to_json
        )
        self.timers: DueQueue[Watch] = DueQueue(self.store, lambda st: next_due(self.config, st))
        self.stores = (self.store,)
        self._swept_at = time.monotonic()

    def decode(self, topic: str, raw: bytes) -> ItemEvent:
        return ItemEvent.model_validate_json(raw)

    def _schedule(self, partition: int, st: Watch) -> None:
        self.timers.schedule(partition, st)

    def _save(self, partition: int, st: Watch) -> None:
        self.store.put(partition, st.item_id, st)

    def _outputs(self, notes: list[Notification], commands: list[ItemCommand]) -> list[Output]:
        for n in notes:
            PLANNED.labels(n.kind, n.target.type).inc()
        return [Output(NOTIFICATIONS, item_key_of(n.item_id), n) for n in notes] + [
            Output(ITEMS_COMMANDS, item_key_of(c.item_id), c) for c in commands
        ]

    def _one(self, ev: Any, meta: Meta) -> list[Output]:
        assert isinstance(ev, ItemEvent)
        before = self.store.get(meta.partition, ev.item_id)
        st, notes, commands = on_item_event(
            self.config, before, ev, self.settings.public_url, self.settings.callback_url
        )
        if st is not None and st is not before:
            self._save(meta.partition, st)
            self._schedule(meta.partition, st)
        return self._outputs(notes, commands)

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        return BatchResult(outputs=process_each(self.service, batch, self._one))

    async def on_restored(self, partitions: set[int]) -> None:
        self.timers.rebuild()

    async def tick(self) -> BatchResult:
        """Plan every ladder step whose time has come."""
        now = time.time()
        outputs: list[Output] = []
        for partition, st, _due, actual in self.timers.due(now):
            st = st.copy()
            notes = due_notifications(self.config, st, now, self.settings.public_url)
            STEP_LATENESS.observe(max(0.0, now - actual))
            self._save(partition, st)
            outputs.extend(self._outputs(notes, []))
            self._schedule(partition, st)
        if time.monotonic() - self._swept_at > 60:
            self._sweep(now)
        return BatchResult(outputs=outputs)

    def _sweep(self, now: float) -> None:
        """Forget items finished for longer than the reopen window (memory stays bounded;
        the changelog entry is deleted too)."""
        self._swept_at = time.monotonic()
        stale = [(p, k) for p, k, st in self.store.items() if forgettable(st, now)]
        for partition, key in stale:
            self.store.delete(partition, key)

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        self.timers.rebuild()


@dataclass
class Delivery:
    """The dispatcher's durable record of one notification."""

    notification: dict[str, Any]
    status: str  # pending | delivered | undeliverable
    attempts: int = 0
    first_at: float = 0.0
    next_at: float = 0.0
    receipt: str | None = None
    error: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Delivery:
        return cls(**json.loads(raw))


class DispatchProcessor(StreamProcessor):
    service = "notify-dispatch"
    group_id = "socialdesk-notify-dispatch"
    topics: Sequence[str] = (NOTIFICATIONS,)

    def __init__(self, settings: NotifySettings, sender: Sender) -> None:
        self.settings = settings
        self.sender = sender
        self.store: ChangelogStore[Delivery] = ChangelogStore(
            settings, NOTIFY_DELIVERIES, Delivery.from_json, Delivery.to_json
        )
        self.stores = (self.store,)
        self.journal = DurableWriter(settings, self.service, lambda: self.stopping)
        self.retries: list[tuple[float, str, int]] = []
        self.stopping = False

    def decode(self, topic: str, raw: bytes) -> Notification:
        return Notification.model_validate_json(raw)

    def _schedule_pending(self, partitions: set[int]) -> None:
        for partition, key, rec in self.store.items():
            if partition in partitions and rec.status == "pending":
                heapq.heappush(self.retries, (rec.next_at, key, partition))
        PENDING.set(sum(1 for _, _, r in self.store.items() if r.status == "pending"))

    async def _persist(self, partition: int, key: str, rec: Delivery) -> None:
        """Write the record now and wait for the broker: it is what stops a resend."""
        await self.journal.write([self.store.put(partition, key, rec, tracked=False)])

    async def on_restored(self, partitions: set[int]) -> None:
        self._schedule_pending(partitions)

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        seen: set[str] = set()
        work = []
        for n, meta in batch:
            assert isinstance(n, Notification)
            if n.notification_id in seen or self.store.get(meta.partition, n.notification_id):
                continue  # already sent, refused, or waiting for a retry: never twice
            seen.add(n.notification_id)
            rec = Delivery(n.to_json_dict(), "pending", first_at=time.time())
            work.append(self._attempt(meta.partition, n, rec, self.settings.notify_quick_attempts))
        outputs: list[Output] = []
        for got in await asyncio.gather(*work):
            outputs.extend(got)
        PENDING.set(sum(1 for _, _, r in self.store.items() if r.status == "pending"))
        return BatchResult(outputs=outputs)

    async def tick(self) -> BatchResult:
        """Retry pending notifications whose time has come (one attempt each)."""
        now = time.time()
        work = []
        due: set[str] = set()
        while self.retries and self.retries[0][0] <= now:
            _, key, partition = heapq.heappop(self.retries)
            rec = self.store.get(partition, key)
            if rec is None or rec.status != "pending" or key in due:
                continue  # one attempt at a time per notification, never two at once
            due.add(key)
            n = Notification.model_validate(rec.notification)
            work.append(self._attempt(partition, n, rec, 1))
        outputs: list[Output] = []
        for got in await asyncio.gather(*work):
            outputs.extend(got)
        if work:
            PENDING.set(sum(1 for _, _, r in self.store.items() if r.status == "pending"))
        return BatchResult(outputs=outputs)

    def _retry_delay(self, rec: Delivery) -> float:
        """1 s, 2 s, 4 s, ... capped: quick for a blip, gentle for an outage."""
        return delay_for(rec.attempts - 1, 1.0, self.settings.notify_retry_max_delay_s)

    async def _attempt(
        self, partition: int, n: Notification, rec: Delivery, tries: int
    ) -> list[Output]:
        outputs: list[Output] = []
        failures: list[str] = []  # this call's failed attempts, for the audit record
        for i in range(tries):
            rec.attempts += 1
            try:
                rec.receipt = await self.sender.send(n)
                rec.status, rec.error = "delivered", None
            except Permanent as exc:
                rec.status, rec.error = "undeliverable", str(exc)
            except Temporary as exc:
                rec.error = str(exc)
                failures.append(str(exc)[:200])
                if time.time() - rec.first_at > self.settings.notify_give_up_after_s:
                    rec.status = "undeliverable"
                elif i + 1 < tries and not self.stopping:
                    OUTCOMES.labels(n.kind, n.target.type, "retrying").inc()
                    await asyncio.sleep(self._retry_delay(rec))
                    continue
            break
        if rec.status == "pending":
            rec.next_at = time.time() + self._retry_delay(rec)
            heapq.heappush(self.retries, (rec.next_at, n.notification_id, partition))
        else:
            rec.notification = {}  # final: the body stays on the topic, the record stays small
        await self._persist(partition, n.notification_id, rec)
        outcome = "retrying" if rec.status == "pending" else rec.status
        OUTCOMES.labels(n.kind, n.target.type, outcome).inc()
        if rec.status == "delivered":
            DELIVERY_SECONDS.observe(max(0.0, time.time() - n.created_at.timestamp()))
        log.info(
            "notification " + outcome,
            extra={"notification": n.notification_id, "attempts": rec.attempts},
        )
        audit = AuditEvent.by_system(
            SYSTEM.id,
            f"notification.{outcome}",
            force=n.force,
            target_id=n.item_id,
            details={
                "notification_id": n.notification_id,
                "kind": n.kind,
                "step": n.step,
                "notify": n.notify,
                "channel": n.target.channel,
                "channel_type": n.target.type,
                "attempts": rec.attempts,
                "receipt": rec.receipt,
                "error": (rec.error or "")[:300] or None,
                "failed_attempts": failures,
                "retry_at": rec.next_at if rec.status == "pending" else None,
            },
        )
        outputs.append(Output(AUDIT_EVENTS, SYSTEM.id, audit))
        if n.kind == "handover" and rec.status != "pending":
            hid = str(n.payload.get("handover_id"))
            cmd = ItemCommand(
                command_id=f"handover-delivery:{hid}"[:100],
                item_id=n.item_id,
                type=CommandType.control_room_update,
                actor=SYSTEM,
                issued_at=utcnow(),
                payload={
                    "source": "delivery",
                    "handover_id": hid,
                    "status": rec.status,
                    "error": (rec.error or "")[:300] or None,
                },
            )
            outputs.append(Output(ITEMS_COMMANDS, item_key_of(n.item_id), cmd))
        return outputs

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        self.retries = []
        self._schedule_pending({tp.partition for tp in partitions})

    async def close(self) -> None:
        await self.journal.close()


def secrets(config: PlatformConfig, environment: str) -> dict[tuple[str | None, str], str]:
    """Every HMAC key the config names, read once at start-up; a missing one in
    production stops start-up with one line naming the file and field."""
    out: dict[tuple[str | None, str], str] = {}
    groups: list[tuple[str | None, str, Any]] = [
        (None, "config/national/policy.yaml", config.national.notifications)
    ]
    groups += [
        (f.id, f"config/forces/{f.id}.yaml", f.notifications) for f in config.forces.values()
    ]
    for force, path, channels in groups:
        for i, ch in enumerate(channels):
            if ch.secret_env:
                try:
                    out[(force, ch.id)] = secret_from_env(ch.secret_env, environment)
                except ValueError as exc:
                    raise ConfigError(path, f"notifications.{i}.secret_env", str(exc)) from exc
    for f in config.forces.values():
        if f.control_room is not None:
            try:
                out[(f.id, "control-room")] = secret_from_env(
                    f.control_room.secret_env, environment
                )
            except ValueError as exc:
                raise ConfigError(
                    f"config/forces/{f.id}.yaml", "control_room.secret_env", str(exc)
                ) from exc
    return out


async def serve(settings: NotifySettings, config: PlatformConfig) -> None:
    setup_logging("notify", settings.log_level)
    keys = secrets(config, settings.environment)
    http = httpx.AsyncClient()
    planner = PlannerProcessor(settings, config)
    dispatcher = DispatchProcessor(settings, Sender(settings, http, lambda f, c: keys.get((f, c))))
    plan_rt = KafkaRuntime(settings, planner, max_records=2000)
    send_rt = KafkaRuntime(settings, dispatcher, max_records=200)

    async def ready() -> dict[str, bool]:
        return {"planner": plan_rt.ready, "dispatcher": send_rt.ready}

    server = make_server(ops_app("notify", ready), settings.http_host, settings.http_port)

    def stop() -> None:
        dispatcher.stopping = True
        plan_rt.stop()
        send_rt.stop()
        server.should_exit = True

    try:
        await run_until_signalled("notify", [plan_rt.run(), send_rt.run(), server.serve()], stop)
    finally:
        await dispatcher.close()
        await http.aclose()


def main() -> None:
    settings = NotifySettings()
    config = load_config(settings.config_dir)
    asyncio.run(serve(settings, config))
