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
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from elasticsearch import Elasticsearch
from kafka import KafkaConsumer, KafkaProducer

from socialdesk.kafka import ensure_topics
from socialdesk.readback import every_document, every_record, json_values
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import load_topic_specs
from socialdesk.verify import check_commands, check_items
from socialdesk_tools.stack import SERVICES, Stack, kill_tree, port_open, wait_for

API_KEY = "dev-only-change-me"
ROOT = Path(__file__).resolve().parents[1]
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
    accepted_at: list[float] = field(default_factory=list)  # monotonic, beside accepted
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
                    self.accepted_at.append(time.monotonic())
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

    def noida(self, action: str, service: str) -> None:
        subprocess.run(
            self.stack.noida_cmd(action, service, data_dir=self.stack.noida_dir_of(service)),
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
        return verify_everything(self.stack, self.prefix, self.load.accepted, (), settle_s)


def read_index(es: Elasticsearch, prefix: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item document and every first-response clock of the run, however many."""
    index = prefix.rstrip(".") + "-items"
    sla_index = prefix.rstrip(".") + "-sla"
    es.indices.refresh(index=index)
    es.indices.refresh(index=sla_index)
    items = list(every_document(es, index))
    clocks = list(every_document(es, sla_index, {"term": {"clock": "first_response"}}))
    return items, clocks


def verify_everything(
    stack: Stack,
    prefix: str,
    accepted: Iterable[str],
    issued: Iterable[str],
    settle_s: float,
) -> dict[str, Any]:
    """Wait (up to settle_s) until every accepted mention is indexed with its clocks,
    then check every item, clock, command and item event of the run: the items index
    and SLA clocks read whole (point-in-time pages), items.commands and items.events
    read to their end. Commands counted are those on items.commands (the console's and
    anyone's) plus `issued`, the ids the load generator was told about."""
    es = Elasticsearch(stack.es_url, request_timeout=120)
    accepted = list(accepted)
    deadline = time.monotonic() + settle_s
    try:
        while True:
            items, clocks = read_index(es, prefix)
            found = check_items(accepted, items, clocks)
            if (not found.lost and not found.clocks_missing) or time.monotonic() > deadline:
                break
            time.sleep(5)
        commands = {
            str(c["command_id"])
            for c in json_values(every_record(stack.kafka, prefix + "items.commands"))
            if c.get("command_id")
        }
        commands |= set(issued)
        events = list(json_values(every_record(stack.kafka, prefix + "items.events")))
        # The log was read after the index: read the index again so that a document is
        # compared with events at least as old as itself (the indexer may still be
        # writing the last events; give it until the deadline).
        while True:
            items, clocks = read_index(es, prefix)
            found = check_items(accepted, items, clocks)
            cmds = check_commands(commands, events, items)
            if cmds.clean or time.monotonic() > deadline:
                break
            time.sleep(5)
    finally:
        es.close()
    return {
        **found.figures(),
        **cmds.figures(),
        "item_events_read": len(events),
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
        for svc in ("triage", "assign", "sla", "indexer", "ingest", "console", "metrics"):
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


def machine() -> dict[str, Any]:
    """What the figures ran on, and how busy it was with other work at the start."""
    import os
    import platform
    import sys
    from importlib.metadata import version

    return {
        "cpus": os.cpu_count(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "noida_db": version("noida-db"),
        "loadavg_at_start": Path("/proc/loadavg").read_text().split()[:3],
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def write_section(name: str, section: dict[str, Any], started: dict[str, Any]) -> None:
    """Put one section into bench/results.json and redraw docs/benchmarks.md from it
    (the other sections stay as the last pass that measured them left them)."""
    from report import write_markdown

    path = ROOT / "bench" / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    section["pass"] = {"machine": started, "mode": name, "wall_s": section["seconds"]}
    results[name] = section
    path.write_text(json.dumps(results, indent=2) + "\n")
    write_markdown(results, ROOT / "docs" / "benchmarks.md")


def _machine_note(r: dict[str, Any]) -> str:
    """What else the machine was doing: timings are this machine's on that day."""
    m = r.get("pass", {}).get("machine", {})
    if "loadavg_at_start" not in m:  # measured within make bench: see the header
        return str(r.get("note", ""))
    load = " / ".join(m["loadavg_at_start"])
    return f"Machine: {m.get('cpus', '?')} cores, load average {load} (1/5/15 min) at the \
start. {r.get('note', '')}".strip()


def markdown(r: dict[str, Any]) -> str:
    """The drills section of docs/benchmarks.md."""
    steps = "\n".join(
        f"| {s['drill']} | {s['seconds']} s | {s['accepted_during']} |" for s in r["steps"]
    )
    return f"""## Fault drills

`{r.get("command", "make drills")}` ({r["mode"]} form; bench/drills.py): under
{r["load_per_s"]} mentions/s through ingest, kill -9 of each service in turn, broker stop
and restart, an Elasticsearch outage, poison messages and a full dead-letter topic; no
randomness (the drills run in a fixed order). Then every item and SLA clock of the run
is read whole (point-in-time pages, socialdesk.readback), and items.events and
items.commands to their end, and checked (socialdesk.verify). {r["seconds"]} s in all.
{_machine_note(r)}

| check | figure | floor |
|---|---|---|
| mentions accepted (ingest answered 200) | {r["accepted"]:,} ({r["accepted_during_faults"]:,} \
during faults) | |
| item documents read / accepted mentions indexed | {r["items_read"]:,} / \
{r["indexed"]:,} | all |
| lost | {r["lost"]} | 0 |
| duplicated | {r["duplicated"]} | 0 |
| items with two owners (index; log: two events at one seq, claims over an owner) \
| {r["items_with_two_owners"]}; {r.get("item_seqs_with_two_events", "n/a")}, \
{r.get("claims_from_another_owner", "n/a")} | 0 |
| P1/P2 first-response clocks checked / wrong / missing | {r["p1_p2_clocks_checked"]:,} \
/ {r["clocks_wrong"]} / {r.get("clocks_missing", "n/a")} | 0 wrong |
| item events read; items whose document is behind the log \
| {r.get("item_events_read", "n/a"):,} ; {r.get("items_behind_the_log", "n/a")} | 0 |
| dead letters (poison sent, each with its reason) | {r["dead_letters"]:,} | all |
| deliveries refused while ingest was down, then retried | {r["refused_then_retried"]} | |

| drill | took | mentions accepted meanwhile |
|---|---|---|
{steps}
"""


if __name__ == "__main__":
    import argparse
    import tempfile

    from socialdesk_tools.stack import StackPorts

    ap = argparse.ArgumentParser()
    ap.add_argument("--short", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="print only; results.json untouched")
    ap.add_argument("--note", default="", help="what else the machine was doing, for the docs")
    a = ap.parse_args()
    at_start = machine()
    with tempfile.TemporaryDirectory() as tmp:
        st = Stack(Path(tmp), ports=StackPorts.free())
        st.start_noida()
        try:
            out = run(st, f"drill{int(time.time())}.", short=a.short)
        finally:
            st.stop_noida()
    out["command"] = "make drills" if not a.short else "python bench/drills.py --short"
    if a.note:
        out["note"] = a.note
    print(json.dumps(out, indent=2))
    if not a.no_write:
        write_section("drills", out, at_start)
    print(
        f"drills: {out['faults_survived']} faults survived, load held at {out['load_per_s']}/s, "
        f"{out['accepted']} accepted, lost {out['lost']}, duplicated {out['duplicated']}"
    )
