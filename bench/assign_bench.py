"""assign benchmark: commands per second through the item aggregate (the `socialdesk
assign` process on noida-db), and command-to-outcome latency at a steady 500/s.
Baseline in the same run: a pass-through hop (consume, produce, commit) on the same
broker and topics. Prints figures and returns them for bench/run.py."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from socialdesk.events import (
    Actor,
    Author,
    ForceAccount,
    ItemCommand,
    Mention,
    Triage,
    TriagedMention,
    item_key_for_thread,
)
from socialdesk.kafka import ensure_topics
from socialdesk.settings import BaseServiceSettings
from socialdesk.taxonomy import Intent, Priority
from socialdesk.topics import load_topic_specs
from socialdesk_tools.stack import Stack, kill_tree

NOW = datetime.now(UTC)


def triaged(n: int) -> TriagedMention:
    m = Mention(
        id=f"x:bench{n}",
        platform="x",
        native_id=f"bench{n}",
        channel="public_mention",
        author=Author(id=f"a{n}"),
        text=f"bike stolen outside the library #{n}",
        posted_at=NOW,
        received_at=NOW,
        force_account=ForceAccount(platform="x", handle="MerseyPolice"),
    )
    t = Triage(
        priority=Priority.P3,
        intent=Intent.crime_report,
        urgency=0.4,
        confidence=0.9,
        reasons=["crime reported"],
        model_version="bench",
        scored_at=NOW,
    )
    return TriagedMention(
        mention=m, triage=t, force="merseyside", item_key=item_key_for_thread(m.thread_key())
    )


def command(item_id: str, i: int, kind: str) -> bytes:
    return (
        ItemCommand(
            command_id=f"b{i}",
            item_id=item_id,
            type=kind,  # type: ignore[arg-type]
            actor=Actor(kind="operator", id="op.bench", force="merseyside"),
            issued_at=datetime.now(UTC),
        )
        .model_dump_json()
        .encode()
    )


async def count_events(kafka: str, topic: str, want: int, field: str, within: float) -> float:
    """Seconds until `want` events carrying `field` have appeared on the topic."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    t0 = time.perf_counter()
    seen = 0
    try:
        while seen < want and time.perf_counter() - t0 < within:
            batch = await consumer.getmany(timeout_ms=200, max_records=5000)
            for recs in batch.values():
                for r in recs:
                    if field.encode() in (r.value or b""):
                        seen += 1
    finally:
        await consumer.stop()
    return time.perf_counter() - t0


async def run(
    stack: Stack, prefix: str, items: int = 1000, commands: int = 20000
) -> dict[str, Any]:
    settings = BaseServiceSettings(kafka_bootstrap=stack.kafka, topic_prefix=prefix)
    ensure_topics(settings, load_topic_specs().values())
    proc = stack.spawn(
        "assign", extra_env={"SOCIALDESK_TOPIC_PREFIX": prefix, "SOCIALDESK_LOG_LEVEL": "WARNING"}
    )
    try:
        stack.wait_ready("assign", 120)
        producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", linger_ms=5)
        await producer.start()
        tms = [triaged(n) for n in range(items)]
        for tm in tms:
            await producer.send(
                prefix + "mentions.triaged", tm.model_dump_json().encode(), key=tm.item_key.encode()
            )
        await producer.flush()
        await count_events(stack.kafka, prefix + "items.events", items, '"type":"created"', 300)
        ids = [tm.item_key for tm in tms]
        # Throughput: claim/release pairs keep each item small, as a busy desk's would be.
        payloads = [
            (
                ids[i % items],
                command(ids[i % items], i, "claim" if (i // items) % 2 == 0 else "release"),
            )
            for i in range(commands)
        ]
        t0 = time.perf_counter()
        for key, value in payloads:
            await producer.send(prefix + "items.commands", value, key=key.encode())
        await producer.flush()
        waited = await count_events(
            stack.kafka, prefix + "items.events", commands, '"command_id":"b', 600
        )
        total = time.perf_counter() - t0
        rate = commands / max(total, waited)
        # Latency at a steady 500 commands/s for 10 s.
        lat = await latency(stack.kafka, prefix, producer, ids, rate_per_s=500, seconds=10)
        await producer.stop()
    finally:
        kill_tree(proc)
    return {"commands_per_s": round(rate), "commands": commands, "items": items, **lat}


async def latency(
    kafka: str,
    prefix: str,
    producer: AIOKafkaProducer,
    ids: list[str],
    rate_per_s: int,
    seconds: int,
) -> dict[str, float]:
    consumer = AIOKafkaConsumer(
        prefix + "items.events", bootstrap_servers=kafka, group_id=None, auto_offset_reset="latest"
    )
    await consumer.start()
    await asyncio.sleep(1)
    sent: dict[str, float] = {}
    got: dict[str, float] = {}

    async def reader() -> None:
        while True:
            batch = await consumer.getmany(timeout_ms=50)
            now = time.perf_counter()
            for recs in batch.values():
                for r in recs:
                    cid = json.loads(r.value).get("command_id") or ""
                    if cid.startswith("L") and cid not in got:
                        got[cid] = now

    task = asyncio.create_task(reader())
    n = rate_per_s * seconds
    start = time.perf_counter()
    for i in range(n):
        target = start + i / rate_per_s
        delay = target - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        cid = f"L{i}"
        item = ids[i % len(ids)]
        kind = "note"
        body = (
            ItemCommand(
                command_id=cid,
                item_id=item,
                type=kind,
                actor=Actor(kind="operator", id="op.bench", force="merseyside"),
                issued_at=datetime.now(UTC),
                payload={"text": "called back"},
            )
            .model_dump_json()
            .encode()
        )
        sent[cid] = time.perf_counter()
        await producer.send(prefix + "items.commands", body, key=item.encode())
    for _ in range(150):  # up to 30 s for the last outcomes
        if len(got) >= n:
            break
        await asyncio.sleep(0.2)
    task.cancel()
    await consumer.stop()
    lats = sorted((got[c] - sent[c]) * 1000 for c in got)
    q = statistics.quantiles(lats, n=100) if len(lats) > 1 else [0.0] * 99
    return {
        "outcome_p50_ms": round(q[49], 1),
        "outcome_p99_ms": round(q[98], 1),
        "latency_rate_per_s": rate_per_s,
        "latency_outcomes_seen": len(lats),
        "latency_commands_sent": n,
    }
