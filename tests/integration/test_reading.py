"""The streaming kit's readers on a real broker: read_to_end stops at the end offsets of
the moment it was called, follow hands on what comes after, and a state store's changed
keys, written as the runtime writes them, restore exactly in a new store."""

from __future__ import annotations

import asyncio
from collections import defaultdict

from aiokafka.structs import ConsumerRecord, TopicPartition

from socialdesk.kafka import produce_and_wait, start_reader, topic_name
from socialdesk.kafka.client import make_producer
from socialdesk.kafka.reading import follow, partitions_of, read_to_end
from socialdesk.statestore import ChangelogStore
from socialdesk.topics import ASSIGN_CHANGELOG, ITEMS_EVENTS

from .conftest import Backend
from .helpers import create_topics, produce, settings_for


async def test_read_to_end_then_follow(broker: Backend, prefix: str) -> None:
    settings = settings_for(broker.kafka, prefix, broker=broker.name)
    create_topics(settings)
    topic = topic_name(settings, ITEMS_EVENTS)
    await produce(broker.kafka, topic, [(f"k{i}", b"%d" % i) for i in range(40)])
    seen: dict[int, list[bytes]] = defaultdict(list)

    def keep(tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        seen[tp.partition].extend(r.value for r in records)

    consumer = await start_reader(settings, "test-reader", timeout_s=15)
    try:
        tps = await partitions_of(consumer, topic, refresh=True)
        assert len(tps) > 1
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        await read_to_end(consumer, tps, keep, within_s=30)
        assert sorted(int(v) for vs in seen.values() for v in vs) == list(range(40))
        for tp in tps:
            assert seen[tp.partition] == sorted(seen[tp.partition], key=int)  # in order
        await produce(broker.kafka, topic, [("late", b"40")])
        follower = asyncio.create_task(follow(consumer, tps, keep, poll_ms=100))
        try:
            for _ in range(100):
                if sum(len(v) for v in seen.values()) == 41:
                    break
                await asyncio.sleep(0.1)
        finally:
            follower.cancel()
        assert sorted(int(v) for vs in seen.values() for v in vs) == list(range(41))
    finally:
        await consumer.stop()


async def test_a_store_restores_the_changes_it_handed_over(broker: Backend, prefix: str) -> None:
    settings = settings_for(broker.kafka, prefix, broker=broker.name)
    create_topics(settings)
    store: ChangelogStore[str] = ChangelogStore(
        settings, ASSIGN_CHANGELOG, bytes.decode, str.encode
    )
    store.restored = {0, 1}
    store.put(0, "a", "one")
    store.put(0, "a", "two")
    store.put(1, "b", "kept")
    store.put(1, "c", "gone")
    store.delete(1, "c")
    producer = make_producer(settings, "test")
    await producer.start()
    try:
        await produce_and_wait(producer, settings.topic_prefix, store.take_changes())
    finally:
        await producer.stop()
    again: ChangelogStore[str] = ChangelogStore(
        settings, ASSIGN_CHANGELOG, bytes.decode, str.encode
    )
    assert await again.ensure_restored({0, 1}) == {0, 1}
    assert dict(again.partitions) == {0: {"a": "two"}, 1: {"b": "kept"}}
