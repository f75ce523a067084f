"""`make bench`: end-to-end throughput of the pipeline on the local stack, beside the raw
ceiling of the same broker measured in the same run. Writes bench/results.json and
docs/benchmarks.md. Figures are printed, never asserted."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer

from socialdesk.kafka import ensure_topics
from socialdesk.settings import BaseServiceSettings
from socialdesk.stack import SERVICES, Stack, StackPorts, kill_tree, wait_for
from socialdesk.topics import load_topic_specs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from assign_bench import run as assign_run  # noqa: E402
from sla_bench import run as sla_run  # noqa: E402

TEXTS = [
    "someone smashed my car window on Lark Lane last night, any chance of a ref",
    "thanks to the officers who helped my nan today, proper legends",
    "lads on off-road bikes tearing round the park again, every night this week",
    "there's a man with a knife outside the shop on Lord St right now",
    "how do I report a lost wallet? left it on the 86 bus",
    "worried about my neighbour, haven't seen her for 3 days and post piling up",
]


def mention(n: int, run: str) -> bytes:
    return json.dumps(
        {
            "id": f"x:{run}{n}",
            "platform": "x",
            "native_id": f"{run}{n}",
            "channel": "public_mention",
            "author": {"id": f"a{n % 5000}", "handle": f"author{n % 5000}", "display_name": None},
            "text": TEXTS[n % len(TEXTS)] + f" #{n}",
            "language": None,
            "posted_at": datetime.now(UTC).isoformat(),
            "received_at": datetime.now(UTC).isoformat(),
            "force_account": {"platform": "x", "handle": "MerseyPolice"},
            "conversation_id": None,
            "in_reply_to_id": None,
            "media": [],
            "links": [],
            "raw": {},
        }
    ).encode()


def raw_ceiling(kafka: str, prefix: str, n: int) -> dict[str, float]:
    """Produce n records and consume them back with kafka-python: the broker's own pace."""
    topic = prefix + "bench.raw"
    producer = KafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=5)
    payloads = [mention(i, "raw") for i in range(n)]
    t0 = time.perf_counter()
    for i, p in enumerate(payloads):
        producer.send(topic, key=str(i).encode(), value=p)
    producer.flush()
    produce_s = time.perf_counter() - t0
    producer.close()
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=kafka,
        auto_offset_reset="earliest",
        group_id=None,
        consumer_timeout_ms=5000,
    )
    t1 = time.perf_counter()
    got = 0
    for _ in consumer:
        got += 1
        if got >= n:
            break
    consume_s = time.perf_counter() - t1
    consumer.close()
    return {"produce_per_s": round(n / produce_s), "consume_per_s": round(got / consume_s)}


def es_count(es_url: str, index: str) -> int:
    es = Elasticsearch(es_url)
    try:
        es.indices.refresh(index=index)
        return int(es.count(index=index)["count"])
    except Exception:
        return 0
    finally:
        es.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mentions", type=int, default=int(os.environ.get("BENCH_MENTIONS", "5000")))
    ap.add_argument("--commands", type=int, default=int(os.environ.get("BENCH_COMMANDS", "20000")))
    ap.add_argument(
        "--open-items", type=int, default=int(os.environ.get("BENCH_OPEN_ITEMS", "100000"))
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), ports=StackPorts.free())
        print("starting noida-db ...", flush=True)
        stack.start_noida()
        prefix = f"bench{int(time.time())}."
        env = {
            "SOCIALDESK_TOPIC_PREFIX": prefix,
            "SOCIALDESK_INDEX_PREFIX": prefix.rstrip("."),
            "SOCIALDESK_LOG_LEVEL": "WARNING",
        }
        settings = BaseServiceSettings(kafka_bootstrap=stack.kafka, topic_prefix=prefix)
        ensure_topics(settings, load_topic_specs().values())
        procs = {}
        try:
            print(f"raw ceiling: {args.mentions} records produce + consume ...", flush=True)
            ceiling = raw_ceiling(stack.kafka, prefix, args.mentions)
            for svc in SERVICES:
                procs[svc] = stack.spawn(svc, extra_env=env)
            for svc in SERVICES:
                wait_for(lambda s=svc: stack.ready(s), 120, svc)
            run = f"b{int(time.time())}-"
            producer = KafkaProducer(bootstrap_servers=stack.kafka, acks="all", linger_ms=5)
            index = prefix.rstrip(".") + "-items"
            print(f"pipeline: {args.mentions} mentions into mentions.raw ...", flush=True)
            t0 = time.perf_counter()
            for i in range(args.mentions):
                producer.send(
                    prefix + "mentions.raw", key=f"x:{run}{i}".encode(), value=mention(i, run)
                )
            producer.flush()
            produced_s = time.perf_counter() - t0
            samples = []
            while True:
                n = es_count(stack.es_url, index)
                samples.append((round(time.perf_counter() - t0, 2), n))
                print(f"\r  indexed {n}/{args.mentions}", end="", flush=True)
                if n >= args.mentions or time.perf_counter() - t0 > 900:
                    break
                time.sleep(1)
            total_s = time.perf_counter() - t0
            print()
            producer.close()
            for p in procs.values():
                kill_tree(p)
            procs = {}
            print("assign: commands through the aggregate, then latency at 500/s ...", flush=True)
            assign = asyncio.run(
                assign_run(stack, f"assign{int(time.time())}.", items=1000, commands=args.commands)
            )
            print(json.dumps(assign), flush=True)
            print(f"sla: {args.open_items} open items, lateness, memory, recovery ...", flush=True)
            sla = asyncio.run(sla_run(stack, f"sla{int(time.time())}.", items=args.open_items))
            print(json.dumps(sla), flush=True)
        finally:
            for p in procs.values():
                kill_tree(p)
            stack.stop_noida()
    e2e_rate = round(args.mentions / total_s, 1)
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "noida_db": version("noida-db"),
            "aiokafka": version("aiokafka"),
            "elasticsearch_py": version("elasticsearch"),
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "assign": assign,
        "sla": sla,
        "e2e": {
            "mentions": args.mentions,
            "throughput_per_s": e2e_rate,
            "produce_s": round(produced_s, 2),
            "ingest_to_all_searchable_s": round(total_s, 2),
            "raw_ceiling_produce_per_s": ceiling["produce_per_s"],
            "raw_ceiling_consume_per_s": ceiling["consume_per_s"],
            "ratio_to_raw_consume": round(e2e_rate / ceiling["consume_per_s"], 3),
            "indexed_over_time": samples,
        },
    }
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results)
    print(json.dumps(results["e2e"] | {"indexed_over_time": "..."}, indent=2))
    return 0


def write_markdown(r: dict) -> None:
    e, m, a, sl = r["e2e"], r["machine"], r["assign"], r["sla"]
    text = f"""# Benchmarks

Written by `make bench` (bench/run.py); machine-readable copy in bench/results.json.

Machine: {m["cpus"]} CPUs, Python {m["python"]}, {m["platform"]}; noida-db {m["noida_db"]},
aiokafka {m["aiokafka"]}, elasticsearch-py {m["elasticsearch_py"]}; run {m["date"]}.

## End to end (first figure)

{e["mentions"]} mentions produced to `mentions.raw`; every service running as its own
process (ingest, triage, assign, sla, indexer, console) on noida-db; measured until every
item is searchable in Elasticsearch.

| figure | value |
|---|---|
| pipeline throughput, raw to searchable | {e["throughput_per_s"]} mentions/s |
| time until all searchable | {e["ingest_to_all_searchable_s"]} s |
| baseline, same run: kafka-python produce | {e["raw_ceiling_produce_per_s"]} records/s |
| baseline, same run: kafka-python consume | {e["raw_ceiling_consume_per_s"]} records/s |
| ratio pipeline / raw consume | {e["ratio_to_raw_consume"]} |

Reproduce: `make bench` (or `BENCH_MENTIONS=20000 make bench`).

## assign: the item aggregate

`socialdesk assign` as its own process on noida-db, 1,000 open items; {a["commands"]}
claim/release commands produced as fast as possible, then `note` commands at a steady
{a["latency_rate_per_s"]}/s for 10 s, timing each command from send to its outcome event on
`items.events` (read by a separate consumer).

| figure | value | floor (issue) |
|---|---|---|
| commands through the aggregate | {a["commands_per_s"]} commands/s | 5,000/s |
| outcome latency p50 at {a["latency_rate_per_s"]}/s | {a["outcome_p50_ms"]} ms | |
| outcome latency p99 at {a["latency_rate_per_s"]}/s | {a["outcome_p99_ms"]} ms | 100 ms |
| outcomes seen / sent | {a["latency_outcomes_seen"]} / {a["latency_commands_sent"]} | all |

The same-run baseline for a Kafka hop on this broker is the raw consume figure above
({e["raw_ceiling_consume_per_s"]} records/s); each command costs one consume, one event,
one changelog record and a share of a commit.

## sla: clocks for 100,000 open items

`socialdesk sla` as its own process on noida-db with {sl["open_items"]} open items (P3/P4 in
the background), then {sl["clocks_measured"]} P1 clocks whose warning or breach falls due
10-50 s after they arrive. Lateness = the `at` of the emitted event minus its due time.
Then kill -9, {sl["missed_while_down"]} deadlines pass while it is down, restart.

| figure | value | floor (issue) |
|---|---|---|
| resident memory, {sl["open_items"]} open items | {sl["rss_mb_100k_open"]} MB | 300 MB |
| resident memory after recovery | {sl["rss_mb_after_recovery"]} MB | 300 MB |
| lateness p50 / p99 / max | {sl["p50_lateness_s"]} / {sl["p99_lateness_s"]} \
/ {sl["max_lateness_s"]} s | p99 1 s |
| emitted early | {sl["early"]} | 0 |
| loading {sl["open_items"]} items from the log | {sl["load_s"]} s | |
| restart to every clock restored (ready) | {sl["recovery_s"]} s | 30 s |
| missed while down, breached on recovery | \
{sl["breached_on_recovery"]} of {sl["missed_while_down"]} | all |
| ... breached more than once | {sl["breached_more_than_once"]} | 0 |

## Choices recorded with their reasons

- Streaming services run a batch loop on aiokafka (faust's own client): getmany, process,
  send, wait for acks, commit. faust-streaming agents were measured in the design brief at
  0.9-2k msg/s per hop on this machine against 19k for the plain aiokafka loop.
- faust tables were tried for the stateful services (assign, sla) on noida-db: after a
  kill -9 the group's dead leader was never expired and the table's changelog recovery
  stalled ("No event received for active tp ... since recovery start"), so the state store
  is a small changelog-backed store in the core library on the same client. See
  docs/architecture.md.
"""
    (ROOT / "docs" / "benchmarks.md").write_text(text)


if __name__ == "__main__":
    sys.exit(main())
