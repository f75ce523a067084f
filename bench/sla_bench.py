"""sla benchmark: 100,000 open items tracked by the `socialdesk sla` process on noida-db.

- resident memory with every item's clocks loaded,
- lateness of warnings and breaches (emit time minus due time; negative would be early)
  for a few thousand clocks falling due during the run,
- recovery: kill -9, wait while deadlines pass, restart; time until every clock is back
  and each missed deadline is reported as breached, once.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from socialdesk.events import Actor, Author, Item, ItemEvent, ItemMessage
from socialdesk.kafka import ensure_topics
from socialdesk.settings import BaseServiceSettings
from socialdesk.taxonomy import Channel, Intent, ItemStatus, Platform, Priority
from socialdesk.topics import load_topic_specs
from socialdesk_tools.stack import Stack, kill_tree, wait_for


def created(n: int, priority: Priority, created_at: datetime) -> ItemEvent:
    item = Item(
        id=f"itm_sla{n:07d}",
        key=f"itm_sla{n:07d}",
        force="merseyside",
        team="digital-desk",
        status=ItemStatus.new,
        priority=priority,
        intent=Intent.crime_report,
        platform=Platform.x,
        channel=Channel.public_mention,
        author=Author(id=f"a{n}"),
        thread_key=f"t{n}",
        messages=[ItemMessage(direction="inbound", author="a", text="x", at=created_at)],
        created_at=created_at,
        updated_at=created_at,
        first_mention_at=created_at,
        seq=1,
    )
    return ItemEvent(
        event_id=f"{item.id}:1",
        item_id=item.id,
        seq=1,
        type="created",
        actor=Actor(kind="system", id="bench"),
        at=created_at,
        item=item,
    )


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


async def read_sla(kafka: str, topic: str, since: float) -> list[dict[str, Any]]:
    c = AIOKafkaConsumer(
        topic, bootstrap_servers=kafka, group_id=None, auto_offset_reset="earliest"
    )
    await c.start()
    out: list[dict[str, Any]] = []
    try:
        idle = 0
        while idle < 6:
            batch = await c.getmany(timeout_ms=500, max_records=20000)
            if not batch:
                idle += 1
            for recs in batch.values():
                for r in recs:
                    if r.value and (b'"warning"' in r.value or b'"breached"' in r.value):
                        out.append(json.loads(r.value))
    finally:
        await c.stop()
    return out


async def run(
    stack: Stack, prefix: str, items: int = 100_000, due_soon: int = 3000
) -> dict[str, Any]:
    settings = BaseServiceSettings(kafka_bootstrap=stack.kafka, topic_prefix=prefix)
    ensure_topics(settings, load_topic_specs().values())
    env = {"SOCIALDESK_TOPIC_PREFIX": prefix, "SOCIALDESK_LOG_LEVEL": "WARNING"}
    now = datetime.now(UTC)
    producer = AIOKafkaProducer(
        bootstrap_servers=stack.kafka, acks="all", linger_ms=20, max_batch_size=512 * 1024
    )
    await producer.start()
    # The background: P3/P4 items whose deadlines are days away.
    for n in range(due_soon, items):
        ev = created(n, Priority.P3 if n % 2 else Priority.P4, now)
        await producer.send(
            prefix + "items.events", ev.model_dump_json().encode(), key=ev.item_id.encode()
        )
    await producer.flush()
    print(f"  {items - due_soon} background item events produced", flush=True)
    proc = stack.spawn("sla", extra_env=env)
    t0 = time.perf_counter()
    stack.wait_ready("sla", max(120, items / 2000))
    lag_url = f"http://127.0.0.1:{stack.ports.sla}/metrics"
    wait_for(lambda: _lag_zero(lag_url), max(300, items / 1000), "sla caught up")
    load_s = time.perf_counter() - t0
    # Then P1s whose warning (half of them) or breach (the other half) falls due 10-50 s
    # after they arrive, while all the others are tracked.
    start = datetime.now(UTC)
    for n in range(due_soon):
        due = start + timedelta(seconds=10 + 40 * n / due_soon)
        if n % 2:
            created_at = due - timedelta(minutes=15)  # the breach is due
        else:
            created_at = due - timedelta(minutes=11.25)  # the warning is due
        ev = created(n, Priority.P1, created_at)
        await producer.send(
            prefix + "items.events", ev.model_dump_json().encode(), key=ev.item_id.encode()
        )
    await producer.flush()
    await producer.stop()
    await asyncio.sleep(55)
    rss = rss_mb(proc.pid)
    print(f"  loaded in {load_s:.1f}s, rss {rss:.0f} MB", flush=True)
    # Recovery: kill -9, let some of the remaining deadlines pass, restart.
    later = datetime.now(UTC)
    restore_due = 1000
    producer = AIOKafkaProducer(bootstrap_servers=stack.kafka, acks="all", linger_ms=20)
    await producer.start()
    for n in range(items, items + restore_due):
        due = later + timedelta(seconds=5 + 10 * (n - items) / restore_due)
        ev = created(n, Priority.P1, due - timedelta(minutes=15))
        await producer.send(
            prefix + "items.events", ev.model_dump_json().encode(), key=ev.item_id.encode()
        )
    await producer.flush()
    await producer.stop()
    await asyncio.sleep(3)
    kill_tree(proc, sig=9)
    await asyncio.sleep(15)  # every one of those deadlines passes while sla is down
    t1 = time.perf_counter()
    proc = stack.spawn("sla", extra_env=env)
    try:
        stack.wait_ready("sla", max(120, items / 2000))  # ready = state restored
        recovery_s = time.perf_counter() - t1
        await asyncio.sleep(5)
        rss_after = rss_mb(proc.pid)
    finally:
        kill_tree(proc)
    events = await read_sla(stack.kafka, prefix + "sla.events", 0)
    lateness = []
    early = 0
    for e in events:
        n = int(e["item_id"][7:])
        if e["clock"] != "first_response" or n >= due_soon:
            continue
        if (n % 2 == 1) != (e["type"] == "breached"):
            continue  # only the stage that fell due after the item arrived
        begun = datetime.fromisoformat(e["started_at"]).timestamp()
        deadline = datetime.fromisoformat(e["deadline"]).timestamp()
        due_at = begun + 0.75 * (deadline - begun) if e["type"] == "warning" else deadline
        late = datetime.fromisoformat(e["at"]).timestamp() - due_at
        early += late < 0
        lateness.append(late)
    q = statistics.quantiles(lateness, n=100) if len(lateness) > 1 else [0.0] * 99
    breaches = Counter(
        e["item_id"]
        for e in events
        if e["type"] == "breached"
        and e["clock"] == "first_response"
        and int(e["item_id"][7:]) >= items
    )
    return {
        "open_items": items,
        "load_s": round(load_s, 1),
        "rss_mb_100k_open": round(rss, 1),
        "rss_mb_after_recovery": round(rss_after, 1),
        "clocks_measured": len(lateness),
        "p50_lateness_s": round(q[49], 3),
        "p99_lateness_s": round(q[98], 3),
        "max_lateness_s": round(max(lateness, default=0), 3),
        "early": early,
        "recovery_s": round(recovery_s, 1),
        "missed_while_down": restore_due,
        "breached_on_recovery": len(breaches),
        "breached_more_than_once": sum(1 for v in breaches.values() if v > 1),
    }


def _lag_zero(url: str) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as r:  # noqa: S310 - local
            text = r.read().decode()
    except Exception:
        return False
    lags = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("socialdesk_consumer_lag{") and 'service="sla"' in line
    ]
    consumed = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("socialdesk_messages_consumed_total{") and 'service="sla"' in line
    ]
    return bool(lags) and bool(consumed) and all(v == 0 for v in lags)
