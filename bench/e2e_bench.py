"""End-to-end benchmark: sustained mentions/s from ingest (HTTP) to searchable in
Elasticsearch, with per-mention latency, CPU and memory per service, beside the raw
ceiling of the same stack measured in the same run (pass-through consumers over the
same Kafka hops plus bulk indexing). Figures are printed and returned, never asserted.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from elasticsearch import Elasticsearch

from socialdesk.events import item_key_for_thread
from socialdesk.kafka import ensure_topics
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import load_topic_specs
from socialdesk_tools.stack import SERVICES, Stack, kill_tree

ROOT = Path(__file__).resolve().parents[1]
BATCH = 25  # mentions per ingest request (a webchat or stream relay posts batches)
SAMPLE_EVERY = int(os.environ.get("BENCH_SAMPLE_EVERY", "10"))  # latency sample rate
POLL_S = float(os.environ.get("BENCH_POLL_S", "0.25"))
PENDING_CAP = int(os.environ.get("BENCH_PENDING_CAP", "2000"))
COUNT_S = float(os.environ.get("BENCH_COUNT_S", "5"))  # whole-index count interval
IDLE_S = float(os.environ.get("BENCH_IDLE_S", "10"))  # idle cost measured before the load
PIDS_FILE = os.environ.get("BENCH_PIDS_FILE")  # write the processes' pids here (py-spy)


def _texts() -> list[str]:
    from socialdesk_triage.dataset import load_shipped

    return [e.text for e in load_shipped(ROOT / "data" / "triage")]


def _mention(n: int, run: str, text: str) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "id": f"x:{run}{n}",
        "platform": "x",
        "native_id": f"{run}{n}",
        "channel": "public_mention",
        "author": {"id": f"a{n % 20000}", "handle": f"author{n % 20000}"},
        "text": text,
        "posted_at": now,
        "received_at": now,
        "force_account": {"platform": "x", "handle": "MerseyPolice"},
        "conversation_id": f"{run}{n}",
    }


def _item_id(run: str, n: int) -> str:
    return item_key_for_thread(f"x:thread:{run}{n}")


def _cpu_s(pid: int) -> float:
    try:
        f = Path(f"/proc/{pid}/stat").read_text().split()
        return (int(f[13]) + int(f[14])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return 0.0


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def noida_pids(data_dir: Path | None = None) -> list[int]:
    """noida-db server processes; with data_dir, only the one serving this stack (other
    work on a shared machine may run its own noida-db, whose CPU is not ours)."""
    out = []
    want = str(data_dir).encode() if data_dir is not None else None
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                cmd = Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if b"noida" in cmd and b"socialdesk" not in cmd and b"up " not in cmd:
                if want is None or want in cmd:
                    out.append(int(p))
    return out


# -- raw ceiling -------------------------------------------------------------------


async def _raw_ceiling(kafka: str, es_url: str, prefix: str, n: int) -> dict[str, float]:
    """Pass-through hops raw -> triaged -> events (consume, produce, commit; no
    processing), then bulk indexing of the last topic: the stack's own ceiling."""
    texts = _texts()
    hops = [f"{prefix}ceil.raw", f"{prefix}ceil.triaged", f"{prefix}ceil.events"]
    index = f"{prefix.rstrip('.')}-ceiling"
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=1)
    await producer.start()
    payloads = [json.dumps(_mention(i, "c", texts[i % len(texts)])).encode() for i in range(n)]

    async def hop(src: str, dst: str) -> None:
        c = AIOKafkaConsumer(
            src,
            bootstrap_servers=kafka,
            group_id=f"{src}-g",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await c.start()
        seen = 0
        try:
            while seen < n:
                batch = await c.getmany(timeout_ms=500, max_records=2000)
                futs = []
                for recs in batch.values():
                    for r in recs:
                        futs.append(await producer.send(dst, r.value, key=r.key))
                        seen += 1
                await asyncio.gather(*futs)
                if batch:
                    await c.commit()
        finally:
            await c.stop()

    async def indexer(src: str) -> None:
        from elasticsearch import AsyncElasticsearch
        from elasticsearch.helpers import async_bulk

        es = AsyncElasticsearch(es_url)
        c = AIOKafkaConsumer(
            src, bootstrap_servers=kafka, group_id=f"{src}-g", auto_offset_reset="earliest"
        )
        await c.start()
        seen = 0
        try:
            while seen < n:
                batch = await c.getmany(timeout_ms=500, max_records=2000)
                docs = [
                    {"_index": index, "_id": json.loads(r.value)["id"], "_source": r.value}
                    for recs in batch.values()
                    for r in recs
                ]
                if docs:
                    await async_bulk(es, docs)
                    seen += len(docs)
        finally:
            await c.stop()
            await es.close()

    tasks = [
        asyncio.create_task(hop(hops[0], hops[1])),
        asyncio.create_task(hop(hops[1], hops[2])),
        asyncio.create_task(indexer(hops[2])),
    ]
    t0 = time.perf_counter()
    for p in payloads:
        await producer.send(hops[0], p)
    await producer.flush()
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    await producer.stop()
    return {"raw_ceiling_per_s": round(n / elapsed), "raw_ceiling_messages": n}


def raw_ceiling(stack: Stack, prefix: str, n: int) -> dict[str, float]:
    from socialdesk.topics import TopicSpec

    settings = BaseServiceSettings(kafka_bootstrap=stack.kafka, topic_prefix=prefix)
    specs = [
        TopicSpec(name=f"ceil.{t}", key="id", partitions=6) for t in ("raw", "triaged", "events")
    ]
    ensure_topics(settings, specs)
    return asyncio.run(_raw_ceiling(stack.kafka, stack.es_url, prefix, n))


# -- sustained load ----------------------------------------------------------------


@dataclass
class Timeline:
    offered: list[tuple[float, int]] = field(default_factory=list)
    searchable: list[tuple[float, int]] = field(default_factory=list)
    latency: list[tuple[float, float]] = field(default_factory=list)  # (sent_at, seconds)
    cpu: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    rss: dict[str, float] = field(default_factory=dict)


def sustained(
    stack: Stack, prefix: str, rate: int, seconds: int, workers: int = 1
) -> dict[str, Any]:
    """Offer `rate` mentions/s through ingest for `seconds`; every service runs as its
    own process(es). Latency: sampled mentions, from the POST to the first time the item
    is visible to search (multi-get with realtime=false, no forced refresh)."""
    settings = BaseServiceSettings(kafka_bootstrap=stack.kafka, topic_prefix=prefix)
    ensure_topics(settings, load_topic_specs().values())
    env = {
        "SOCIALDESK_TOPIC_PREFIX": prefix,
        "SOCIALDESK_INDEX_PREFIX": prefix.rstrip("."),
        "SOCIALDESK_LOG_LEVEL": "WARNING",
        "SOCIALDESK_KAFKA_EVICT_STALE_MEMBERS": "false" if workers > 1 else "true",
    }
    procs: dict[str, list[Any]] = {}
    for svc in SERVICES:
        n = workers if svc in ("triage", "indexer", "assign", "sla") else 1
        procs[svc] = []
        for w in range(n):
            e = env | {"SOCIALDESK_INSTANCE": str(w)}
            if w > 0:  # extra workers: their own ops port
                from socialdesk_tools.stack import free_port

                e["SOCIALDESK_HTTP_PORT"] = str(free_port())
            procs[svc].append(stack.spawn(svc, extra_env=e))
    texts = _texts()
    run = f"e{int(time.time())}-"
    index = f"{prefix.rstrip('.')}-items"
    tl = Timeline()
    sent_at: dict[int, float] = {}
    stop = threading.Event()
    total = rate * seconds
    t0 = 0.0
    try:
        for svc in SERVICES:
            stack.wait_ready(svc, 240)
        npids = noida_pids(stack.noida_dir)
        if PIDS_FILE:  # for profilers (py-spy) attached from outside
            pids = {s: [p.pid for p in ps] for s, ps in procs.items()}
            Path(PIDS_FILE).write_text(json.dumps(pids | {"noida-db": npids}))
        # Idle cost first: every process polls even with nothing to do, and that is
        # charged to the mentions below unless reported apart.
        time.sleep(2)
        idle0 = {s: sum(_cpu_s(p.pid) for p in ps) for s, ps in procs.items()}
        idle0["noida-db"] = sum(_cpu_s(p) for p in npids)
        time.sleep(IDLE_S)
        idle_cores = {
            s: round(
                (
                    (sum(_cpu_s(p.pid) for p in procs[s]) if s in procs else 0)
                    + (sum(_cpu_s(p) for p in npids) if s == "noida-db" else 0)
                    - v
                )
                / max(IDLE_S, 1e-9),
                3,
            )
            for s, v in idle0.items()
        }
        cpu0 = {s: sum(_cpu_s(p.pid) for p in ps) for s, ps in procs.items()}
        cpu0["noida-db"] = sum(_cpu_s(p) for p in npids)
        key = os.environ.get("SOCIALDESK_INGEST_API_KEYS", "dev:dev-only-change-me")
        api_key = key.split(",")[0].split(":", 1)[1]

        offering_done = threading.Event()

        def sampler() -> None:
            # On noida-db every search and count scans the whole index (measured: about
            # 5 ms of its CPU per 1,000 documents, so 1.5 s per query at 300k documents),
            # which would make the probe the largest load on the stack. A multi-get with
            # realtime=false sees exactly what a search sees (refreshed documents only;
            # checked on noida-db) at a cost that grows with the ids asked for, not with
            # the index; the whole-index count runs only every COUNT_S seconds.
            es = Elasticsearch(stack.es_url)
            counted_at = -1e9
            try:
                while not stop.is_set():
                    now = time.perf_counter()
                    pending = list(sent_at)[:PENDING_CAP]
                    if pending:
                        ids = [_item_id(run, n) for n in pending]
                        try:
                            res = es.mget(index=index, ids=ids, realtime=False, source=False)
                            found = {d["_id"] for d in res["docs"] if d.get("found")}
                        except Exception:
                            found = set()
                        seen = time.perf_counter()
                        for n in pending:
                            if _item_id(run, n) in found:
                                tl.latency.append((sent_at[n] - t0, seen - sent_at.pop(n)))
                    every = COUNT_S if not offering_done.is_set() or sent_at else 1.0
                    if now - counted_at >= every:
                        counted_at = now
                        try:
                            cnt = int(es.count(index=index)["count"])
                        except Exception:
                            cnt = tl.searchable[-1][1] if tl.searchable else 0
                        tl.searchable.append((now - t0, cnt))
                    for s, ps in procs.items():
                        tl.cpu.setdefault(s, []).append((now - t0, sum(_cpu_s(p.pid) for p in ps)))
                        tl.rss[s] = max(tl.rss.get(s, 0.0), sum(_rss_mb(p.pid) for p in ps))
                    tl.cpu.setdefault("noida-db", []).append(
                        (now - t0, sum(_cpu_s(p) for p in npids))
                    )
                    tl.rss["noida-db"] = max(
                        tl.rss.get("noida-db", 0.0), sum(_rss_mb(p) for p in npids)
                    )
                    stop.wait(POLL_S)
            finally:
                es.close()

        t0 = time.perf_counter()
        th = threading.Thread(target=sampler, daemon=True)
        th.start()
        url = stack.ingest_url() + "/v1/mentions"
        client = httpx.Client(headers={"X-Api-Key": api_key}, timeout=30)
        errors = 0
        i = 0
        while i < total:
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            chunk = list(range(i, min(total, i + BATCH)))
            body = "\n".join(json.dumps(_mention(n, run, texts[n % len(texts)])) for n in chunk)
            posted = time.perf_counter()
            try:
                client.post(url, content=body.encode()).raise_for_status()
                for n in chunk:
                    if n % SAMPLE_EVERY == 0:
                        sent_at[n] = posted
            except Exception:
                errors += 1
                continue  # retried below by not advancing
            i += len(chunk)
            tl.offered.append((time.perf_counter() - t0, i))
        offered_s = time.perf_counter() - t0
        offering_done.set()
        client.close()
        deadline = time.perf_counter() + 120
        while time.perf_counter() < deadline:
            if tl.searchable and tl.searchable[-1][1] >= total and not sent_at:
                break
            time.sleep(0.5)
        done_s = time.perf_counter() - t0
        stop.set()
        th.join()
        cpu1 = {s: sum(_cpu_s(p.pid) for p in ps) for s, ps in procs.items()}
        cpu1["noida-db"] = sum(_cpu_s(p) for p in npids)
    finally:
        stop.set()
        for ps in procs.values():
            for p in ps:
                kill_tree(p)
    lat = sorted(x for _, x in tl.latency)
    searchable = tl.searchable[-1][1] if tl.searchable else 0
    return {
        "offered_per_s": rate,
        "offered_for_s": seconds,
        "workers_per_stream_service": workers,
        "mentions": total,
        "searchable": searchable,
        "ingest_errors_retried": errors,
        "achieved_offer_per_s": round(total / offered_s, 1),
        "throughput_per_s": round(searchable / done_s, 1),
        "behind_offer_at_end_s": round(done_s - offered_s, 2),
        "p50_ingest_to_searchable_s": round(statistics.median(lat), 3) if lat else None,
        "p99_ingest_to_searchable_s": round(lat[int(0.99 * (len(lat) - 1))], 3) if lat else None,
        "max_ingest_to_searchable_s": round(lat[-1], 3) if lat else None,
        "latency_samples": len(lat),
        "cpu_s_per_1k_mentions": {
            s: round((cpu1[s] - cpu0[s]) * 1000 / max(1, searchable), 2) for s in cpu1
        },
        "cpu_cores_used": {s: round((cpu1[s] - cpu0[s]) / done_s, 2) for s in cpu1},
        "cpu_cores_idle_before_load": idle_cores,
        # What the mentions themselves cost: the idle cost over the run taken off (on a
        # slow run the idle polling otherwise dominates the figure per 1,000).
        "cpu_s_per_1k_mentions_net_of_idle": {
            s: round(
                max(0.0, cpu1[s] - cpu0[s] - idle_cores.get(s, 0.0) * done_s)
                * 1000
                / max(1, searchable),
                2,
            )
            for s in cpu1
        },
        "machine_loadavg_1m_at_end": round(os.getloadavg()[0], 2),
        "cpu_s_total_per_1k_mentions": round(
            sum(cpu1[s] - cpu0[s] for s in cpu1) * 1000 / max(1, searchable), 2
        ),
        "rss_mb_max": {s: round(v, 1) for s, v in tl.rss.items()},
        "_timeline": tl,
    }


def plot(result: dict[str, Any], path: Path, title: str) -> None:
    """Throughput and latency over the run, so a reader sees where the time goes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tl: Timeline = result["_timeline"]
    fig, (a1, a2, a3) = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    if tl.offered:
        a1.plot(*zip(*tl.offered, strict=True), label="accepted by ingest")
    if tl.searchable:
        a1.plot(*zip(*tl.searchable, strict=True), label="searchable in Elasticsearch")
    a1.set_ylabel("mentions (cumulative)")
    a1.legend(loc="upper left")
    a1.set_title(title)
    if tl.latency:
        xs, ys = zip(*tl.latency, strict=True)
        a2.scatter(xs, ys, s=3, alpha=0.4)
    a2.set_ylabel("ingest to searchable (s)")
    for svc, series in sorted(tl.cpu.items()):
        if len(series) > 2:
            ts = [t for t, _ in series]
            cs = [c for _, c in series]
            rates = [
                (cs[k] - cs[k - 4]) / (ts[k] - ts[k - 4]) if k >= 4 else 0.0
                for k in range(len(series))
            ]
            a3.plot(ts, rates, label=svc)
    a3.set_ylabel("CPU (cores)")
    a3.set_xlabel("seconds since the load started")
    a3.legend(loc="upper left", ncol=4, fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def public(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if not k.startswith("_")}


if __name__ == "__main__":
    import argparse
    import tempfile

    from socialdesk_tools.stack import StackPorts

    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=1000)
    ap.add_argument("--seconds", type=int, default=60)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--ceiling", type=int, default=0)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        st = Stack(Path(tmp), ports=StackPorts.free())
        st.start_noida()
        try:
            if a.ceiling:
                print(json.dumps(raw_ceiling(st, f"c{int(time.time())}.", a.ceiling)))
            r = sustained(st, f"e{int(time.time())}.", a.rate, a.seconds, a.workers)
            print(json.dumps(public(r), indent=2))
            plot(r, Path(tmp) / "e2e.png", "e2e")
        finally:
            st.stop_noida()
