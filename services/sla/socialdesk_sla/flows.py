"""Kafka adapter for sla: clocks per item in a changelog-backed store, and a deadline
heap per instance (rebuilt from the store on assignment) checked on every poll, so a
warning or breach is emitted promptly without scanning every item. A deadline that
passed while the service was down is emitted on recovery, once (the store remembers)."""

from __future__ import annotations

import asyncio
import gc
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

from aiokafka.structs import TopicPartition
from prometheus_client import Counter as PCounter
from prometheus_client import Gauge, Histogram

from socialdesk.config import PlatformConfig, load_config
from socialdesk.events import ItemEvent, SlaEvent, item_key_of, utcnow
from socialdesk.kafka import BatchResult, Meta, Output, StreamProcessor, process_each
from socialdesk.settings import BaseServiceSettings
from socialdesk.statestore import ChangelogStore
from socialdesk.stream import serve_processor
from socialdesk.timers import DueQueue
from socialdesk.topics import ITEMS_EVENTS, SLA_CHANGELOG, SLA_EVENTS
from socialdesk_sla.clocks import ItemClocks, due_events, next_due, on_item_event

OPEN_ITEMS = Gauge(
    "socialdesk_sla_open_items", "Items with a running clock", ["force", "team", "priority"]
)
AT_RISK = Gauge(
    "socialdesk_sla_items_at_risk",
    "Items past a warning, not yet breached",
    ["force", "team", "priority"],
)
BREACHES = PCounter("socialdesk_sla_breaches_total", "SLA breaches", ["clock", "priority"])
MET = PCounter("socialdesk_sla_met_total", "SLA targets met", ["clock", "priority"])
WARNINGS = PCounter("socialdesk_sla_warnings_total", "SLA warnings", ["clock", "priority"])
FIRST_RESPONSE = Histogram(
    "socialdesk_time_to_first_response_seconds",
    "Time from item creation to the first public reply",
    ["priority"],
    buckets=(60, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600, 72 * 3600, 7 * 86400),
)
LATENESS = Histogram(
    "socialdesk_sla_emit_lateness_seconds",
    "How long after its due time a warning or breach was emitted",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 30, 300),
)


FORGET_AFTER_S = 8 * 86400  # past the 7-day reopen window


def _count(events: list[SlaEvent]) -> None:
    for e in events:
        if e.type == "breached":
            BREACHES.labels(e.clock, e.priority.value).inc()
        elif e.type == "met":
            MET.labels(e.clock, e.priority.value).inc()
        elif e.type == "warning":
            WARNINGS.labels(e.clock, e.priority.value).inc()
        if e.clock == "first_response" and e.type in ("met", "breached"):
            FIRST_RESPONSE.labels(e.priority.value).observe((e.at - e.started_at).total_seconds())


class SlaProcessor(StreamProcessor):
    service = "sla"
    group_id = "socialdesk-sla"
    topics: Sequence[str] = (ITEMS_EVENTS,)

    def __init__(self, settings: BaseServiceSettings, config: PlatformConfig) -> None:
        self.config = config
        self.store: ChangelogStore[ItemClocks] = ChangelogStore(
            settings, SLA_CHANGELOG, ItemClocks.from_json, ItemClocks.to_json
        )
        self.timers: DueQueue[ItemClocks] = DueQueue(
            self.store, lambda st: next_due(self.config, st)
        )
        self.stores = (self.store,)
        self._gauges_at = 0.0

    def decode(self, topic: str, raw: bytes) -> ItemEvent:
        return ItemEvent.model_validate_json(raw)

    def _schedule(self, partition: int, st: ItemClocks) -> None:
        self.timers.schedule(partition, st)

    def _save(self, partition: int, st: ItemClocks) -> None:
        self.store.put(partition, st.item_id, st)

    def _one(self, ev: Any, meta: Meta) -> list[Output]:
        assert isinstance(ev, ItemEvent)
        before = self.store.get(meta.partition, ev.item_id)
        st, events = on_item_event(self.config, before, ev, utcnow())
        if st is not None and st is not before:
            self._save(meta.partition, st)
            self._schedule(meta.partition, st)
        _count(events)
        return [Output(SLA_EVENTS, item_key_of(e.item_id), e) for e in events]

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        return BatchResult(outputs=process_each(self.service, batch, self._one))

    async def on_restored(self, partitions: set[int]) -> None:
        self.timers.rebuild()

    async def tick(self) -> BatchResult:
        """Emit every warning, breach and escalation whose time has come."""
        now_dt = utcnow()
        now = now_dt.timestamp()
        outputs: list[Output] = []
        for partition, st, due, _actual in self.timers.due(now):
            st = st.copy()
            events = due_events(self.config, st, now_dt)
            for e in events:
                if e.type in ("warning", "breached"):
                    LATENESS.observe(max(0.0, now - due))
            _count(events)
            self._save(partition, st)
            outputs.extend(Output(SLA_EVENTS, item_key_of(e.item_id), e) for e in events)
            self._schedule(partition, st)
        if time.monotonic() - self._gauges_at > 5:
            self._refresh_gauges()
        return BatchResult(outputs=outputs)

    def _refresh_gauges(self) -> None:
        """Gauges by force, team and grade; and forget items finished for longer than the
        reopen window (their changelog entry is deleted too)."""
        self._gauges_at = time.monotonic()
        open_: Counter[tuple[str, str, str]] = Counter()
        risk: Counter[tuple[str, str, str]] = Counter()
        forget_before = time.time() - FORGET_AFTER_S
        stale: list[tuple[int, str]] = []
        for partition, key, st in self.store.items():
            if (
                not st.open()
                and max((c.deadline for c in st.clocks.values()), default=0) < forget_before
            ):
                stale.append((partition, key))
                continue
            if st.open():
                k = (st.force or "none", st.team, st.priority.value)
                open_[k] += 1
                if st.at_risk():
                    risk[k] += 1
        OPEN_ITEMS.clear()
        AT_RISK.clear()
        for k, v in open_.items():
            OPEN_ITEMS.labels(*k).set(v)
        for k, v in risk.items():
            AT_RISK.labels(*k).set(v)
        for partition, key in stale:
            self.store.delete(partition, key)

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        self.timers.rebuild()


def main() -> None:
    settings = BaseServiceSettings()
    config = load_config(settings.config_dir)
    proc = SlaProcessor(settings, config)
    gc.freeze()  # start-up objects (config, modules) skip every later collection
    asyncio.run(serve_processor(settings, proc, max_records=2000))
