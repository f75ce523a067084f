"""Console benchmark on the local stack: bulk-index 100,000 items into noida-db, then time
the inbox and item pages against the Elasticsearch requests those pages make, in the
same run: each page reports the wall time of its own ES requests in its Server-Timing
header, so the figure that matters is the console's own overhead per request (page
minus its ES time; floor p99 50 ms). As a cross-check the bench also sends the very same
requests itself (built by the same functions in socialdesk_console.queries, sequential
or concurrent as the page issues them) right after each page. It also times a new P1
from the POST to ingest to its arrival on an open live stream (SSE; floor p99 1 s).
Figures are printed and returned, never asserted.

    python bench/console_bench.py [--items 100000] [--samples 200] [--p1 30]

`run(items=..., samples=..., p1_samples=...)` returns the figures as a dict.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from benchstack import private_stack
from elasticsearch import AsyncElasticsearch

from socialdesk.authors import author_day_document, day_index
from socialdesk.es import ensure_indices
from socialdesk.events import item_key_for_thread
from socialdesk.kafka import ensure_topics
from socialdesk.topics import load_topic_specs
from socialdesk_console.auth import User
from socialdesk_console.queries import (
    HISTORY_SOURCE,
    deliveries_request,
    history_docs,
    history_ids,
    inbox_request,
    sla_ids,
    timeline_request,
)
from socialdesk_tools.stack import SERVICES, Stack, kill_tree

ROOT = Path(__file__).resolve().parents[1]
FORCES = ["merseyside", "metropolitan", "greater-manchester", "west-midlands", "kent"]
TEXTS = [
    "someone smashed my car window on Lark Lane last night, any chance of a ref",
    "lads on off-road bikes tearing round the park again, every night this week",
    "how do I report a lost wallet? left it on the 86 bus",
    "worried about my neighbour, haven't seen her for 3 days and post piling up",
    "thanks to the officers who helped my nan today, proper legends",
    "there's a man with a knife outside the shop on Lord St right now",
]
AUTHOR_HISTORY_DAYS = 8  # the console's and indexer's default (retention policy's author_history)
INTENTS = ["crime_report", "asb", "enquiry", "welfare_concern", "appreciation", "crime_report"]


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(ms), 1),
        "p99_ms": round(pct(ms, 0.99), 1),
        "n": len(ms),
    }


def item_doc(n: int, now: datetime) -> dict[str, Any]:
    """A document shaped as the indexer writes it (documents.item_document)."""
    rnd = random.Random(n)
    force = FORCES[n % len(FORCES)] if n % 2 else "merseyside"
    k = n % len(TEXTS)
    created = now - timedelta(minutes=n % 200_000)
    open_ = n % 50 == 0  # 2% open: a desk's live inbox over a long history
    pr = 1 if k == 5 else 2 if k == 3 else 4 if k == 4 else 3
    owner = None if not open_ or n % 3 else "op.merseyside"
    iid = item_key_for_thread(f"x:thread:bench{n}")
    author = f"a{n % 20_000}"
    return {
        "id": iid,
        "key": iid,
        "force": force,
        "team": "digital-desk",
        "status": ("assigned" if owner else "new") if open_ else "resolved",
        "open": open_,
        "priority": f"P{pr}",
        "priority_rank": pr,
        "intent": INTENTS[k],
        "flags": ["weapon"] if k == 5 else [],
        "urgency": rnd.random(),
        "reasons": ["bench"],
        "owner": owner,
        "platform": "x",
        "channel": "public_mention",
        "author_id": author,
        "author_handle": author,
        "author_name": None,
        "text": f"{TEXTS[k]} #{n}",
        "language": "en",
        "outcome": None if open_ else "signposted",
        "crime_reference": None,
        "mention_ids": [f"x:bench{n}"],
        "messages": [
            {
                "mention_id": f"x:bench{n}",
                "direction": "inbound",
                "author": author,
                "text": f"{TEXTS[k]} #{n}",
                "at": created.isoformat(),
            }
        ],
        "created_at": created.isoformat(),
        "updated_at": created.isoformat(),
        "first_mention_at": created.isoformat(),
        "seq": 1,
        "last_event": "created",
        "last_actor": "assign",
    }


async def bulk_index(
    es: AsyncElasticsearch, prefix: str, n: int, start: int = 0, now: datetime | None = None
) -> dict[str, float]:
    """Items start..n-1 (item_doc) and the open ones' first-response clocks; the
    scaling bench grows one index in steps with it."""
    now = now or datetime.now(UTC)
    items_ix, sla_ix, open_ix = f"{prefix}-items", f"{prefix}-sla", f"{prefix}-open"
    days_stem = f"{prefix}-author-days"
    keep_from = (now - timedelta(days=AUTHOR_HISTORY_DAYS)).date()
    t0 = shown = time.perf_counter()
    batch: list[dict[str, Any]] = []
    ids: list[str] = []
    for i in range(start, n):
        d = item_doc(i, now)
        batch += [{"index": {"_index": items_ix, "_id": d["id"]}}, d]
        day, day_doc_id, day_doc = author_day_document(d) or (None, "", {})
        if day is not None and day >= keep_from:  # as the indexer keeps author history
            target = {"_index": day_index(days_stem, day), "_id": day_doc_id}
            batch += [{"update": target}, {"doc": day_doc, "doc_as_upsert": True}]
        if d["open"]:
            batch += [{"index": {"_index": open_ix, "_id": d["id"]}}, d]
            ids.append(d["id"])
            due = (datetime.fromisoformat(d["created_at"]) + timedelta(hours=1)).isoformat()
            sla = {
                "item_id": d["id"],
                "force": d["force"],
                "team": d["team"],
                "priority": d["priority"],
                "clock": "first_response",
                "state": "started",
                "deadline": due,
                "at": d["created_at"],
                "seq": 1,
            }
            batch += [{"index": {"_index": sla_ix, "_id": f"{d['id']}:first_response"}}, sla]
        if len(batch) >= 4000:
            await es.bulk(operations=batch)
            batch = []
            if time.perf_counter() - shown > 30:
                print(f"    indexed {i + 1:,} of {n:,}", flush=True)
                shown = time.perf_counter()
    if batch:
        await es.bulk(operations=batch)
    await es.indices.refresh(index=f"{items_ix},{sla_ix},{open_ix},{days_stem}-*")
    secs = time.perf_counter() - t0
    return {"items": n, "seconds": round(secs, 1), "docs_per_s": round((n - start) / secs)}


async def es_inbox(es: AsyncElasticsearch, prefix: str, user: User) -> None:
    """The inbox page's Elasticsearch requests, built by the same functions and issued
    the same way: one search (view, counters by aggregation), then one mget of clocks."""
    resp = await es.search(index=f"{prefix}-open", **inbox_request(user, "all_open", {}, 100))
    ids = sla_ids([h["_source"]["id"] for h in resp["hits"]["hits"]])
    if ids:
        await es.mget(index=f"{prefix}-sla", ids=ids)


async def es_item(es: AsyncElasticsearch, prefix: str, user: User, item_id: str) -> None:
    """The item page's Elasticsearch requests, built by the same functions and issued the
    same way: the item by id, then its clocks, its author's history (two multi-gets) and
    the two side searches at once."""
    item = (await es.get(index=f"{prefix}-items", id=item_id))["_source"]

    async def history() -> None:
        days = history_docs(f"{prefix}-author-days", item, datetime.now(UTC), AUTHOR_HISTORY_DAYS)
        got = await es.mget(docs=days)
        found = [d["_source"] for d in got["docs"] if d.get("found")]
        ids = history_ids(user, found, item_id)
        if ids:
            await es.mget(index=f"{prefix}-items", ids=ids, source_includes=HISTORY_SOURCE)

    await asyncio.gather(
        es.mget(index=f"{prefix}-sla", ids=sla_ids([item_id])),
        history(),
        es.search(index=f"{prefix}-events", **timeline_request(user, item_id)),
        es.search(index=f"{prefix}-audit", **deliveries_request(item)),
    )


async def timed(fn: Any, *args: Any) -> float:
    t0 = time.perf_counter()
    await fn(*args)
    return (time.perf_counter() - t0) * 1000


def server_timing(header: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for part in header.split(","):
        name, _, rest = part.strip().partition(";")
        for attr in rest.split(";"):
            if attr.startswith("dur="):
                out[name] = float(attr[4:])
    return out


async def sign_in(console: str) -> httpx.AsyncClient:
    c = httpx.AsyncClient(base_url=console, timeout=300)
    page = await c.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = await c.post(
        "/login", data={"username": "op.merseyside", "password": "demo-password", "csrf": csrf}
    )
    assert r.status_code == 303, r.text
    return c


async def pages(stack: Stack, prefix: str, samples: int) -> dict[str, Any]:
    es = AsyncElasticsearch(stack.es_url, request_timeout=300)
    user = User("op.merseyside", "Op", "merseyside", "operator", ("digital-desk",), "c")
    client = await sign_in(stack.console_url().rstrip("/"))
    try:
        resp = await es.search(
            index=f"{prefix}-items",
            query={"bool": {"filter": [{"term": {"force": "merseyside"}}]}},
            size=50,
            source_includes=["id"],
        )
        ids = [h["_source"]["id"] for h in resp["hits"]["hits"]]
        out: dict[str, Any] = {}
        for name, page_fn, es_fn in (
            ("inbox", lambda i: client.get("/inbox"), lambda i: es_inbox(es, prefix, user)),
            (
                "item",
                lambda i: client.get(f"/items/{ids[i % len(ids)]}"),
                lambda i: es_item(es, prefix, user, ids[i % len(ids)]),
            ),
        ):
            for i in range(2):  # warm up both paths
                await page_fn(i)
                await es_fn(i)
            page_ms: list[float] = []  # the page over HTTP, as the client sees it
            es_in_page: list[float] = []  # the same request's ES wall time (Server-Timing)
            diff_ms: list[float] = []  # page minus its own ES time, per request
            own_ms: list[float] = []
            backend_ms: list[float] = []
            audit_in_page: list[float] = []
            direct_ms: list[float] = []  # the same requests sent directly, just after
            errors: list[str] = []
            for i in range(samples):  # interleaved, so both see the same machine state
                t0 = time.perf_counter()
                r = await page_fn(i)
                ms = (time.perf_counter() - t0) * 1000
                if r.status_code != 200:  # e.g. a 503 when noida-db is too slow: counted
                    detail = r.text.split("<p", 1)[-1][:200] if "<p" in r.text else r.text
                    errors.append(f"{r.status_code} after {ms:.0f} ms: {detail[:200]}")
                    print(f"  {name} page: {errors[-1]}", flush=True)
                    continue
                timing = server_timing(r.headers.get("server-timing", ""))
                page_ms.append(ms)
                es_in_page.append(timing["es"])
                diff_ms.append(ms - timing["es"])
                own_ms.append(timing["app"])
                backend_ms.append(timing["backend"])
                audit_in_page.append(timing.get("audit", 0.0))
                if ms - timing["es"] > 50:  # name the slow part while it is fresh
                    print(
                        f"  {name} {i + 1}: page minus its ES {ms - timing['es']:.0f} ms"
                        f" (Server-Timing: {r.headers.get('server-timing')})",
                        flush=True,
                    )
                t0 = time.perf_counter()
                await es_fn(i)
                direct_ms.append((time.perf_counter() - t0) * 1000)
                if (i + 1) % 5 == 0 or i + 1 == samples:
                    print(
                        f"  {name} {i + 1}/{samples}: page {ms:.0f} ms, its ES"
                        f" {timing['es']:.0f} ms, direct {direct_ms[-1]:.0f} ms",
                        flush=True,
                    )
            p, e, d = summary(page_ms), summary(es_in_page), summary(diff_ms)
            direct = summary(direct_ms)
            out[name] = {
                "page": p,
                "es_in_page": e,
                "page_minus_es": d,
                "ratio_p99": round(p["p99_ms"] / e["p99_ms"], 3),
                "margin_p99_ms": round(p["p99_ms"] - e["p99_ms"], 1),
                "floor_margin_ms": 50,
                "meets_floor": p["p99_ms"] - e["p99_ms"] <= 50,
                "per_request_within_50_ms": d["p99_ms"] <= 50,
                "errors": errors,
                "server_backend": summary(backend_ms),
                "server_own": summary(own_ms),
                "server_audit_write": summary(audit_in_page),
                # Cross-check: the same requests from the bench's own client, issued the
                # same way, right after each page (not the same requests, so noisier).
                "es_direct": direct,
                "direct_ratio_p99": round(p["p99_ms"] / direct["p99_ms"], 3),
                "direct_margin_p99_ms": round(p["p99_ms"] - direct["p99_ms"], 1),
            }
        out["console_gc"] = await gc_pauses(client)
        return out
    finally:
        await client.aclose()
        await es.close()


async def gc_pauses(client: httpx.AsyncClient) -> dict[str, Any]:
    """The console's garbage-collection pauses during the run (its /metrics): a page's
    own time can only be as steady as the longest pause."""
    text = (await client.get("/metrics")).text
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if line.startswith("socialdesk_gc_pause_seconds_bucket"):
            gen = line.split('generation="', 1)[1].split('"', 1)[0]
            le = line.split('le="', 1)[1].split('"', 1)[0]
            out.setdefault(f"gen{gen}", {})[f"le_{le}s"] = int(float(line.rsplit(" ", 1)[1]))
    return out


def p1_mention(n: int, run: str) -> bytes:
    now = datetime.now(UTC).isoformat()
    return json.dumps(
        {
            "id": f"x:{run}p1{n}",
            "platform": "x",
            "native_id": f"{run}p1{n}",
            "channel": "public_mention",
            "author": {"id": f"p1a{n}", "handle": f"p1author{n}"},
            "text": f"there's a man with a knife stabbing people outside the shop on Lord St #{n}",
            "posted_at": now,
            "received_at": now,
            "force_account": {"platform": "x", "handle": "MerseyPolice"},
        }
    ).encode()


async def p1_to_stream(stack: Stack, samples: int) -> dict[str, Any]:
    """POST a P1 to ingest; time until the console's live stream carries its creation."""
    client = await sign_in(stack.console_url().rstrip("/"))
    run = f"r{int(time.time())}"
    arrived: dict[str, float] = {}
    sent: dict[str, float] = {}
    ready = asyncio.Event()
    came = asyncio.Event()

    async def listen() -> None:
        async with client.stream("GET", "/api/stream", timeout=None) as resp:
            ready.set()
            event = None
            async for line in resp.aiter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "item":
                    ch = json.loads(line[6:])
                    if ch["type"] == "created" and ch["item_id"] not in arrived:
                        arrived[ch["item_id"]] = time.perf_counter()
                        came.set()

    task = asyncio.create_task(listen())
    await asyncio.wait_for(ready.wait(), 30)
    await asyncio.sleep(1)
    ingest = httpx.AsyncClient(base_url=stack.ingest_url(), timeout=30)
    try:
        for n in range(samples):
            iid = item_key_for_thread(f"x:thread:{run}p1{n}")
            sent[iid] = time.perf_counter()
            r = await ingest.post(
                "/v1/mentions",
                content=p1_mention(n, run),
                headers={"X-Api-Key": "dev-only-change-me"},
            )
            assert r.status_code == 200, r.text
            deadline = time.perf_counter() + 10
            while iid not in arrived and time.perf_counter() < deadline:
                came.clear()
                try:
                    await asyncio.wait_for(came.wait(), max(0.0, deadline - time.perf_counter()))
                except TimeoutError:
                    break
            await asyncio.sleep(0.2)
    finally:
        task.cancel()
        await ingest.aclose()
        await client.aclose()
    ms = [(arrived[i] - t) * 1000 for i, t in sent.items() if i in arrived]
    s = summary(ms) if ms else {"p50_ms": None, "p99_ms": None, "n": 0}
    return {
        **s,
        "lost": len(sent) - len(ms),
        "floor_p99_ms": 1000,
        "meets_floor": bool(ms) and s["p99_ms"] is not None and s["p99_ms"] <= 1000,
    }


def run(items: int = 100_000, samples: int = 40, p1_samples: int = 30) -> dict[str, Any]:
    """Start a private stack, index, measure; return the figures."""
    own = private_stack("console-bench", "cb")
    root, stack, prefix, settings = own.root, own.stack, own.prefix, own.settings
    ensure_topics(settings, load_topic_specs().values())
    env = {
        "SOCIALDESK_TOPIC_PREFIX": prefix + ".",
        "SOCIALDESK_INDEX_PREFIX": prefix,
        "SOCIALDESK_REPLY_RECORDER_PATH": str(root / "replies.jsonl"),
        "SOCIALDESK_LOG_LEVEL": "WARNING",
    }
    procs = {}
    try:

        async def index() -> dict[str, float]:
            es = AsyncElasticsearch(stack.es_url, request_timeout=120)
            try:
                await ensure_indices(es, settings)
                return await bulk_index(es, prefix, items)
            finally:
                await es.close()

        indexing = asyncio.run(index())
        print(f"indexed {indexing['items']} items in {indexing['seconds']} s", flush=True)
        for svc in SERVICES:
            procs[svc] = stack.spawn(svc, extra_env=env)
        for svc in SERVICES:
            stack.wait_ready(svc, 180)
        page_figures = asyncio.run(pages(stack, prefix, samples))
        p1 = asyncio.run(p1_to_stream(stack, p1_samples))
    finally:
        for proc in procs.values():
            kill_tree(proc)
        stack.stop_noida()
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "indexing": indexing,
        "pages": page_figures,
        "p1_ingest_to_sse": p1,
    }
    report(result)
    return result


def _page_figures(r: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(k, v) for k, v in r["pages"].items() if k in ("inbox", "item")]


def report(r: dict[str, Any]) -> None:
    ix = r["indexing"]
    print(f"\nconsole bench: {ix['items']} items ({ix['docs_per_s']} docs/s bulk)")
    for name, f in _page_figures(r):
        pg, q, d = f["page"], f["es_in_page"], f["page_minus_es"]
        print(
            f"  {name:5} page p50 {pg['p50_ms']:7.1f} ms  p99 {pg['p99_ms']:7.1f} ms | "
            f"its ES requests p50 {q['p50_ms']:7.1f} ms  p99 {q['p99_ms']:7.1f} ms | "
            f"page-ES per request p50 {d['p50_ms']} ms p99 {d['p99_ms']} ms | "
            f"ratio {f['ratio_p99']}  margin {f['margin_p99_ms']} ms (floor 50: "
            f"{'ok' if f['meets_floor'] else 'MISSED'})"
        )
        own, be, sa = f["server_own"], f["server_backend"], f["server_audit_write"]
        print(
            f"        server side: console's own work p50 {own['p50_ms']} ms p99 {own['p99_ms']}"
            f" ms; waiting on ES+Kafka p99 {be['p99_ms']} ms; audit write p50 {sa['p50_ms']}"
            f" ms p99 {sa['p99_ms']} ms (concurrent with the queries)"
        )
        if f.get("errors"):
            print(f"        {len(f['errors'])} page(s) failed: {f['errors'][:3]}")
        x = f["es_direct"]
        print(
            f"        cross-check, same requests sent directly after each page: p50"
            f" {x['p50_ms']} ms p99 {x['p99_ms']} ms (page p99 minus this:"
            f" {f['direct_margin_p99_ms']} ms)"
        )
    for gen, buckets in r["pages"].get("console_gc", {}).items():
        print(f"  console GC pauses {gen}: {buckets}")
    p = r["p1_ingest_to_sse"]
    print(
        f"  new P1 ingest -> SSE: p50 {p['p50_ms']} ms  p99 {p['p99_ms']} ms  "
        f"n={p['n']} lost={p['lost']} (floor 1000 ms: {'ok' if p['meets_floor'] else 'MISSED'})"
    )


def markdown(r: dict[str, Any]) -> str:
    """The figures as the console section of docs/benchmarks.md."""
    ix, p1 = r["indexing"], r["p1_ingest_to_sse"]
    rows = []
    for name, f in _page_figures(r):
        pg, es, d, x = f["page"], f["es_in_page"], f["page_minus_es"], f["es_direct"]
        own, au = f["server_own"], f["server_audit_write"]
        # The floor (issue 6): page p99 at most 50 ms over its ES p99, same run. The
        # per-request difference is the stricter reading, shown beside it.
        ok = "met" if f["margin_p99_ms"] <= 50 else "**missed**"
        strict = "within 50 ms" if d["p99_ms"] <= 50 else "over 50 ms"
        rows += [
            f"| {name} page (HTTP, signed in) | {pg['p50_ms']:,} ms | {pg['p99_ms']:,} ms | |",
            f"| {name}: its own ES requests (Server-Timing `es`, wall) | {es['p50_ms']:,} ms"
            f" | {es['p99_ms']:,} ms | |",
            f"| {name}: page p99 minus ES p99, ratio | | {f['margin_p99_ms']:,} ms /"
            f" {f['ratio_p99']} | 50 ms: {ok} |",
            f"| {name}: page minus its ES time, per request (stricter) | {d['p50_ms']:,} ms"
            f" | {d['p99_ms']:,} ms | {strict} |",
            f"| {name}: console's own work (`app`) | {own['p50_ms']} ms | {own['p99_ms']} ms | |",
            f"| {name}: audit write (`audit`, concurrent) | {au['p50_ms']} ms"
            f" | {au['p99_ms']} ms | |",
            f"| {name}: same requests sent by the bench just after (cross-check) |"
            f" {x['p50_ms']:,} ms | {x['p99_ms']:,} ms | |",
        ]
        if f.get("errors"):
            rows.append(
                f"| {name}: pages that failed (not in the figures) | {len(f['errors'])} | | |"
            )
    gc2 = r["pages"].get("console_gc", {}).get("gen2", {})
    if gc2:
        long = gc2.get("le_+Infs", 0) - gc2.get("le_0.05s", 0)
        rows.append(
            f"| console: full GC collections over the run, over 50 ms"
            f" (start-up included) | {gc2.get('le_+Infs', 0)}, {long} | | |"
        )
    n = _page_figures(r)[0][1]["page"]["n"]
    p1_ok = "met" if p1["meets_floor"] else "**missed**"
    return "\n".join(
        [
            "## console",
            "",
            f"`bench/console_bench.py`, run {r['when']}: {ix['items']:,} items bulk-indexed"
            f" into noida-db at {ix['docs_per_s']:,} docs/s, every service running, {n}"
            " samples of each page; each page's own Elasticsearch time comes from its"
            " `Server-Timing` header (docs/console.md).",
            "",
            "| figure | p50 | p99 | floor |",
            "|---|---|---|---|",
            *rows,
            f"| new P1: POST to ingest → `created` on `/api/stream` | {p1['p50_ms']} ms"
            f" | {p1['p99_ms']} ms | 1 s: {p1_ok} ({p1['lost']} lost of"
            f" {p1['n'] + p1['lost']}) |",
            "",
        ]
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--p1", type=int, default=30)
    ap.add_argument("--json", type=Path, help="also write the figures here")
    a = ap.parse_args()
    result = run(a.items, a.samples, a.p1)
    if a.json:
        a.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
