"""Follow every partition of a topic from its end, without a consumer group: for
processes that each need to see everything new (the console's live streams)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from aiokafka.structs import ConsumerRecord, TopicPartition

from socialdesk.backoff import Backoff
from socialdesk.kafka.client import start_reader, topic_name
from socialdesk.kafka.reading import follow, partitions_of, reconnecting
from socialdesk.kafka.sealing import opener_for
from socialdesk.settings import BaseServiceSettings


async def follow_from_end(
    settings: BaseServiceSettings,
    logical_topic: str,
    on_value: Callable[[bytes | None], None],
    started: asyncio.Event | None = None,
    poll_ms: int = 500,
) -> None:
    """Call on_value for every record written from now on, reconnecting with backoff
    for as long as the task runs (a broker outage delays records, never ends the loop).
    `started` is set once positioned at the end."""
    topic = topic_name(settings, logical_topic)

    def each(_tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        for rec in records:
            on_value(rec.value)

    async def attempt(backoff: Backoff) -> None:
        consumer = await start_reader(settings)
        try:
            tps = await partitions_of(consumer, topic)
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)
            if started is not None:
                started.set()
            backoff.reset()
            await follow(consumer, tps, each, poll_ms=poll_ms, opener=opener_for(settings))
        finally:
            await consumer.stop()

    await reconnecting(f"topic follower on {topic} reconnecting", attempt)
