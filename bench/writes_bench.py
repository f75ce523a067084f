"""What one mention writes: documents, bytes and overwrites per Elasticsearch index and
records and bytes per Kafka topic, on the local stack with every service running
(issue 26, item 1). N mentions go through ingest at a steady rate, one in five a reply
in an earlier mention's thread; once every item is searchable and the writes have
stopped, the bench reads each index's `_stats` (index operations, deletes, bulk bytes
sent, documents kept, store size) and every record of every topic. Figures are printed
and returned, never asserted.

    python bench/writes_bench.py [--mentions 2000] [--rate 100] [--seal]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition
from benchstack import private_stack
from e2e_bench import BATCH, _mention, _texts

from socialdesk.kafka import ensure_topics
from socialdesk.kafka.reading import read_to_end
from socialdesk.topics import load_topic_specs
from socialdesk_tools.stack import SERVICES, Stack, kill_trees

INGEST_KEY = "dev-only-change-me"
THREAD_EVERY = 5  # one mention in five answers the mention before it (same thread)


def mentions(n: int, run: str) -> list[dict[str, Any]]:
    texts = _texts()
    out = []
    for i in range(n):
        m = _mention(i, run, texts[i % len(texts)])
        if i % THREAD_EVERY == THREAD_EVERY - 1:
            prev = out[-1]
            m |= {
                "channel": "reply",
                "author": prev["author"],
                "conversation_id": prev["conversation_id"],
                "in_reply_to_id": prev["native_id"],
            }
        out.append(m)
    return out


def offer(stack: Stack, batch: list[dict[str, Any]], rate: int) -> None:
    """POST the mentions in batches of BATCH, paced to `rate` per second."""
    started = time.monotonic()
    with httpx.Client(timeout=30) as client:
        for i in range(0, len(batch), BATCH):
            chunk = batch[i : i + BATCH]
            body = b"\n".join(json.dumps(m).encode() for m in chunk)
            r = client.post(
                stack.ingest_url() + "/v1/mentions", content=body, headers={"X-Api-Key": INGEST_KEY}
            )
            r.raise_for_status()
            ahead = started + (i + len(chunk)) / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)


def index_stats(es_url: str, prefix: str) -> dict[str, dict[str, int]]:
    """Per index of this run: index and delete operations, bulk bytes sent, documents
    kept and store bytes (from `_stats`)."""
    r = httpx.get(f"{es_url}/{prefix}-*/_stats/indexing,docs,store,bulk", timeout=30)
    r.raise_for_status()
    out = {}
    for name, s in (r.json().get("indices") or {}).items():
        p = s["primaries"]
        logical = re.sub(r"-v\d+$", "", name[len(prefix) + 1 :])  # behind its alias
        out[logical] = {
            "index_ops": p["indexing"]["index_total"],
            "delete_ops": p["indexing"]["delete_total"],
            "bulk_bytes": (p.get("bulk") or {}).get("total_size_in_bytes", 0),
            "docs": p["docs"]["count"],
            "store_bytes": p["store"]["size_in_bytes"],
        }
    return out


async def topic_stats(kafka: str, prefix: str) -> dict[str, dict[str, int]]:
    """Per topic of this run: records and key+value bytes, every record read."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None, enable_auto_commit=False)
    await consumer.start()
    out: dict[str, dict[str, int]] = {}

    def count(tp: TopicPartition, recs: list[ConsumerRecord]) -> None:
        s = out.setdefault(tp.topic[len(prefix) :], {"records": 0, "bytes": 0})
        s["records"] += len(recs)
        s["bytes"] += sum(len(r.key or b"") + len(r.value or b"") for r in recs)

    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith(prefix))
        tps = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        await read_to_end(consumer, tps, count)
    finally:
        await consumer.stop()
    return out


def settle(es_url: str, prefix: str, items: int, within: float = 600) -> float:
    """Wait until every item is indexed and the index operations have stopped for 5 s."""
    started = time.monotonic()
    last: dict[str, dict[str, int]] = {}
    quiet_since = time.monotonic()
    while time.monotonic() - started < within:
        stats = index_stats(es_url, prefix)
        if stats != last:
            last, quiet_since = stats, time.monotonic()
            print(f"items {stats.get('items')} of {items}", file=sys.stderr, flush=True)
        done = stats.get("items", {}).get("docs", 0) >= items
        if done and time.monotonic() - quiet_since >= 5:
            return time.monotonic() - started
        time.sleep(1)
    raise TimeoutError(f"not settled in {within} s: {last.get('items')}")


def per_mention(stats: dict[str, dict[str, int]], n: int) -> dict[str, dict[str, float]]:
    return {k: {f: round(v / n, 3) for f, v in s.items()} for k, s in sorted(stats.items())}


def run(mentions_n: int = 2000, rate: int = 100, seal: bool = False) -> dict[str, Any]:
    ps = private_stack("writes", "w")
    env = {
        "SOCIALDESK_TOPIC_PREFIX": ps.prefix + ".",
        "SOCIALDESK_INDEX_PREFIX": ps.prefix,
        "SOCIALDESK_LOG_LEVEL": "WARNING",
        "SOCIALDESK_VAULT_SEAL": "true" if seal else "false",
    }
    ensure_topics(ps.settings, load_topic_specs().values())
    procs = [ps.stack.spawn(svc, extra_env=env) for svc in SERVICES]
    try:
        for svc in SERVICES:
            ps.stack.wait_ready(svc, 240)
        print("services ready; offering", file=sys.stderr, flush=True)
        batch = mentions(mentions_n, f"w{int(time.time())}-")
        items = sum(1 for m in batch if m["channel"] != "reply")
        t0 = time.monotonic()
        offer(ps.stack, batch, rate)
        print(f"offered {mentions_n} in {time.monotonic() - t0:.1f} s", file=sys.stderr, flush=True)
        settle_s = settle(ps.stack.es_url, ps.prefix, items)
        es = index_stats(ps.stack.es_url, ps.prefix)
        kafka = asyncio.run(topic_stats(ps.stack.kafka, ps.prefix + "."))
    finally:
        kill_trees(procs)
        ps.stack.stop_noida()
    total = {
        "es_index_ops": sum(s["index_ops"] + s["delete_ops"] for s in es.values()),
        "es_bulk_bytes": sum(s["bulk_bytes"] for s in es.values()),
        "es_store_bytes": sum(s["store_bytes"] for s in es.values()),
        "kafka_records": sum(s["records"] for s in kafka.values()),
        "kafka_bytes": sum(s["bytes"] for s in kafka.values()),
    }
    return {
        "mentions": mentions_n,
        "items": items,
        "rate": rate,
        "sealed": seal,
        "seconds": round(time.monotonic() - t0, 1),
        "settle_s": round(settle_s, 1),
        "per_mention": {k: round(v / mentions_n, 1) for k, v in total.items()},
        "es_per_mention": per_mention(es, mentions_n),
        "kafka_per_mention": per_mention(kafka, mentions_n),
    }


def report(r: dict[str, Any]) -> str:
    lines = [
        f"{r['mentions']} mentions ({r['items']} items) at {r['rate']}/s, "
        f"sealed={r['sealed']}: per mention {r['per_mention']}",
        "index | index ops | deletes | bulk bytes | docs kept | store bytes (per mention)",
    ]
    for name, s in r["es_per_mention"].items():
        lines.append(
            f"{name} | {s['index_ops']} | {s['delete_ops']} | {s['bulk_bytes']:.0f} | "
            f"{s['docs']} | {s['store_bytes']:.0f}"
        )
    lines.append("topic | records | bytes (per mention)")
    for name, s in r["kafka_per_mention"].items():
        lines.append(f"{name} | {s['records']} | {s['bytes']:.0f}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mentions", type=int, default=2000)
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seal", action="store_true", help="seal personal topics (production)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    args = ap.parse_args()
    r = run(args.mentions, args.rate, args.seal)
    print(report(r))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
