"""The Kafka side of ingest: one producer (acks=all, idempotent), de-duplication of
platform redeliveries, and the start-up warm-up that makes de-duplication survive a
restart.

A delivery is acknowledged to the platform only after Kafka acknowledged every record
it produced; an id is remembered only after that acknowledgement, so a failed attempt
never hides the platform's retry."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition

from socialdesk.backoff import Backoff
from socialdesk.kafka.client import start_reader
from socialdesk.kafka.outputs import Output
from socialdesk.kafka.producer import ProducerHolder, produce_and_wait
from socialdesk.kafka.reading import follow, partitions_of, read_to_end, reconnecting
from socialdesk.settings import IngestSettings
from socialdesk.topics import MENTIONS_RAW, POSTS_OUTBOUND
from socialdesk_ingest.guard import SeenCache

log = logging.getLogger(__name__)

DEDUPED_TOPICS = (MENTIONS_RAW, POSTS_OUTBOUND)


@dataclass
class Delivered:
    produced: int
    duplicates: int
    # Of those duplicates, how many were on each topic (the answer subtracts them from
    # what it reports as accepted: a redelivery accepts nothing new).
    duplicates_by_topic: dict[str, int] = field(default_factory=dict)


class Deliverer:
    """Produce a delivery's records once: ids already acknowledged within the window are
    dropped, and a delivery racing another with the same id waits for its outcome."""

    def __init__(self, settings: IngestSettings, holder: ProducerHolder) -> None:
        self.settings = settings
        self.holder = holder
        self.seen = SeenCache(settings.ingest_dedup_window_s, settings.ingest_dedup_max_entries)
        self.inflight: dict[str, asyncio.Future[bool]] = {}
        self.warm = asyncio.Event()
        self.warm_error: str | None = None

    async def deliver(self, outputs: list[Output]) -> Delivered:
        """Raise on any Kafka failure (the caller answers 503 and the platform retries)."""
        timeout = self.settings.ingest_kafka_timeout_s
        if not self.warm.is_set():
            await asyncio.wait_for(self.warm.wait(), timeout=timeout)
        keys = [o.key for o in outputs if o.topic in DEDUPED_TOPICS and o.key is not None]
        while True:  # wait out concurrent deliveries of the same ids, then decide
            pending = [self.inflight[k] for k in keys if k in self.inflight]
            if not pending:
                break
            await asyncio.wait(pending, timeout=timeout)
        fresh_keys: set[str] = set()
        todo: list[Output] = []
        dups: dict[str, int] = {}
        for o in outputs:
            if o.topic in DEDUPED_TOPICS and o.key is not None:
                if o.key in self.seen or o.key in fresh_keys:
                    dups[o.topic] = dups.get(o.topic, 0) + 1
                    continue
                fresh_keys.add(o.key)
            todo.append(o)
        if not todo:
            return Delivered(0, len(keys), dups)
        loop = asyncio.get_running_loop()
        mine = {k: loop.create_future() for k in fresh_keys}
        self.inflight.update(mine)
        ok = False
        try:
            producer = await self.holder.get()
            async with asyncio.timeout(timeout):  # no extra task per delivery (wait_for has one)
                await produce_and_wait(
                    producer, self.settings.topic_prefix, todo, settings=self.settings
                )
            ok = True
            self.seen.add(fresh_keys)
        finally:
            for k, fut in mine.items():
                self.inflight.pop(k, None)
                fut.set_result(ok)
        return Delivered(len(todo), len(keys) - len(fresh_keys), dups)

    async def warm_up(self) -> None:
        """Remember the ids already on mentions.raw and posts.outbound within the window,
        so a redelivery after a restart (or a crash between Kafka's ack and our 200) is
        still recognised; deliveries wait for it. With several uvicorn workers, then keep
        reading both topics, so the ids the other workers produce are recognised here too
        once read back (within tens of milliseconds). Retries until Kafka answers; after
        a failure, following resumes where it stopped.

        One worker does not follow: reading back every record costs about 15% of its CPU
        per delivery, and a duplicate between replicas is absorbed downstream (assign
        ignores a mention id it has already applied; docs/ingest.md)."""
        s = self.settings
        if s.ingest_dedup_window_s == 0 or s.ingest_dedup_max_entries == 0:
            self.warm.set()
            return
        positions: dict[TopicPartition, int] | None = None

        async def attempt(backoff: Backoff) -> None:
            nonlocal positions
            consumer = await start_reader(s, f"ingest-dedup-{s.instance}", timeout_s=15)
            try:
                if positions is None:
                    n, positions = await self._read_recent(consumer)
                    log.info("dedup warm-up done", extra={"ids": n})
                    self.warm.set()
                    if s.ingest_workers == 1:
                        return
                else:
                    consumer.assign(list(positions))
                    for tp, offset in positions.items():
                        consumer.seek(tp, offset)
                backoff.reset()
                await self._follow(consumer, positions)
            finally:
                await consumer.stop()

        await reconnecting("dedup read-back failed", attempt, on_error=self._failed)

    def _failed(self, exc: Exception) -> None:
        self.warm_error = repr(exc)

    async def _read_recent(
        self, consumer: AIOKafkaConsumer
    ) -> tuple[int, dict[TopicPartition, int]]:
        """The ids of the last `max_entries / partitions` records per partition, newer
        than the window; and where each partition was read up to."""
        s = self.settings
        tps = []
        for logical in DEDUPED_TOPICS:
            tps += await partitions_of(consumer, s.topic_prefix + logical, refresh=True)
        if not tps:
            return 0, {}
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        begins = await consumer.beginning_offsets(tps)
        per_tp = max(1, s.ingest_dedup_max_entries // len(tps))
        for tp in tps:
            consumer.seek(tp, max(begins[tp], ends[tp] - per_tp))
        wall, mono = time.time(), time.monotonic()
        oldest_ms = (wall - s.ingest_dedup_window_s) * 1000
        n = 0

        def remember(_tp: TopicPartition, recs: list[ConsumerRecord]) -> None:
            nonlocal n
            for r in recs:
                if r.key is not None and r.timestamp >= oldest_ms:
                    self.seen.add([r.key.decode()], at=mono - (wall - r.timestamp / 1000))
                    n += 1

        await read_to_end(consumer, tps, remember, ends=ends, within_s=120)
        return n, {tp: await consumer.position(tp) for tp in tps}

    async def _follow(
        self, consumer: AIOKafkaConsumer, positions: dict[TopicPartition, int]
    ) -> None:
        """Read on from `positions` (kept up to date) for as long as the process runs."""
        if not positions:
            return  # the topics do not exist (yet): nothing anyone produced to follow

        def remember(tp: TopicPartition, recs: list[ConsumerRecord]) -> None:
            if recs:
                self.seen.add([r.key.decode() for r in recs if r.key is not None])
                positions[tp] = recs[-1].offset + 1

        await follow(consumer, list(positions), remember, poll_ms=1000)
