"""Read everything back: every document of an index and every record of a topic.

A search returns at most a page (10,000 hits by default), so a check built on one
search stops seeing anything past it. `every_document` pages through a point-in-time
with search_after (the way Elasticsearch recommends for reading a whole index; noida-db
supports it too) and checks the hits it read against the snapshot's total, so a short
read is an error, never a quiet undercount. `every_record` reads a topic from the
beginning to the end offsets taken when it starts.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, TopicPartition

PAGE = 5000  # noida-db scans the whole index per search: fewer, larger pages


class ShortRead(Exception):
    """A paged read returned fewer (or more) hits than the snapshot holds."""


def every_document(
    es: Elasticsearch,
    index: str,
    query: dict[str, Any] | None = None,
    page: int = PAGE,
    keep_alive: str = "2m",
) -> Iterator[dict[str, Any]]:
    """Every matching document's source, from one point-in-time snapshot."""
    pit = es.open_point_in_time(index=index, keep_alive=keep_alive)["id"]
    after: list[Any] | None = None
    read = 0
    total: int | None = None
    try:
        while True:
            kwargs: dict[str, Any] = {"search_after": after} if after is not None else {}
            resp = es.search(
                pit={"id": pit, "keep_alive": keep_alive},
                query=query or {"match_all": {}},
                sort=["_shard_doc"],
                size=page,
                track_total_hits=total is None,
                **kwargs,
            )
            pit = resp.get("pit_id", pit)
            if total is None:
                t = resp["hits"]["total"]
                if t.get("relation", "eq") != "eq":
                    raise ShortRead(f"{index}: total is only a bound ({t})")
                total = int(t["value"])
            hits = resp["hits"]["hits"]
            if not hits:
                break
            for h in hits:
                read += 1
                yield h["_source"]
            after = hits[-1]["sort"]
    finally:
        try:
            es.close_point_in_time(id=pit)
        except Exception:  # noqa: S110 - the snapshot expires by itself
            pass
    if read != total:
        raise ShortRead(f"{index}: read {read} documents of {total}")


def every_record(
    bootstrap: str, topic: str, timeout_s: float = 120
) -> list[tuple[bytes | None, bytes | None]]:
    """(key, value) of every record on a topic now, partition by partition in order."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    out: list[tuple[bytes | None, bytes | None]] = []
    try:
        consumer.topics()  # fetches metadata; partitions_for_topic only reads the cache
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in sorted(parts)]
        if not tps:
            return out
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        deadline = time.monotonic() + timeout_s
        while todo:
            if time.monotonic() > deadline:
                raise ShortRead(f"{topic}: not read to its end in {timeout_s} s")
            for tp, recs in consumer.poll(timeout_ms=500, max_records=5000).items():
                out.extend((r.key, r.value) for r in recs if r.offset < ends[tp])
            for tp in list(todo):
                if consumer.position(tp) >= ends[tp]:
                    todo.discard(tp)
    finally:
        consumer.close()
    return out


def json_values(records: list[tuple[bytes | None, bytes | None]]) -> Iterator[dict[str, Any]]:
    """The JSON objects among records' values; anything else (poison) is skipped."""
    for _key, value in records:
        try:
            doc = json.loads(value or b"")
        except ValueError:
            continue
        if isinstance(doc, dict):
            yield doc
