"""Follow every partition of a topic from its end, without a consumer group: for
processes that each need to see everything new (the console's live streams)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition

from socialdesk.kafka import common_client_options, topic_name
from socialdesk.settings import BaseServiceSettings

log = logging.getLogger(__name__)


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
    delay = 0.5
    while True:
        consumer = AIOKafkaConsumer(
            group_id=None, enable_auto_commit=False, **common_client_options(settings)
        )
        try:
            await consumer.start()
            parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            consumer.assign(tps)
            await consumer.seek_to_end(*tps)
            for tp in tps:
                await consumer.position(tp)
            if started is not None:
                started.set()
            delay = 0.5
            while True:
                batch = await consumer.getmany(timeout_ms=poll_ms)
                for records in batch.values():
                    for rec in records:
                        on_value(rec.value)
        except asyncio.CancelledError:
            await consumer.stop()
            raise
        except Exception as exc:
            log.warning("topic follower reconnecting", extra={"topic": topic, "error": repr(exc)})
            await consumer.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
