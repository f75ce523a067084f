"""Small helpers for integration tests: produce, read a topic to its end, wait."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.structs import TopicPartition
from elasticsearch import ApiError, Elasticsearch, TransportError

from socialdesk.kafka import KafkaRuntime, Processor, ensure_topics
from socialdesk.readback import every_document
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import load_topic_specs


def settings_for(
    kafka: str, prefix: str, es_url: str | None = None, broker: str = "noida"
) -> BaseServiceSettings:
    return BaseServiceSettings(
        kafka_idempotent_producer=broker != "tansu",
        kafka_bootstrap=kafka,
        topic_prefix=prefix,
        index_prefix=prefix.rstrip("."),
        elasticsearch_url=es_url or "http://127.0.0.1:9",
        kafka_session_timeout_ms=6000,
        kafka_evict_stale_members=True,
        environment="test",
    )


def create_topics(settings: BaseServiceSettings) -> None:
    ensure_topics(settings, load_topic_specs().values())


async def produce(kafka: str, topic: str, records: list[tuple[str | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all")
    await producer.start()
    try:
        futs = [
            await producer.send(topic, value=v, key=k.encode() if k else None) for k, v in records
        ]
        await asyncio.gather(*futs)
    finally:
        await producer.stop()


async def read_all(kafka: str, topic: str) -> list[tuple[str | None, dict[str, Any]]]:
    """Everything on a topic right now, from the beginning, in partition order."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None, enable_auto_commit=False)
    await consumer.start()
    out: list[tuple[str | None, dict[str, Any]]] = []
    try:
        parts = consumer.partitions_for_topic(topic)
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return out
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + 30
        while todo and time.monotonic() < deadline:
            batch = await consumer.getmany(*todo, timeout_ms=500)
            for recs in batch.values():
                for r in recs:
                    key = r.key.decode() if r.key else None
                    out.append((key, json.loads(r.value) if r.value else {}))
            for tp in list(todo):
                if await consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
    finally:
        await consumer.stop()
    return out


def es_items(es_url: str, prefix: str, query: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every item document of a test's prefix (matching `query`), however many: read
    whole through a point-in-time, never one search page. An index that is missing or
    unreachable reads as empty, so callers can poll; a short read raises."""
    es = Elasticsearch(es_url)
    index = prefix.rstrip(".") + "-items"
    try:
        es.indices.refresh(index=index)
        return list(every_document(es, index, query))
    except (ApiError, TransportError):
        return []
    finally:
        es.close()


async def wait_until(
    check: Callable[[], Any],
    within: float = 60,
    every: float = 0.5,
    explain: Callable[[], str] | None = None,
) -> Any:
    """Poll until `check` returns something truthy; on time-out, `explain` says why."""
    deadline = time.monotonic() + within
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(every)
    why = f"; {explain()}" if explain else ""
    raise AssertionError(f"condition not met in {within}s{why}; last value: {last!r}"[:3000])


class Running:
    """A Processor running in this process, as the service would run it."""

    def __init__(self, settings: BaseServiceSettings, proc: Processor) -> None:
        self.runtime = KafkaRuntime(settings, proc)
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Running:
        self.task = asyncio.create_task(self.runtime.run())
        return self

    def explain(self) -> str:
        """What a test that timed out waiting on this processor needs to know."""
        rt = self.runtime
        died = self.task is not None and self.task.done() and not self.task.cancelled()
        error = self.task.exception() if died and self.task is not None else None
        owned = sorted(tp.partition for tp in rt.consumer.assignment()) if rt.consumer else []
        restored = [sorted(getattr(s, "restored", ())) for s in rt.proc.stores]
        return (
            f"{rt.proc.service}: died={died} error={error!r} ready={rt.ready} "
            f"assigned={owned} restored={restored} last_error={rt.last_error}"
        )

    async def __aexit__(self, *exc: object) -> None:
        self.runtime.stop()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=30)
