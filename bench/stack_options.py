"""Issue 26 item 3: one local stack layout measured the same way as every other.

Offers `--rate` mentions/s for `--seconds` through e2e_bench.sustained on a fresh stack,
then reports per minute of offer the p50/p99 ingest to searchable, the idle CPU of every
process with what the run left behind held (services restarted, `--idle` seconds of
/proc CPU), resident memory, and whether the items and Kafka records are all still there
after noida-db is stopped and started again. Figures are printed, never asserted:

    python bench/stack_options.py --layout noida --seconds 240
    python bench/stack_options.py --layout noida-split --seconds 240
    python bench/stack_options.py --layout noida --retention-ms 600000 --seconds 240
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from elasticsearch import Elasticsearch

from socialdesk.kafka import ensure_topics
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import TopicSpec, load_topic_specs
from socialdesk_tools.stack import SERVICES, LocalKafka, Stack, StackPorts, kill_trees

sys.path.insert(0, str(Path(__file__).resolve().parent))
import e2e_bench


def per_minute(latency: list[tuple[float, float]]) -> list[dict[str, Any]]:
    """p50/p99 of the sampled mentions by the minute of offer they were sent in."""
    minutes: dict[int, list[float]] = {}
    for sent, seconds in latency:
        minutes.setdefault(int(sent // 60), []).append(seconds)
    out = []
    for m, xs in sorted(minutes.items()):
        xs.sort()
        out.append(
            {
                "minute": m + 1,
                "samples": len(xs),
                "p50_s": round(statistics.median(xs), 2),
                "p99_s": round(xs[int(0.99 * (len(xs) - 1))], 2),
            }
        )
    return out


def bounded_topics(stack: Stack, prefix: str, retention_ms: int) -> None:
    """Create the run's topics first, the deleting ones with `retention_ms`: what a
    bounded local retention would do (compacted changelogs keep their policy)."""
    settings = BaseServiceSettings(kafka_bootstrap=stack.kafka, topic_prefix=prefix)
    specs = []
    for spec in load_topic_specs().values():
        config = dict(spec.config)
        if config.get("cleanup.policy", "delete") == "delete":
            config["retention.ms"] = str(retention_ms)
        specs.append(
            TopicSpec(name=spec.name, key=spec.key, partitions=spec.partitions, config=config)
        )
    ensure_topics(settings, specs)


async def _record_count(kafka: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        ends = await consumer.end_offsets(tps) if tps else {}
        return int(sum(ends.values()))
    finally:
        await consumer.stop()


def held(stack: Stack, prefix: str) -> dict[str, int]:
    """What the stack holds: item documents and records on two topics."""
    es = Elasticsearch(stack.es_url)
    try:
        items = int(es.count(index=f"{prefix.rstrip('.')}-items")["count"])
    finally:
        es.close()
    out = {"items_indexed": items}
    for topic in ("mentions.raw", "assign.items.changelog"):
        out[f"{topic}_end_offsets"] = asyncio.run(_record_count(stack.kafka, prefix + topic))
    return out


def idle_cost(stack: Stack, prefix: str, seconds: float) -> dict[str, Any]:
    """Every service restarted over what the run left, then CPU and memory at rest."""
    env = {
        "SOCIALDESK_TOPIC_PREFIX": prefix,
        "SOCIALDESK_INDEX_PREFIX": prefix.rstrip("."),
        "SOCIALDESK_LOG_LEVEL": "WARNING",
    }
    procs = {svc: stack.spawn(svc, extra_env=env) for svc in SERVICES}
    try:
        for svc in SERVICES:
            stack.wait_ready(svc, 300)
        time.sleep(20)  # restores and first timers done before the window opens
        pids = {svc: [p.pid] for svc, p in procs.items()}
        for data_dir, only in stack.noida_servers():
            pids[f"noida-db[{only}]"] = e2e_bench.noida_pids(data_dir)
        cpu0 = {k: sum(e2e_bench._cpu_s(p) for p in v) for k, v in pids.items()}
        time.sleep(seconds)
        cores = {
            k: round((sum(e2e_bench._cpu_s(p) for p in v) - cpu0[k]) / seconds, 3)
            for k, v in pids.items()
        }
        rss = {k: round(sum(e2e_bench._rss_mb(p) for p in v), 1) for k, v in pids.items()}
    finally:
        kill_trees(procs.values())
    return {"idle_cores": cores, "idle_cores_total": round(sum(cores.values()), 3), "rss_mb": rss}


def measure(stack: Stack, rate: int, seconds: int, idle_s: float, retention_ms: int) -> dict:
    prefix = f"o{int(time.time())}."
    if retention_ms:
        bounded_topics(stack, prefix, retention_ms)
    run = e2e_bench.sustained(stack, prefix, rate, seconds)
    out: dict[str, Any] = {
        "layout": stack.local_kafka.value,
        "retention_ms": retention_ms or None,
        **e2e_bench.public(run),
        "per_minute": per_minute(run["_timeline"].latency),
    }
    out["idle"] = idle_cost(stack, prefix, idle_s)
    before = held(stack, prefix)
    stack.stop_noida()
    t0 = time.monotonic()
    stack.start_noida(timeout=600)
    out["restart_s"] = round(time.monotonic() - t0, 1)
    after = held(stack, prefix)
    out["held_before_stop"], out["held_after_start"] = before, after
    out["data_kept_across_restart"] = before == after
    out["data_dir_mb"] = round(
        sum(f.stat().st_size for f in stack.noida_dir.rglob("*") if f.is_file()) / 2**20, 1
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layout", choices=[k.value for k in LocalKafka], default="noida")
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=240)
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument("--retention-ms", type=int, default=0)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), ports=StackPorts.free(), local_kafka=LocalKafka(a.layout))
        stack.start_noida()
        try:
            result = measure(stack, a.rate, a.seconds, a.idle, a.retention_ms)
        finally:
            stack.stop_noida()
    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
