"""Fault drills (`make drills`; a short form runs in `make test` through
tests/integration/test_drills.py): under a steady load through ingest, kill -9 each
service in turn, stop and restart the broker, stop Elasticsearch, send poison messages
and fill the dead-letter topic. Afterwards every mention ingest accepted must be
indexed exactly once, every item have at most one owner, and every P1/P2 item's
first-response clock be due exactly its target after creation. Prints the figures and
returns them; the test asserts lost == duplicated == 0."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer

from socialdesk.kafka import ensure_topics
from socialdesk.settings import BaseServiceSettings
from socialdesk.stack import SERVICES, Stack, kill_tree, port_open, wait_for
from socialdesk.topics import load_topic_specs

API_KEY = "dev-only-change-me"
TARGET_MIN = {"P1": 15, "P2": 60}  # first response, 24/7 (config/national/policy.yaml)
TEXTS = [
    "someone smashed my car window on Lark Lane last night, any chance of a ref",
    "there's a man with a knife outside the shop on Lord St right now",
    "worried about my neighbour, haven't seen her for 3 days and post piling up",
    "lads on off-road bikes tearing round the park again",
    "thanks to the officers who helped my nan today",
    "tree down across the road on Queens Drive, cars swerving round it",
]


@dataclass
class Load:
    """Posts mentions to ingest at a steady rate; a mention counts as accepted only
    when ingest answered 200 (after Kafka acknowledged it). Retries everything else."""

    url: str
    rate: float
    run: str
    accepted: list[str] = field(default_factory=list)
    refused: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def mention(self, n: int) -> dict[str, Any]:
        now = datetime.now().astimezone().isoformat()
        return {
            "id": f"x:{self.run}{n}",
            "platform": "x",
            "native_id": f"{self.run}{n}",
            "channel": "public_mention",
            "author": {"id": f"d{n % 50}", "handle": f"drill{n % 50}"},
            "text": TEXTS[n % len(TEXTS)] + f" (drill {n})",
            "posted_at": now,
            "received_at": now,
            "force_account": {"platform": "x", "handle": "MerseyPolice"},
            "conversation_id": f"{self.run}{n}",
        }

    def _loop(self) -> None:
        client = httpx.Client(timeout=10, headers={"X-Api-Key": API_KEY})
        n = 0
        t0 = time.monotonic()
        while not self.stop.is_set():
            due = t0 + n / self.rate
            if due > time.monotonic():
                time.sleep(min(0.2, due - time.monotonic()))
                continue
            try:
                r = client.post(self.url, json=self.mention(n))
                if r.status_code == 200:
                    self.accepted.append(f"x:{self.run}{n}")
                    n += 1
                else:
                    self.refused += 1
                    time.sleep(0.2)
            except httpx.HTTPError:
                self.refused += 1
                time.sleep(0.2)
        client.close()

    def start(self) -> None:
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def finish(self) -> None:
        self.stop.set()
        if self.thread:
            self.thread.join(30)


class Drill:
    def __init__(self, stack: Stack, prefix: str, rate: float, pause_s: float) -> None:
        self.stack = stack
        self.prefix = prefix
        self.pause_s = pause_s
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = {
            "SOCIALDESK_TOPIC_PREFIX": prefix,
            "SOCIALDESK_INDEX_PREFIX": prefix.rstrip("."),
            "SOCIALDESK_LOG_LEVEL": "WARNING",
        }
        self.load = Load(stack.ingest_url() + "/v1/mentions", rate, f"dr{int(time.time())}-")
        self.log: list[dict[str, Any]] = []

    # -- plumbing --------------------------------------------------------------------
    def start(self, svc: str) -> None:
        self.procs[svc] = self.stack.spawn(svc, extra_env=self.env)

    def ready(self, svc: str, timeout: float = 180) -> None:
        self.stack.wait_ready(svc, timeout)

    def step(self, name: str, fn: Any) -> None:
        before = len(self.load.accepted)
        t0 = time.monotonic()
        print(f"  drill: {name} ...", flush=True)
        detail = fn()
        self.log.append(
            {
                "drill": name,
                "seconds": round(time.monotonic() - t0, 1),
                "accepted_during": len(self.load.accepted) - before,
                **(detail or {}),
            }
        )

    def noida(self, *args: str) -> None:
        subprocess.run(
            self.stack.noida_cmd(*args),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    # -- drills ----------------------------------------------------------------------
    def kill9(self, svc: str) -> dict[str, Any]:
        self.procs[svc].send_signal(signal.SIGKILL)
        self.procs[svc].wait(10)
        time.sleep(self.pause_s)
        self.start(svc)
        self.ready(svc)
        return {}

    def broker_restart(self) -> dict[str, Any]:
        self.noida("stop", "kafka")
        time.sleep(self.pause_s * 2)
        self.noida("start", "kafka")
        wait_for(lambda: port_open(self.stack.ports.kafka), 60, "kafka")
        for svc in SERVICES:
            self.ready(svc, 240)
        return {}

    def es_outage(self, seconds: float) -> dict[str, Any]:
        self.noida("stop", "elasticsearch")
        t0 = time.monotonic()
        not_ready = False
        while time.monotonic() - t0 < seconds:
            not_ready = not_ready or not self.stack.ready("indexer")
            time.sleep(1)
        self.noida("start", "elasticsearch")
        wait_for(lambda: port_open(self.stack.ports.elasticsearch), 60, "elasticsearch")
        self.ready("indexer", 240)
        return {"indexer_not_ready_while_down": not_ready}

    def poison(self, count: int) -> dict[str, Any]:
        producer = KafkaProducer(bootstrap_servers=self.stack.kafka, acks="all", linger_ms=5)
        topics = ["mentions.raw", "mentions.triaged", "items.commands", "items.events"]
        for i in range(count):
            junk = [b"\x00\xffnot json", b'{"schema_version": 1}', b"[]", b'{"id": 5}'][i % 4]
            producer.send(self.prefix + topics[i % len(topics)], key=b"poison", value=junk)
        producer.flush()
        producer.close()
        return {"poison_sent": count}

    # -- checks ----------------------------------------------------------------------
    def dead_letters(self) -> Counter[str]:
        c = KafkaConsumer(
            self.prefix + "deadletter",
            bootstrap_servers=self.stack.kafka,
            auto_offset_reset="earliest",
            group_id=None,
            consumer_timeout_ms=5000,
        )
        reasons: Counter[str] = Counter()
        for r in c:
            d = json.loads(r.value)
            reasons[f"{d.get('service')}:{d.get('reason')}"] += 1
        c.close()
        return reasons

    def verify(self, settle_s: float) -> dict[str, Any]:
        es = Elasticsearch(self.stack.es_url)
        index = self.prefix.rstrip(".") + "-items"
        sla_index = self.prefix.rstrip(".") + "-sla"
        accepted = set(self.load.accepted)
        seen: Counter[str] = Counter()
        items: list[dict[str, Any]] = []
        deadline = time.monotonic() + settle_s
        while True:
            es.indices.refresh(index=index)
            items = [
                h["_source"]
                for h in es.search(index=index, query={"match_all": {}}, size=10_000)["hits"][
                    "hits"
                ]
            ]
            seen = Counter(m for it in items for m in it.get("mention_ids", []))
            if accepted <= set(seen) or time.monotonic() > deadline:
                break
            time.sleep(2)
        ours = {m: n for m, n in seen.items() if m in accepted}
        lost = len(accepted - set(ours))
        duplicated = sum(n - 1 for n in ours.values() if n > 1)
        owners_bad = sum(1 for it in items if isinstance(it.get("owner"), list))
        # SLA: every P1/P2 item's first-response clock is due exactly its target.
        es.indices.refresh(index=sla_index)
        clocks = {
            h["_source"]["item_id"]: h["_source"]
            for h in es.search(
                index=sla_index, query={"term": {"clock": "first_response"}}, size=10_000
            )["hits"]["hits"]
        }
        wrong_clock = 0
        checked = 0
        for it in items:
            target = TARGET_MIN.get(it["priority"])
            c = clocks.get(it["id"])
            if target is None or c is None or not c.get("deadline"):
                continue
            checked += 1
            started = datetime.fromisoformat(c["started_at"])
            due = datetime.fromisoformat(c["deadline"])
            if abs((due - started) - timedelta(minutes=target)) > timedelta(seconds=1):
                wrong_clock += 1
        es.close()
        return {
            "accepted": len(accepted),
            "indexed": len(ours),
            "lost": lost,
            "duplicated": duplicated,
            "items_with_two_owners": owners_bad,
            "p1_p2_clocks_checked": checked,
            "clocks_wrong": wrong_clock,
        }


def run(stack: Stack, prefix: str, short: bool = True) -> dict[str, Any]:
    """The whole drill suite; short=True is the form `make test` runs."""
    rate = 20 if short else 100
    pause = 1.0 if short else 3.0
    settings = BaseServiceSettings(kafka_bootstrap=stack.kafka, topic_prefix=prefix)
    ensure_topics(settings, load_topic_specs().values())
    d = Drill(stack, prefix, rate, pause)
    t0 = time.monotonic()
    try:
        for svc in SERVICES:
            d.start(svc)
        for svc in SERVICES:
            d.ready(svc)
        d.load.start()
        time.sleep(3 if short else 20)
        for svc in ("triage", "assign", "sla", "indexer", "ingest", "console"):
            d.step(f"kill -9 {svc}", lambda s=svc: d.kill9(s))
            time.sleep(pause)
        d.step("broker stop and restart", d.broker_restart)
        d.step("Elasticsearch stopped", lambda: d.es_outage(10 if short else 60))
        d.step("poison messages", lambda: d.poison(40 if short else 400))
        d.step("fill the dead-letter topic", lambda: d.poison(400 if short else 20_000))
        time.sleep(3 if short else 20)
        d.load.finish()
        figures = d.verify(settle_s=120 if short else 600)
        dl = d.dead_letters()
    finally:
        d.load.finish()
        for p in d.procs.values():
            kill_tree(p)
    return {
        "mode": "short" if short else "full",
        "load_per_s": rate,
        "refused_then_retried": d.load.refused,
        "faults_survived": len(d.log),
        "dead_letters": sum(dl.values()),
        "dead_letter_reasons": dict(dl),
        "seconds": round(time.monotonic() - t0),
        "steps": d.log,
        "accepted_during_faults": sum(step["accepted_during"] for step in d.log),
        **figures,
    }


if __name__ == "__main__":
    import argparse
    import tempfile

    from socialdesk.stack import StackPorts

    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        st = Stack(Path(tmp), ports=StackPorts.free())
        st.start_noida()
        try:
            out = run(st, f"drill{int(time.time())}.", short=a.short)
        finally:
            st.stop_noida()
    print(json.dumps(out, indent=2))
    print(
        f"drills: {out['faults_survived']} faults survived, load held at {out['load_per_s']}/s, "
        f"{out['accepted']} accepted, lost {out['lost']}, duplicated {out['duplicated']}"
    )
