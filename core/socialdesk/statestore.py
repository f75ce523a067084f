"""A key-value state store backed by a compacted Kafka changelog topic.

The service that owns some state (assign owns items, sla owns clocks) keeps it in memory
per input partition and writes every change to a changelog partition of the same number.
When partitions are assigned, their changelog is read back to the end before any input
is processed, so a restart or a move to another instance recovers the state exactly.
(faust tables do the same; on the local broker their recovery stalled, see
docs/architecture.md, so the store is written once here on faust's own aiokafka client.)
"""

from __future__ import annotations

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

    def get(self, partition: int, key: str) -> T | None:
        return self.partitions.setdefault(partition, {}).get(key)

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

    async def restore(self, partitions: set[int]) -> int:
        """Read the changelog partitions from the beginning to their current end."""
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
        log.info(
            "state restored",
            extra={"changelog": self.changelog, "records": restored, "keys": len(self)},
        )
        return restored
