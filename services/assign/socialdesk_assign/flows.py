"""Kafka adapter for assign: state per thread in a changelog-backed store; mentions and
commands applied one at a time per item, in partition order; operator presence read in
full from operators.presence for auto-assignment; threads past the items retention period
forgotten (tombstoned) from the timer."""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka.structs import TopicPartition
from prometheus_client import Counter as PCounter

from socialdesk.config import PlatformConfig, load_config
from socialdesk.events import (
    Item,
    ItemCommand,
    ItemEventType,
    OperatorPresence,
    TriagedMention,
    item_key_of,
    utcnow,
)
from socialdesk.kafka import (
    BatchResult,
    Meta,
    Output,
    PoisonMessage,
    StreamProcessor,
    process_each,
)
from socialdesk.retention import sweep_due
from socialdesk.settings import BaseServiceSettings
from socialdesk.statestore import ChangelogStore, GlobalTable
from socialdesk.stream import serve_processor
from socialdesk.taxonomy import OPEN_STATUSES, ItemStatus
from socialdesk.topics import (
    ASSIGN_CHANGELOG,
    ITEMS_COMMANDS,
    ITEMS_EVENTS,
    MENTIONS_TRIAGED,
    OPERATORS_PRESENCE,
)
from socialdesk_assign.aggregate import ThreadState, apply_command, apply_mention
from socialdesk_assign.expiry import thread_expired
from socialdesk_assign.routing import Gazetteer, Roster

HOT_THREADS = 2000  # threads kept decoded; the rest as their changelog bytes
EXPIRED = PCounter(
    "socialdesk_assign_threads_expired_total",
    "Threads assign forgot (tombstoned) once past the items retention period",
)


def _decode_state(raw: bytes) -> ThreadState:
    return ThreadState.model_validate_json(raw)


def _encode_state(state: ThreadState) -> bytes:
    return state.model_dump_json().encode()


def _owner_load(item: Item | None) -> str | None:
    return item.owner if item is not None and item.status in OPEN_STATUSES else None


class AssignProcessor(StreamProcessor):
    service = "assign"
    group_id = "socialdesk-assign"
    topics: Sequence[str] = (MENTIONS_TRIAGED, ITEMS_COMMANDS)

    def __init__(
        self,
        settings: BaseServiceSettings,
        config: PlatformConfig,
        gazetteer: Gazetteer | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.config = config
        self.gazetteer = gazetteer
        self.clock = clock
        self.swept_at: datetime | None = None
        self.store: ChangelogStore[ThreadState] = ChangelogStore(
            settings, ASSIGN_CHANGELOG, _decode_state, _encode_state, packed=HOT_THREADS
        )
        self.presence: GlobalTable[OperatorPresence] = GlobalTable(
            settings, OPERATORS_PRESENCE, OperatorPresence.model_validate_json
        )
        self.stores = (self.store,)
        self.loads: Counter[str] = Counter()

    def roster(self) -> Roster:
        return Roster(operators=self.presence.data, loads=self.loads)

    def decode(self, topic: str, raw: bytes) -> Any:
        if topic == MENTIONS_TRIAGED:
            return TriagedMention.model_validate_json(raw)
        return ItemCommand.model_validate_json(raw)

    def _one(self, value: Any, meta: Meta) -> list[Output]:
        now = utcnow()
        if isinstance(value, TriagedMention):
            key = value.item_key
            if meta.key is not None and meta.key != key:
                raise PoisonMessage("wrong_key", f"message key {meta.key} is not {key}")
            before = self.store.get(meta.partition, key)
            result = apply_mention(before, value, self.config, now, self.roster(), self.gazetteer)
        else:
            key = item_key_of(value.item_id)
            if meta.key is not None and meta.key != key:
                raise PoisonMessage("wrong_key", f"commands are keyed by item key {key}")
            before = self.store.get(meta.partition, key)
            result = apply_command(before, value, self.config, now, self.roster())
        if result.events and result.state.key:
            for ev in result.events:
                if ev.type == ItemEventType.rejected or ev.item is None:
                    continue
                old = before.items.get(ev.item_id) if before else None
                self._track(old, result.state.items.get(ev.item_id))
            self.store.put(meta.partition, key, result.state)
        return [Output(ITEMS_EVENTS, key, ev) for ev in result.events] + [
            Output(ITEMS_COMMANDS, item_key_of(c.item_id), c) for c in result.commands
        ]

    def _track(self, old: Item | None, new: Item | None) -> None:
        """Keep each operator's count of open items current."""
        was, now_ = _owner_load(old), _owner_load(new)
        if was != now_:
            if was:
                self.loads[was] -= 1
            if now_:
                self.loads[now_] += 1

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        return BatchResult(outputs=process_each(self.service, batch, self._one))

    async def tick(self) -> BatchResult:
        """Forget the threads past the items period (a tombstone each on the changelog),
        every sweep_interval_minutes, as the indexer deletes the same items."""
        policy = self.config.retention
        now = self.clock()
        if policy is None or not sweep_due(self.swept_at, now, policy.sweep_interval_minutes):
            return BatchResult()
        self.swept_at = now
        due = [(p, k) for p, k, st in self.store.items() if thread_expired(st, self.config, now)]
        for partition, key in due:
            self.store.delete(partition, key)
        EXPIRED.inc(len(due))
        return BatchResult()

    async def on_restored(self, partitions: set[int]) -> None:
        self._recount()

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        if self.presence._task is None:
            self.presence.start()
            try:
                await asyncio.wait_for(self.presence.caught_up.wait(), timeout=30)
            except TimeoutError:
                pass  # presence arrives later; items wait in the team inbox meanwhile
        self._recount()

    def _recount(self) -> None:
        self.loads = Counter(
            item.owner
            for _, _, st in self.store.items()
            for item in st.items.values()
            if item.owner and item.status in OPEN_STATUSES and item.status != ItemStatus.resolved
        )


def load_gazetteer(config_dir: Path) -> Gazetteer | None:
    places = config_dir / "gazetteer" / "places.csv"
    if not places.exists():
        return None
    return Gazetteer.from_csv(places, config_dir / "gazetteer" / "ambiguous.csv")


def main() -> None:
    settings = BaseServiceSettings()
    config = load_config(settings.config_dir)
    proc = AssignProcessor(settings, config, load_gazetteer(settings.config_dir))
    gc.freeze()  # start-up objects (config, gazetteer) skip every later collection
    asyncio.run(serve_processor(settings, proc, max_records=2000))
