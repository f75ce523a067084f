"""The batch loop every streaming service runs around its processing steps.

Delivery is at-least-once. Per consumed batch the loop: decodes and processes each
message in partition order, sends every output (poison messages become dead letters with
their reason and origin), waits for the broker to acknowledge all of them, then sends
the state stores' changed keys to their changelogs, waits again, and only then commits
the offsets. A crash anywhere in between replays the batch; handlers are idempotent, so
a replay produces the same sequence numbers and nothing is lost or doubled downstream.
If the broker is unreachable the loop keeps the outputs and retries them with backoff:
work waits, readiness goes false, nothing is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.structs import ConsumerRecord, TopicPartition
from pydantic import ValidationError

from socialdesk.backoff import Backoff
from socialdesk.events import DeadLetterOrigin
from socialdesk.kafka.admin import evict_stale_members
from socialdesk.kafka.client import make_consumer, make_producer, topic_name
from socialdesk.kafka.outputs import BatchResult, Meta, Output, dead_letter, short_error
from socialdesk.kafka.processor import Processor, SubjectTracking
from socialdesk.kafka.producer import send_output
from socialdesk.kafka.sealing import Sealer, sealer_for
from socialdesk.metrics import (
    BATCH_SECONDS,
    CONSUMED,
    CONSUMER_LAG,
    PRODUCE_ERRORS,
    PRODUCED,
    READY,
)
from socialdesk.settings import BaseServiceSettings

log = logging.getLogger(__name__)

Batches = dict[TopicPartition, list[ConsumerRecord]]
Opened = dict[TopicPartition, list[tuple[ConsumerRecord, str | None]]]


class _Listener(ConsumerRebalanceListener):
    """Readiness follows assignment: a service is ready once its partitions (and their
    state) are back, not merely when it has connected."""

    def __init__(self, runtime: KafkaRuntime) -> None:
        self.runtime = runtime

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.runtime._settled.clear()
        await self.runtime._drain_tail()  # commit what was done before giving partitions up
        await self.runtime.proc.on_revoke(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        try:
            settled = await self.runtime._settle(set(assigned))
        finally:
            # Even if the restore failed: the tick retries it, and each batch restores
            # any partition it touches first.
            self.runtime._settled.set()
        self.runtime.assigned = True
        self.runtime._set_ready(settled)


class KafkaRuntime:
    """Owns one producer and one consumer and runs a Processor's loop until stopped."""

    def __init__(
        self,
        settings: BaseServiceSettings,
        processor: Processor,
        *,
        max_records: int = 500,
        poll_timeout_ms: int = 200,
    ) -> None:
        self.settings = settings
        self.proc = processor
        self.max_records = max_records
        self.poll_timeout_ms = poll_timeout_ms
        self.producer: AIOKafkaProducer | None = None
        self.consumer: AIOKafkaConsumer | None = None
        self.ready = False
        self.assigned = False
        self._tail: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        # Set once on_assign has finished. The fetcher may hand out records of newly
        # assigned partitions while on_assign is still restoring their state; they wait.
        self._settled = asyncio.Event()
        self.last_error: str | None = None
        self.sealer: Sealer | None = None
        self._erased_seen = 0  # how far into sealer.erased this runtime has acted
        self._unsettled: set[TopicPartition] | None = None  # assigned, state not yet back
        self._retry_at = 0.0
        self._settle_backoff = Backoff(0.5, 10)

    @property
    def group_id(self) -> str:
        """Groups share the topics' prefix, so prefixed deployments never collide."""
        return self.settings.topic_prefix + self.proc.group_id

    def _set_ready(self, value: bool) -> None:
        self.ready = value
        READY.labels(self.proc.service).set(1 if value else 0)

    async def start(self) -> None:
        """Connect, retrying with backoff while the broker is unreachable."""
        self.sealer = sealer_for(self.settings)  # refuses a development vault key in production
        backoff = Backoff(0.5, 10)
        while not self._stopping.is_set():
            try:
                if self.settings.kafka_evict_stale_members:
                    await asyncio.to_thread(evict_stale_members, self.settings, self.group_id)
                self.producer = make_producer(self.settings, self.proc.service)
                await self.producer.start()
                self.consumer = self._make_consumer()
                await self.consumer.start()
                self.consumer.subscribe(
                    [topic_name(self.settings, t) for t in self.proc.topics],
                    listener=_Listener(self),
                )
                return
            except Exception as exc:
                self.last_error = repr(exc)
                log.warning("kafka not reachable, retrying", extra={"error": repr(exc)})
                await self._close_clients()
                self._set_ready(False)
                await backoff.wait()

    def _make_consumer(self) -> AIOKafkaConsumer:
        return make_consumer(
            self.settings,
            group_id=self.group_id,
            client_id=f"{self.proc.service}-{self.settings.instance}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=self.settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.settings.kafka_session_timeout_ms // 5),
            max_poll_interval_ms=300_000,
            # Range keeps partition N of every input topic on one instance, which
            # co-partitioned stateful services (assign, sla) rely on.
            partition_assignment_strategy=(RangePartitionAssignor,),
        )

    async def _close_clients(self) -> None:
        for client in (self.consumer, self.producer):
            if client is not None:
                try:
                    await client.stop()
                except Exception:
                    log.debug("client stop failed", exc_info=True)
        self.consumer = None
        self.producer = None

    def stop(self) -> None:
        self._stopping.set()

    async def run(self) -> None:
        await self.start()
        try:
            while not self._stopping.is_set():
                assert self.consumer is not None
                batches = await self.consumer.getmany(
                    timeout_ms=self.poll_timeout_ms, max_records=self.max_records
                )
                if self._settled.is_set():
                    await self._tick()
                if not batches:
                    continue
                if not self._settled.is_set():
                    await self._until_settled()
                    if self._stopping.is_set():
                        break
                    owned = self.consumer.assignment()
                    batches = {tp: recs for tp, recs in batches.items() if tp in owned}
                    if not batches:
                        continue
                started = time.perf_counter()
                await self._process(batches)
                BATCH_SECONDS.labels(self.proc.service).observe(time.perf_counter() - started)
                self._report_lag(batches)
            await self._drain_tail()
            await self.proc.on_stop()
        finally:
            await self._close_clients()
            self._set_ready(False)

    async def _settle(self, assigned: set[TopicPartition]) -> bool:
        """Read back the assigned partitions' state and hand them to the processor; on
        failure (the broker or key store away) remember them for the tick to retry."""
        try:
            await self._restore_assigned({tp.partition for tp in assigned})
            await self.proc.on_assign(assigned)
        except Exception as exc:
            self.last_error = repr(exc)
            self._unsettled = assigned
            self._retry_at = time.monotonic() + self._settle_backoff.delay()
            log.warning("state not restored on assignment, retrying", extra={"error": repr(exc)})
            return False
        self._unsettled = None
        self._settle_backoff.reset()
        return True

    async def _retry_settle(self) -> None:
        """A quiet partition would otherwise stay without its state until a message came."""
        if self._unsettled is None or time.monotonic() < self._retry_at or self.consumer is None:
            return
        if await self._settle(set(self.consumer.assignment())):
            self._set_ready(True)

    async def _tick(self) -> None:
        await self._retry_settle()
        await self._drop_erased()
        timed = await self.proc.tick()
        changelog = self._store_changes()
        if timed.outputs or changelog:
            await self._drain_tail()  # keep changelog writes in order
            await self._send_all(timed.outputs)
            await self._send_all(changelog)

    async def _drop_erased(self) -> None:
        """People erased while this service runs: the state held about them goes (with
        tombstones), and the service rebuilds what it derives from the stores."""
        if self.sealer is None:
            return
        await self.sealer.refresh()
        kids = set(self.sealer.erased[self._erased_seen :])
        self._erased_seen = len(self.sealer.erased)
        touched: set[int] = set()
        for store in self.proc.stores:
            if kids and isinstance(store, SubjectTracking):
                touched |= store.drop_subjects(kids)
        if touched:
            await self.proc.on_restored(touched)

    def _note_subjects(self, sealed: list[Output]) -> None:
        stores = {s.changelog: s for s in self.proc.stores if isinstance(s, SubjectTracking)}
        for out in sealed:
            store = stores.get(out.topic)
            if store is not None and out.subject and out.key and out.partition is not None:
                store.note_subject(out.partition, out.key, out.subject)

    async def _until_settled(self) -> None:
        """Wait for on_assign to finish, or for a stop (a rejoin can take long)."""
        waits = [asyncio.ensure_future(e.wait()) for e in (self._settled, self._stopping)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _restore_assigned(self, owned: set[int]) -> None:
        """The stores hold exactly the owned partitions: partitions that moved away are
        forgotten (once the new assignment is known: a rebalance can land mid-batch, and
        a partition kept across it keeps its state), new ones are read back."""
        for store in self.proc.stores:
            store.forget(store.restored - owned)
            await store.ensure_restored(owned)

    async def _restore_for(self, partitions: set[int]) -> None:
        """Never apply a message to a partition whose state has not been read back."""
        fresh: set[int] = set()
        for store in self.proc.stores:
            fresh |= await store.ensure_restored(partitions)
        if fresh:
            await self.proc.on_restored(fresh)

    def _store_changes(self) -> list[Output]:
        return [out for store in self.proc.stores for out in store.take_changes()]

    async def _open(self, batches: Batches) -> Opened:
        """Sealed records in clear (one key look-up for the batch), retried while the key
        store is away; an erased record comes back with value None."""
        if self.sealer is None:
            return {tp: [(rec, None) for rec in records] for tp, records in batches.items()}
        everything = [rec for records in batches.values() for rec in records]
        opened = await self._with_vault(lambda s: s.open(everything))
        out: Opened = {}
        for rec, kid in opened:
            out.setdefault(TopicPartition(rec.topic, rec.partition), []).append((rec, kid))
        return out

    async def _with_vault(self, step: Any) -> Any:
        backoff = Backoff(0.2, 10)
        while True:
            try:
                return await step(self.sealer)
            except Exception as exc:
                self.last_error = repr(exc)
                self._set_ready(False)
                log.warning("author keys unavailable, retrying", extra={"error": repr(exc)})
                if self._stopping.is_set():
                    raise
                await backoff.wait()

    def _decode(self, batches: Opened) -> tuple[list[tuple[Any, Meta]], list[Output]]:
        """Decoded messages in partition order, and dead letters for the undecodable;
        erased records (their author's key destroyed) are skipped."""
        service = self.proc.service
        decoded: list[tuple[Any, Meta]] = []
        dead: list[Output] = []
        prefix = self.settings.topic_prefix
        for tp, records in batches.items():
            logical = tp.topic[len(prefix) :] if prefix else tp.topic
            CONSUMED.labels(service, logical).inc(len(records))
            for rec, kid in records:
                if kid is not None and rec.value is None:
                    continue
                key = rec.key.decode("utf-8", "replace") if rec.key is not None else None
                meta = Meta(logical, rec.partition, rec.offset, key, rec.timestamp, kid)
                try:
                    decoded.append((self.proc.decode(logical, rec.value or b""), meta))
                except (ValueError, ValidationError) as exc:
                    origin = DeadLetterOrigin(
                        topic=logical, partition=rec.partition, offset=rec.offset, key=key
                    )
                    reason = short_error(exc)
                    dead.append(
                        dead_letter(
                            service, "invalid_payload", reason, rec.value or b"", origin, kid
                        )
                    )
        return decoded, dead

    async def _process(self, batches: Batches) -> None:
        decoded, outputs = self._decode(await self._open(batches))
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
        result = BatchResult()
        if decoded:
            await self._restore_for({meta.partition for _, meta in decoded})
            result = await self.proc.handle(decoded)
        outputs.extend(result.outputs)
        changelog = self._store_changes()
        await self._send_all(outputs)
        # The outcome is visible now. The changelog and the commit follow in the
        # background while the next batch is fetched and processed: a crash before they
        # land replays this batch, which regenerates the same events and sequence numbers.
        # One tail at a time keeps changelog records and commits in order.
        await self._drain_tail()
        self._tail = asyncio.create_task(self._finish(changelog, offsets))

    async def _finish(self, changelog: list[Output], offsets: dict[TopicPartition, int]) -> None:
        # Never write state for a partition another instance now owns: its newer state
        # would be overwritten by ours. (The new owner replays from the last commit.)
        owned = self._owned_partitions()
        await self._send_all([c for c in changelog if c.partition is None or c.partition in owned])
        await self._commit(offsets)

    def _owned_partitions(self) -> set[int]:
        if self.consumer is None:
            return set()
        return {tp.partition for tp in self.consumer.assignment()}

    async def _drain_tail(self) -> None:
        if self._tail is not None:
            tail, self._tail = self._tail, None
            await tail

    async def _send_all(self, outputs: list[Output]) -> None:
        """Send and wait for every acknowledgement; on failure retry the unacknowledged."""
        remaining = outputs
        if self.sealer is not None and outputs:
            remaining = await self._with_vault(lambda s: s.seal(outputs))
            self._note_subjects(remaining)
        backoff = Backoff(0.2, 10)
        while remaining:
            if self.producer is None:
                self.producer = make_producer(self.settings, self.proc.service)
                try:
                    await self.producer.start()
                except Exception as exc:
                    await self._producer_failed(exc)
                    await backoff.wait()
                    continue
            failed = await self._send_once(self.producer, remaining)
            if failed:
                await self._producer_failed(Exception(self.last_error))
                await backoff.wait()
            elif not self.ready and self.assigned and self._unsettled is None:
                self._set_ready(True)
            remaining = failed

    async def _send_once(self, producer: AIOKafkaProducer, outputs: list[Output]) -> list[Output]:
        """One attempt at every record; the ones not acknowledged come back."""
        prefix = self.settings.topic_prefix
        futures = []
        try:
            for out in outputs:
                futures.append(await send_output(producer, prefix, out))
        except Exception as exc:
            log.warning("send failed", extra={"error": repr(exc)})
        failed: list[Output] = []
        for out, fut in zip(outputs, futures, strict=False):
            try:
                await fut
                PRODUCED.labels(self.proc.service, out.topic).inc()
            except Exception as exc:
                failed.append(out)
                self.last_error = repr(exc)
        failed.extend(outputs[len(futures) :])
        return failed

    async def _producer_failed(self, exc: Exception) -> None:
        PRODUCE_ERRORS.labels(self.proc.service).inc()
        self._set_ready(False)
        log.warning("produce failed, will retry", extra={"error": repr(exc)})

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self.consumer is not None
        backoff = Backoff(0.2, 5)
        for _ in range(10):
            try:
                await self.consumer.commit(offsets)
                return
            except Exception as exc:
                # A rebalance took the partitions away: the new owner replays, harmlessly.
                log.warning("commit failed", extra={"error": repr(exc)})
                await backoff.wait()

    def _report_lag(self, batches: Batches) -> None:
        assert self.consumer is not None
        for tp, records in batches.items():
            high = self.consumer.highwater(tp)
            if high is not None:
                CONSUMER_LAG.labels(self.proc.service, tp.topic, str(tp.partition)).set(
                    max(0, high - (records[-1].offset + 1))
                )
