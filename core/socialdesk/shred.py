"""Erasing one member of the public from Kafka: destroy their data key, so every sealed
record about them on every topic is unreadable, and write tombstones on the compacted
topics for the items that were wholly theirs, so compaction removes even the ciphertext.
The erasure command (docs/data-protection.md) calls erase_author_kafka and puts the
counts in its report."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from aiokafka.partitioner import DefaultPartitioner
from aiokafka.structs import ConsumerRecord

from socialdesk.es import make_es
from socialdesk.events import item_key_of
from socialdesk.kafka.client import make_producer, start_reader, topic_name
from socialdesk.kafka.reading import partitions_of, read_to_end
from socialdesk.kafka.sealing import Sealer, personal_topics
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import (
    ASSIGN_CHANGELOG,
    METRICS_CHANGELOG,
    NOTIFY_CHANGELOG,
    SLA_CHANGELOG,
    load_topic_specs,
)
from socialdesk.vault import make_vault

# Compacted topics keyed by item, and how each spells the key from an item id. Their
# records sit on the partition of the item's key (the input partition that wrote them).
ITEM_KEYED_CHANGELOGS: dict[str, str] = {
    ASSIGN_CHANGELOG: "{key}",  # the thread's state, by item key
    SLA_CHANGELOG: "{id}",
    NOTIFY_CHANGELOG: "{id}",
    METRICS_CHANGELOG: "item:{id}",
}


def tombstone_keys(item_ids: Iterable[str]) -> dict[str, list[tuple[str, str]]]:
    """Per compacted topic, (record key, item key) of each record to tombstone."""
    out: dict[str, list[tuple[str, str]]] = {}
    for topic, form in ITEM_KEYED_CHANGELOGS.items():
        seen: set[str] = set()
        for item_id in item_ids:
            key = item_key_of(item_id)
            record_key = form.format(id=item_id, key=key)
            if record_key not in seen:
                seen.add(record_key)
                out.setdefault(topic, []).append((record_key, key))
    return out


async def erase_author_kafka(
    settings: BaseServiceSettings, author_key: str, item_ids: list[str]
) -> dict[str, Any]:
    """Destroy the author's data key and tombstone the items given (only items wholly
    about this author: a thread's state goes with its key). Returns counts for the
    erasure report. Safe to run again: a second run destroys nothing more."""
    es = make_es(settings)
    try:
        vault = make_vault(settings, es)
        destroyed = await vault.destroy(author_key)
        await vault.store.expunge()  # type: ignore[attr-defined]
    finally:
        await es.close()
    tombstones = await _write_tombstones(settings, tombstone_keys(item_ids))
    return {
        "author_key": author_key,
        "sealing": settings.sealing,  # off: nothing was sealed, the tombstones are all
        "key_destroyed": destroyed,
        "tombstones": tombstones,
        "tombstones_total": sum(tombstones.values()),
        "readable_after_s": settings.vault_cache_ttl_s,
    }


async def _write_tombstones(
    settings: BaseServiceSettings, todo: dict[str, list[tuple[str, str]]]
) -> dict[str, int]:
    counts = {topic: 0 for topic in todo}
    if not any(todo.values()):
        return counts
    producer = make_producer(settings, "erasure")
    await asyncio.wait_for(producer.start(), timeout=30)
    partitioner = DefaultPartitioner()
    try:
        futures = []
        for topic, keys in todo.items():
            name = topic_name(settings, topic)
            parts = sorted(await producer.partitions_for(name))
            for record_key, item_key in keys:
                # the partition its input record had, as the runtime wrote the state there
                partition = partitioner(item_key.encode(), parts, parts)
                fut = await producer.send(
                    name, key=record_key.encode(), value=None, partition=partition
                )
                futures.append(fut)
                counts[topic] += 1
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    return counts


async def readable_about(settings: BaseServiceSettings, needles: list[str]) -> dict[str, int]:
    """Per topic, how many records anyone holding the vault key could read that contain
    any of `needles` (an id, a handle, a text) in their key or value: what an erasure
    drill expects to be 0 everywhere. Reads every topic from its beginning."""
    wanted = [n.encode() for n in needles if n]
    counts: dict[str, int] = {}
    es = make_es(settings)
    consumer = await start_reader(settings, "erasure-check")
    try:
        sealer = Sealer(make_vault(settings, es), personal_topics(), settings.topic_prefix)
        # Every topic's partitions first: once assigned, the consumer's metadata covers
        # only what it was assigned, and later topics would look empty.
        by_topic = {
            topic: await partitions_of(consumer, topic_name(settings, topic), refresh=True)
            for topic in sorted(load_topic_specs())
        }
        for topic, tps in by_topic.items():
            if not tps:
                continue
            opened = await sealer.open(await _everything(consumer, tps))
            counts[topic] = sum(
                1
                for rec, _ in opened
                if any(n in (rec.key or b"") or n in (rec.value or b"") for n in wanted)
            )
    finally:
        await consumer.stop()
        await es.close()
    return counts


async def _everything(consumer: Any, tps: list[Any]) -> list[ConsumerRecord]:
    found: list[ConsumerRecord] = []
    consumer.assign(tps)
    await consumer.seek_to_beginning(*tps)
    await read_to_end(consumer, tps, lambda _tp, recs: found.extend(recs))
    return found
