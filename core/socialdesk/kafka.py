"""Kafka plumbing, written once: client options, topic creation, and the batch loop that
every streaming service runs around its plain processing function.

Delivery is at-least-once. Per consumed batch the loop: decodes and processes each
message in partition order, sends every output (poison messages become dead letters with
their reason and origin), waits for the broker to acknowledge all of them, then sends
the state-store changelog records, waits again, and only then commits the offsets. A
crash anywhere in between replays the batch; handlers are idempotent, so a replay
produces the same sequence numbers and nothing is lost or doubled downstream. If the
broker is unreachable the loop keeps the outputs and retries them with backoff: work
waits, readiness goes false, nothing is dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from aiokafka.structs import ConsumerRecord, TopicPartition
from pydantic import BaseModel, ValidationError

from socialdesk.events import DeadLetter, DeadLetterOrigin, utcnow
from socialdesk.metrics import (
    BATCH_SECONDS,
    CONSUMED,
    CONSUMER_LAG,
    DEAD_LETTERS,
    PRODUCE_ERRORS,
    PRODUCED,
    READY,
)
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import DEADLETTER, TopicSpec

log = logging.getLogger(__name__)


def topic_name(settings: BaseServiceSettings, logical: str) -> str:
    return settings.topic_prefix + logical


_FETCH_PACING_S = (0.0, 0.0)  # (after an empty fetch, after one with records)


def pace_fetches(empty_wait_ms: int, busy_wait_ms: int = 0) -> None:
    """Space fetches: at least empty_wait_ms after an empty one, busy_wait_ms after one
    that returned records (so records gather into fewer, larger fetches).

    A broker holds a fetch with no data for fetch.max.wait.ms (500 ms by default), so
    an idle consumer costs nothing. noida-db answers at once instead, and aiokafka then
    re-sends immediately: measured, one idle consumer burned 74% of a core and the
    pipeline spent most of its CPU polling. On a broker that holds fetches the wait has
    already passed, so this changes nothing there. noida-db serves Kafka on one thread,
    so fewer, larger requests are what raise the pipeline's throughput on it (measured:
    docs/benchmarks.md). Process-wide, installed once."""
    global _FETCH_PACING_S
    _FETCH_PACING_S = (empty_wait_ms / 1000, busy_wait_ms / 1000)
    from aiokafka.consumer.fetcher import Fetcher

    if getattr(Fetcher, "_socialdesk_paced", False):
        return
    original = Fetcher._proc_fetch_request

    async def paced(self: Any, assignment: Any, node_id: Any, request: Any) -> Any:
        loop = asyncio.get_running_loop()
        started = loop.time()
        got = await original(self, assignment, node_id, request)
        wait = _FETCH_PACING_S[1] if got else _FETCH_PACING_S[0]
        if wait > 0:
            remaining = wait - (loop.time() - started)
            if remaining > 0:
                try:
                    await asyncio.sleep(remaining)
                except asyncio.CancelledError:
                    return False  # closing or unassigned, as aiokafka itself treats it
        return got

    Fetcher._proc_fetch_request = paced
    Fetcher._socialdesk_paced = True


def common_client_options(settings: BaseServiceSettings) -> dict[str, Any]:
    """Options shared by aiokafka producers, consumers and the kafka-python admin client.
    (Also installs the empty-fetch pacing, so every consumer built from them has it.)"""
    pace_fetches(settings.kafka_empty_fetch_wait_ms, settings.kafka_busy_fetch_wait_ms)
    opts: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        ctx = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
        if settings.kafka_ssl_certfile:
            ctx.load_cert_chain(
                str(settings.kafka_ssl_certfile),
                str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            )
        opts["ssl_context"] = ctx
    if settings.kafka_sasl_mechanism:
        opts["sasl_mechanism"] = settings.kafka_sasl_mechanism
        opts["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            opts["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return opts


def sync_client_options(settings: BaseServiceSettings) -> dict[str, Any]:
    """The same options for kafka-python clients (admin, `socialdesk replay`, `simulate`):
    TLS with the cluster CA and client certificate, and SASL, exactly as the services."""
    return common_client_options(settings)


def _admin(settings: BaseServiceSettings) -> Any:
    from kafka.admin import KafkaAdminClient

    opts = sync_client_options(settings)
    return KafkaAdminClient(client_id="socialdesk-admin", request_timeout_ms=15000, **opts)


def ensure_topics(settings: BaseServiceSettings, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that are missing, with their partitions and config. Idempotent."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(
                topic_name(settings, s.name),
                num_partitions=s.partitions,
                replication_factor=-1,
                topic_configs=s.config,
            )
            for s in specs
            if topic_name(settings, s.name) not in existing
        ]
        created: list[str] = []
        for topic in wanted:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
            except Exception:
                # Some brokers refuse replication_factor=-1 (broker default); retry with 1.
                topic.replication_factor = 1
                try:
                    admin.create_topics([topic])
                    created.append(topic.name)
                except TopicAlreadyExistsError:
                    pass
        return created
    finally:
        admin.close()


def evict_stale_members(settings: BaseServiceSettings, group_id: str) -> int:
    """Remove every member of a group before this (single) instance joins it.

    Only for brokers that never expire dead members (noida-db); see the setting's note.
    """
    from kafka.admin import MemberToRemove

    admin = _admin(settings)
    try:
        described = admin.describe_groups([group_id]).get(group_id) or {}
        members = [m["member_id"] for m in described.get("members") or []]
        if members:
            admin.remove_group_members(group_id, [MemberToRemove(member_id=m) for m in members])
            log.warning("evicted stale group members", extra={"group": group_id, "n": len(members)})
        return len(members)
    except Exception as exc:  # a group that doesn't exist yet is fine
        log.info("no stale members evicted", extra={"group": group_id, "why": repr(exc)})
        return 0
    finally:
        admin.close()


@dataclass(frozen=True)
class Output:
    """A record to produce: logical topic name, key, and a model or ready JSON value."""

    topic: str
    key: str | None
    value: BaseModel | dict[str, Any] | bytes | None
    partition: int | None = None


@dataclass(frozen=True)
class Meta:
    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int


@dataclass
class BatchResult:
    outputs: list[Output] = field(default_factory=list)
    changelog: list[Output] = field(default_factory=list)


def encode(value: BaseModel | dict[str, Any] | bytes | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json().encode()
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def dead_letter(
    service: str, reason: str, error: str | None, payload: bytes | str, origin: DeadLetterOrigin
) -> Output:
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    dl = DeadLetter(
        reason=reason,
        error=(error or "")[:2000] or None,
        service=service,
        origin=origin,
        failed_at=utcnow(),
        payload=text[:1_000_000],
    )
    DEAD_LETTERS.labels(service, reason).inc()
    return Output(DEADLETTER, origin.key, dl)


class Processor(Protocol):
    """What a streaming service supplies: how to decode, and how to handle a batch."""

    service: str
    group_id: str
    topics: Sequence[str]

    def decode(self, topic: str, raw: bytes) -> Any:
        """Parse one message; raise ValueError/ValidationError for a poison message."""

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        """Process decoded messages in order; poison ones come back as dead letters."""

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        """Restore any state for newly assigned partitions before messages flow."""

    async def on_revoke(self, partitions: set[TopicPartition]) -> None:
        """Forget state of partitions this instance no longer owns."""


class PoisonMessage(Exception):
    """Raised by a processing function for one message it cannot process."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def process_each(
    service: str,
    batch: list[tuple[Any, Meta]],
    fn: Callable[[Any, Meta], list[Output]],
) -> list[Output]:
    """Apply a plain per-message function; a message it fails on becomes a dead letter
    with the reason and its origin, and the rest of the batch goes on."""
    outputs: list[Output] = []
    for value, meta in batch:
        try:
            outputs.extend(fn(value, meta))
        except PoisonMessage as exc:
            outputs.append(_dead_for(service, exc.reason, exc.detail, value, meta))
        except Exception as exc:
            log.exception("processing failed", extra={"topic": meta.topic, "offset": meta.offset})
            outputs.append(_dead_for(service, "processing_error", repr(exc), value, meta))
    return outputs


def _dead_for(service: str, reason: str, detail: str, value: Any, meta: Meta) -> Output:
    return dead_letter(
        service,
        reason,
        detail,
        json.dumps(_jsonable(value), default=str),
        DeadLetterOrigin(
            topic=meta.topic, partition=meta.partition, offset=meta.offset, key=meta.key
        ),
    )


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
            await self.runtime.proc.on_assign(set(assigned))
        finally:
            # Even if on_assign failed: handle() restores any partition it touches.
            self.runtime._settled.set()
        self.runtime.assigned = True
        self.runtime._set_ready(True)


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

    @property
    def group_id(self) -> str:
        """Groups share the topics' prefix, so prefixed deployments never collide."""
        return self.settings.topic_prefix + self.proc.group_id

    def _set_ready(self, value: bool) -> None:
        self.ready = value
        READY.labels(self.proc.service).set(1 if value else 0)

    async def start(self) -> None:
        """Connect, retrying with backoff while the broker is unreachable."""
        delay = 0.5
        while not self._stopping.is_set():
            try:
                if self.settings.kafka_evict_stale_members:
                    await asyncio.to_thread(evict_stale_members, self.settings, self.group_id)
                self.producer = make_producer(self.settings, self.proc.service)
                await self.producer.start()
                self.consumer = AIOKafkaConsumer(
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
                    **common_client_options(self.settings),
                )
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
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

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
                tick = getattr(self.proc, "tick", None)
                if tick is not None and self._settled.is_set():
                    timed: BatchResult = await tick()
                    if timed.outputs or timed.changelog:
                        await self._drain_tail()  # keep changelog writes in order
                        await self._send_all(timed.outputs)
                        await self._send_all(timed.changelog)
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
        finally:
            await self._close_clients()
            self._set_ready(False)

    async def _until_settled(self) -> None:
        """Wait for on_assign to finish, or for a stop (a rejoin can take long)."""
        waits = [asyncio.ensure_future(e.wait()) for e in (self._settled, self._stopping)]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def _process(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        service = self.proc.service
        decoded: list[tuple[Any, Meta]] = []
        outputs: list[Output] = []
        offsets: dict[TopicPartition, int] = {}
        prefix = self.settings.topic_prefix
        for tp, records in batches.items():
            logical = tp.topic[len(prefix) :] if prefix else tp.topic
            CONSUMED.labels(service, logical).inc(len(records))
            for rec in records:
                key = rec.key.decode("utf-8", "replace") if rec.key is not None else None
                meta = Meta(logical, rec.partition, rec.offset, key, rec.timestamp)
                try:
                    decoded.append((self.proc.decode(logical, rec.value or b""), meta))
                except (ValueError, ValidationError) as exc:
                    outputs.append(
                        dead_letter(
                            service,
                            "invalid_payload",
                            _short_error(exc),
                            rec.value or b"",
                            DeadLetterOrigin(
                                topic=logical, partition=rec.partition, offset=rec.offset, key=key
                            ),
                        )
                    )
            offsets[tp] = records[-1].offset + 1
        result = await self.proc.handle(decoded) if decoded else BatchResult()
        outputs.extend(result.outputs)
        await self._send_all(outputs)
        # The outcome is visible now. The changelog and the commit follow in the
        # background while the next batch is fetched and processed: a crash before they
        # land replays this batch, which regenerates the same events and sequence numbers.
        # One tail at a time keeps changelog records and commits in order.
        await self._drain_tail()
        self._tail = asyncio.create_task(self._finish(result.changelog, offsets))

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
        delay = 0.2
        while remaining:
            if self.producer is None:
                self.producer = make_producer(self.settings, self.proc.service)
                try:
                    await self.producer.start()
                except Exception as exc:
                    await self._producer_failed(exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10)
                    continue
            futures = []
            try:
                for out in remaining:
                    futures.append(
                        await self.producer.send(
                            topic_name(self.settings, out.topic),
                            value=encode(out.value),
                            key=out.key.encode() if out.key is not None else None,
                            partition=out.partition,
                        )
                    )
            except Exception as exc:
                log.warning("send failed", extra={"error": repr(exc)})
            failed: list[Output] = []
            for out, fut in zip(remaining, futures, strict=False):
                try:
                    await fut
                    PRODUCED.labels(self.proc.service, out.topic).inc()
                except Exception as exc:
                    failed.append(out)
                    self.last_error = repr(exc)
            failed.extend(remaining[len(futures) :])
            if failed:
                await self._producer_failed(Exception(self.last_error))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            elif not self.ready and self.assigned:
                self._set_ready(True)
            remaining = failed

    async def _producer_failed(self, exc: Exception) -> None:
        PRODUCE_ERRORS.labels(self.proc.service).inc()
        self._set_ready(False)
        log.warning("produce failed, will retry", extra={"error": repr(exc)})

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self.consumer is not None
        delay = 0.2
        for _ in range(10):
            try:
                await self.consumer.commit(offsets)
                return
            except Exception as exc:
                # A rebalance took the partitions away: the new owner replays, harmlessly.
                log.warning("commit failed", extra={"error": repr(exc)})
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)

    def _report_lag(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self.consumer is not None
        for tp, records in batches.items():
            high = self.consumer.highwater(tp)
            if high is not None:
                CONSUMER_LAG.labels(self.proc.service, tp.topic, str(tp.partition)).set(
                    max(0, high - (records[-1].offset + 1))
                )


def _short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            parts.append(f"{loc}: {err['msg']}")
        return "; ".join(parts)
    return str(exc)[:500]


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


GZIP_LEVEL = 1


def _fast_gzip() -> None:
    """aiokafka compresses gzip batches at level 9 (measured on our records: 26-45 MB/s,
    ratio 3.5-10.7); level 1 gives 94-236 MB/s at ratio 3.4-8.7. Installed once, for
    every producer in the process. Any gzip level decodes the same way."""
    import gzip

    from aiokafka.record import default_records as pyrecords
    from aiokafka.record._crecords import default_records as crecords

    def encode(payload: Any, compresslevel: int | None = None) -> bytes:
        return gzip.compress(bytes(payload), compresslevel=GZIP_LEVEL, mtime=0)

    for module in (crecords, pyrecords):
        if getattr(module, "gzip_encode", None) is not None:
            module.gzip_encode = encode


def make_producer(settings: BaseServiceSettings, service: str) -> AIOKafkaProducer:
    """acks=all and idempotence: an acknowledged record is durable and written once.
    A short linger: a whole batch is handed over at once anyway, and every millisecond
    waited here is a millisecond before an operator sees the outcome.

    Batches are gzip-compressed (level 1): noida-db keeps every record and rewrites its
    whole Kafka store to disk as JSON while records keep arriving, so the bytes kept
    there are what its CPU goes on (measured: docs/benchmarks.md); compressed, our
    records are 3-9 times smaller. On real Kafka it saves disk and network the same way."""
    _fast_gzip()
    return AIOKafkaProducer(
        client_id=f"{service}-{settings.instance}",
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        linger_ms=settings.kafka_linger_ms,
        max_batch_size=256 * 1024,
        request_timeout_ms=15000,
        compression_type=None if settings.kafka_compression == "none" else "gzip",
        **common_client_options(settings),
    )


class ProducerHolder:
    """One producer (make_producer) for a service's request paths: started on first use,
    kept, and dropped by reset() after a failure so the next use connects afresh."""

    def __init__(self, settings: BaseServiceSettings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.producer: AIOKafkaProducer | None = None
        self.lock = asyncio.Lock()

    async def get(self) -> AIOKafkaProducer:
        if self.producer is not None:  # the hot path takes no lock
            return self.producer
        async with self.lock:
            if self.producer is None:
                producer = make_producer(self.settings, self.service)
                try:
                    await asyncio.wait_for(producer.start(), timeout=10)
                except BaseException:
                    await producer.stop()
                    raise
                self.producer = producer
            return self.producer

    async def reset(self) -> None:
        async with self.lock:
            if self.producer is not None:
                try:
                    await self.producer.stop()
                finally:
                    self.producer = None


async def produce_and_wait(producer: AIOKafkaProducer, prefix: str, outputs: list[Output]) -> None:
    """Send a handful of records and wait for every acknowledgement (used by HTTP paths)."""
    futures = [
        await producer.send(
            prefix + out.topic,
            value=encode(out.value),
            key=out.key.encode() if out.key is not None else None,
        )
        for out in outputs
    ]
    await asyncio.gather(*futures)


Handler = Callable[[list[tuple[Any, Meta]]], Awaitable[BatchResult]]
