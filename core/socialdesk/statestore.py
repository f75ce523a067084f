"""A key-value state store backed by a compacted Kafka changelog topic.

The service that owns some state (assign owns items, sla owns clocks) keeps it in memory
per input partition and writes every change to a changelog partition of the same number.
When partitions are assigned, their changelog is read back to the end before any input
is processed, so a restart or a move to another instance recovers the state exactly.
(faust tables do the same; on the local broker their recovery stalled, see
docs/architecture.md, so the store is written once here on faust's own aiokafka client.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from socialdesk.kafka import Output, common_client_options, topic_name
from socialdesk.settings import BaseServiceSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


class ChangelogStore(Generic[T]):
    def __init__(
        self,
        settings: BaseServiceSettings,
        changelog: str,
        decode: Callable[[bytes], T],
        encode: Callable[[T], bytes],
    ) -> None:
        self.settings = settings
        self.changelog = changelog
        self._decode = decode
        self._encode = encode
        self.partitions: dict[int, dict[str, T]] = {}
        self.restored: set[int] = set()
        # Restores run one at a time: two overlapping restores of a partition would let
        # the later one wipe state applied since the earlier one finished.
        self._restoring = asyncio.Lock()

    def get(self, partition: int, key: str) -> T | None:
        data = self.partitions.get(partition)
        return data.get(key) if data is not None else None

    async def ensure_restored(self, partitions: set[int]) -> set[int]:
        """Restore any of these partitions not yet restored; return those restored now.

        Called on assignment and again before each batch: a message must never be
        applied to a partition whose state has not been read back."""
        async with self._restoring:
            missing = partitions - self.restored
            if missing:
                await self.restore(missing)
            return missing

    def put(self, partition: int, key: str, value: T) -> Output:
        """Change the state now; return the changelog record the runtime must write."""
        self.partitions.setdefault(partition, {})[key] = value
        return Output(self.changelog, key, self._encode(value), partition=partition)

    def delete(self, partition: int, key: str) -> Output:
        self.partitions.setdefault(partition, {}).pop(key, None)
        return Output(self.changelog, key, None, partition=partition)

    def items(self) -> Iterator[tuple[int, str, T]]:
        for partition, data in self.partitions.items():
            for key, value in data.items():
                yield partition, key, value

    def __len__(self) -> int:
        return sum(len(d) for d in self.partitions.values())

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            self.partitions.pop(p, None)
            self.restored.discard(p)

    async def restore(self, partitions: set[int]) -> int:
        """Read the changelog partitions from the beginning to their current end.

        Replaces what is held for them: call through ensure_restored, which never
        restores a partition twice."""
        if not partitions:
            return 0
        topic = topic_name(self.settings, self.changelog)
        consumer = AIOKafkaConsumer(
            group_id=None,
            enable_auto_commit=False,
            client_id=f"restore-{self.changelog}",
            **common_client_options(self.settings),
        )
        await consumer.start()
        restored = 0
        try:
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            for tp in tps:
                self.partitions[tp.partition] = {}
            todo = {tp for tp in tps if ends[tp] > 0}
            while todo:
                batch = await consumer.getmany(*todo, timeout_ms=500, max_records=5000)
                for tp, records in batch.items():
                    data = self.partitions[tp.partition]
                    for rec in records:
                        if rec.key is None:
                            continue
                        key = rec.key.decode()
                        if rec.value is None:
                            data.pop(key, None)
                        else:
                            data[key] = self._decode(rec.value)
                        restored += 1
                for tp in list(todo):
                    if await consumer.position(tp) >= ends[tp]:
                        todo.discard(tp)
        finally:
            await consumer.stop()
        self.restored |= partitions
        log.info(
            "state restored",
            extra={"changelog": self.changelog, "records": restored, "keys": len(self)},
        )
        return restored


class GlobalTable(Generic[T]):
    """Every record of a compacted topic, all partitions, kept current by a background
    reader (no consumer group: each instance sees everything). For small, shared state
    such as operator presence."""

    def __init__(
        self, settings: BaseServiceSettings, topic: str, decode: Callable[[bytes], T]
    ) -> None:
        self.settings = settings
        self.topic = topic
        self._decode = decode
        self.data: dict[str, T] = {}
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        name = topic_name(self.settings, self.topic)
        delay = 0.5
        while True:
            consumer = AIOKafkaConsumer(
                group_id=None,
                enable_auto_commit=False,
                client_id=f"global-{self.topic}",
                **common_client_options(self.settings),
            )
            try:
                await consumer.start()
                parts = consumer.partitions_for_topic(name) or set()
                tps = [TopicPartition(name, p) for p in sorted(parts)]
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                ends = await consumer.end_offsets(tps)
                pending = {tp for tp in tps if ends[tp] > 0}
                if not pending:
                    self.caught_up.set()
                delay = 0.5
                while True:
                    batch = await consumer.getmany(timeout_ms=300, max_records=5000)
                    for records in batch.values():
                        for rec in records:
                            if rec.key is None:
                                continue
                            key = rec.key.decode()
                            if rec.value is None:
                                self.data.pop(key, None)
                            else:
                                try:
                                    self.data[key] = self._decode(rec.value)
                                except ValueError:
                                    log.warning("bad record ignored", extra={"topic": name})
                    if pending:
                        for tp in list(pending):
                            if await consumer.position(tp) >= ends[tp]:
                                pending.discard(tp)
                        if not pending:
                            self.caught_up.set()
            except asyncio.CancelledError:
                await consumer.stop()
                raise
            except Exception as exc:
                log.warning("global table reconnecting", extra={"error": repr(exc)})
                await consumer.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
