"""Kafka adapter for sla: clocks per item in a changelog-backed store, and a deadline
heap per instance (rebuilt from the store on assignment) checked on every poll, so a
warning or breach is emitted promptly without scanning every item."""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from aiokafka.structs import TopicPartition

from socialdesk.config import PlatformConfig, load_config
from socialdesk.events import ItemEvent, item_key_of, utcnow
from socialdesk.kafka import BatchResult, Meta, Output, process_each
from socialdesk.settings import BaseServiceSettings
from socialdesk.statestore import ChangelogStore
from socialdesk.stream import serve_processor
from socialdesk.topics import ITEMS_EVENTS, SLA_CHANGELOG, SLA_EVENTS
from socialdesk_sla.clocks import ItemClocks, due_events, on_item_event


class SlaProcessor:
    service = "sla"
    group_id = "socialdesk-sla"
    topics: Sequence[str] = (ITEMS_EVENTS,)

    def __init__(self, settings: BaseServiceSettings, config: PlatformConfig) -> None:
        self.config = config
        self.store: ChangelogStore[ItemClocks] = ChangelogStore(
            settings,
            SLA_CHANGELOG,
            ItemClocks.model_validate_json,
            lambda s: s.model_dump_json().encode(),
        )
        self.heap: list[tuple[datetime, str, int]] = []
        self._changelog: list[Output] = []

    def decode(self, topic: str, raw: bytes) -> ItemEvent:
        return ItemEvent.model_validate_json(raw)

    def _schedule(self, partition: int, st: ItemClocks) -> None:
        due = st.next_due()
        if due is not None:
            heapq.heappush(self.heap, (due, st.item_id, partition))

    def _one(self, ev: Any, meta: Meta) -> list[Output]:
        assert isinstance(ev, ItemEvent)
        before = self.store.get(meta.partition, ev.item_id)
        st, events = on_item_event(self.config, before, ev, utcnow())
        if st is not None and st is not before:
            self._changelog.append(self.store.put(meta.partition, ev.item_id, st))
            self._schedule(meta.partition, st)
        return [Output(SLA_EVENTS, item_key_of(e.item_id), e) for e in events]

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        fresh = await self.store.ensure_restored({meta.partition for _, meta in batch})
        for partition, _, st in self.store.items():
            if partition in fresh:
                self._schedule(partition, st)
        self._changelog = []
        outputs = process_each(self.service, batch, self._one)
        return BatchResult(outputs=outputs, changelog=self._changelog)

    async def tick(self) -> BatchResult:
        """Emit every warning and breach whose time has come."""
        now = utcnow()
        result = BatchResult()
        while self.heap and self.heap[0][0] <= now:
            _, item_id, partition = heapq.heappop(self.heap)
            st = self.store.get(partition, item_id)
            if st is None:
                continue
            due = st.next_due()
            if due is None or due > now:
                if due is not None:
                    self._schedule(partition, st)
                continue
            st = st.model_copy(deep=True)
            events = due_events(st, now)
            result.changelog.append(self.store.put(partition, item_id, st))
            result.outputs.extend(Output(SLA_EVENTS, item_key_of(e.item_id), e) for e in events)
            self._schedule(partition, st)
        return result

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        await self.store.ensure_restored({tp.partition for tp in partitions})
        self.heap = []
        for partition, _, st in self.store.items():
            self._schedule(partition, st)

    async def on_revoke(self, partitions: set[TopicPartition]) -> None:
        gone = {tp.partition for tp in partitions}
        self.store.forget(gone)
        self.heap = [h for h in self.heap if h[2] not in gone]
        heapq.heapify(self.heap)


def main() -> None:
    settings = BaseServiceSettings()
    config = load_config(settings.config_dir)
    asyncio.run(serve_processor(settings, SlaProcessor(settings, config)))
