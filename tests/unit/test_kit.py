"""The streaming kit's plumbing without a broker: the runtime drives the state stores
(restore on assignment, forget what moved away, write back only what changed), the
client factories apply the aiokafka patches and building options does not, and the
Elasticsearch sink retries an outage and a busy cluster without dropping a document."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from aiokafka.structs import TopicPartition

from socialdesk import es as sdes
from socialdesk.backoff import Backoff
from socialdesk.es import EsSink, VersionedDoc
from socialdesk.kafka import (
    BatchResult,
    KafkaRuntime,
    Meta,
    StateStore,
    StreamProcessor,
)
from socialdesk.settings import BaseServiceSettings
from socialdesk.statestore import ChangelogStore


class FakeStore(ChangelogStore[str]):
    """Restore reads nothing: a partition read back is empty."""

    def __init__(self) -> None:
        super().__init__(BaseServiceSettings(), "test.changelog", bytes.decode, str.encode)
        self.reads: list[set[int]] = []

    async def restore(self, partitions: set[int]) -> int:
        self.reads.append(set(partitions))
        for p in partitions:
            self.partitions[p] = {}
        self.restored |= partitions
        return 0


class Counting(StreamProcessor):
    service = "test"
    group_id = "test"
    topics: Sequence[str] = ("in",)

    def __init__(self, store: FakeStore) -> None:
        self.store = store
        self.stores: Sequence[StateStore] = (store,)
        self.rebuilt: list[set[int]] = []
        self.assigned: list[set[TopicPartition]] = []

    def decode(self, topic: str, raw: bytes) -> Any:
        return raw.decode()

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        for value, meta in batch:
            self.store.put(meta.partition, value, value)
        return BatchResult()

    async def on_restored(self, partitions: set[int]) -> None:
        self.rebuilt.append(partitions)

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        self.assigned.append(partitions)


async def test_the_runtime_restores_forgets_and_collects_the_stores_changes() -> None:
    store = FakeStore()
    proc = Counting(store)
    runtime = KafkaRuntime(BaseServiceSettings(), proc)
    await runtime._restore_assigned({0, 1})
    store.put(1, "k", "v")
    store.take_changes()
    await runtime._restore_assigned({1, 2})  # 0 moved away, 1 stayed, 2 is new
    assert store.reads == [{0, 1}, {2}]
    assert store.restored == {1, 2} and store.get(1, "k") == "v"  # kept across it
    await runtime._restore_for({2, 3})  # a batch touching an unrestored partition
    assert store.reads[-1] == {3} and proc.rebuilt == [{3}]
    await runtime._restore_for({1, 2})
    assert proc.rebuilt == [{3}]  # nothing new: no rebuild
    await proc.handle([("a", Meta("in", 1, 0, None, 0)), ("a", Meta("in", 1, 1, None, 0))])
    assert [(o.partition, o.key) for o in runtime._store_changes()] == [(1, "a")]
    assert runtime._store_changes() == []


class Flaky(FakeStore):
    """The first restore fails, as it does when the broker times out mid-read."""

    async def restore(self, partitions: set[int]) -> int:
        if not self.reads:
            self.reads.append(set())
            raise TimeoutError("fetch timed out")
        return await super().restore(partitions)


class Assigned:
    def __init__(self, tps: set[TopicPartition]) -> None:
        self.tps = tps

    def assignment(self) -> set[TopicPartition]:
        return self.tps


async def test_a_restore_that_fails_on_assignment_is_retried_without_waiting_for_a_message() -> (
    None
):
    store = Flaky()
    proc = Counting(store)
    runtime = KafkaRuntime(BaseServiceSettings(), proc)
    tps = {TopicPartition("in", 0), TopicPartition("in", 1)}
    assert await runtime._settle(tps) is False
    assert store.restored == set() and proc.assigned == []
    runtime.consumer = Assigned(tps)  # type: ignore[assignment]
    runtime._retry_at = 0.0  # the backoff has passed
    await runtime._tick()
    assert store.restored == {0, 1} and proc.assigned == [tps]
    assert runtime.ready  # ready only once the state is back
    await runtime._tick()
    assert store.reads == [set(), {0, 1}]  # settled: not read again


class FakeEs:
    """bulk: first a connection error, then one document busy (429) and one refused
    (400), then everything written."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    async def bulk(self, operations: list[dict[str, Any]], refresh: bool) -> dict[str, Any]:
        ids = [op["index"]["_id"] for op in operations if "index" in op]
        self.calls.append(ids)
        if len(self.calls) == 1:
            raise ConnectionError("elasticsearch is away")
        if len(self.calls) == 2:
            statuses = {"a": 201, "b": 429, "c": 400}
        else:
            statuses = dict.fromkeys(ids, 201)
        return {
            "items": [
                {
                    "index": {
                        "status": statuses[i],
                        "error": "mapper" if statuses[i] == 400 else None,
                    }
                }
                for i in ids
            ]
        }


async def test_the_sink_waits_out_an_outage_and_retries_only_the_busy_documents(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    waits: list[float] = []

    async def no_sleep(self: Backoff) -> None:
        waits.append(self.delay())

    monkeypatch.setattr(Backoff, "wait", no_sleep)
    made: list[str] = []

    async def ensure(es: Any, settings: Any) -> list[str]:
        made.append("indices")
        return []

    monkeypatch.setattr(sdes, "ensure_indices", ensure)
    fake = FakeEs()
    sink = EsSink(fake, BaseServiceSettings())  # type: ignore[arg-type]
    docs = [VersionedDoc("idx", i, 1, {"n": i}) for i in "abc"]
    rejected = await sink.write_versioned(docs)
    assert fake.calls == [["a", "b", "c"], ["a", "b", "c"], ["b"]]
    assert [(d.id, why) for d, why in rejected] == [("c", "mapper")]
    assert made == ["indices"]  # made once, before the first write
    assert len(waits) == 2  # one outage, one busy document
