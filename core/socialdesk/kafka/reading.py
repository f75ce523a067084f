"""Reading partitions by hand, written once: up to their end (restores, read-backs), on
from there for as long as the task runs (live followers), and the reconnect loop around
both. Used by the state stores, socialdesk.tail and ingest's de-duplication."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from socialdesk.backoff import Backoff

log = logging.getLogger(__name__)

RecordsSink = Callable[[TopicPartition, list[ConsumerRecord]], None]
# Turns sealed records into clear ones (socialdesk.kafka.sealing.opener_for).
Opener = Callable[[list[ConsumerRecord]], Awaitable[list[ConsumerRecord]]]


async def partitions_of(
    consumer: AIOKafkaConsumer, topic: str, *, refresh: bool = False
) -> list[TopicPartition]:
    """Every partition of a topic, in order (none if it does not exist yet)."""
    if refresh:
        await consumer._client.force_metadata_update()
    parts = consumer.partitions_for_topic(topic) or set()
    return [TopicPartition(topic, p) for p in sorted(parts)]


async def read_to_end(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    sink: RecordsSink,
    *,
    ends: dict[TopicPartition, int] | None = None,
    within_s: float | None = None,
    max_records: int = 5000,
    opener: Opener | None = None,
) -> None:
    """Hand every record from each partition's current position up to its end offset (as
    of the call, or `ends`) to `sink`, partition by partition in offset order. Gives up
    quietly after `within_s` if given; the positions then say how far it got."""
    if not tps:
        return
    if ends is None:
        ends = await consumer.end_offsets(tps)
    todo = {tp for tp in tps if await consumer.position(tp) < ends[tp]}
    deadline = None if within_s is None else time.monotonic() + within_s
    while todo and (deadline is None or time.monotonic() < deadline):
        batch = await consumer.getmany(*todo, timeout_ms=500, max_records=max_records)
        for tp, records in batch.items():
            sink(tp, records if opener is None else await opener(records))
        for tp in list(todo):
            if await consumer.position(tp) >= ends[tp]:
                todo.discard(tp)


async def follow(
    consumer: AIOKafkaConsumer,
    tps: list[TopicPartition],
    sink: RecordsSink,
    *,
    poll_ms: int = 500,
    max_records: int = 5000,
    opener: Opener | None = None,
) -> None:
    """Hand every record from the current positions on to `sink`, for as long as the
    task runs (with no partitions it waits, as a consumer with none assigned would)."""
    if not tps:
        await asyncio.Event().wait()
    while True:
        batch = await consumer.getmany(*tps, timeout_ms=poll_ms, max_records=max_records)
        for tp, records in batch.items():
            sink(tp, records if opener is None else await opener(records))


async def reconnecting(
    what: str,
    attempt: Callable[[Backoff], Awaitable[None]],
    *,
    on_error: Callable[[Exception], None] | None = None,
    first: float = 0.5,
    cap: float = 10.0,
) -> None:
    """Run `attempt` until it returns, waiting out failures (a broker outage) with
    backoff; `attempt` calls backoff.reset() once it is connected again."""
    backoff = Backoff(first, cap)
    while True:
        try:
            await attempt(backoff)
            return
        except Exception as exc:
            log.warning(f"{what}, retrying", extra={"error": repr(exc)})
            if on_error is not None:
                on_error(exc)
            await backoff.wait()
