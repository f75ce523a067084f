"""Scaling benchmark: how latency and memory grow with 10k, 100k and 1M items.

Two parts, each on a noida-db of its own:
- indexed: one items index grown to each size in turn (documents shaped as the indexer
  writes them, 2% open, as console_bench), then at each size the console's own
  Elasticsearch requests (the inbox's search and clock look-up, an item page's reads),
  a versioned bulk of 1,000 item updates (what the indexer sends), triage's author
  context multi-get for 500 authors, and noida-db's resident memory;
- open: the sla service tracking that many open items (sla_bench: memory, how late
  its warnings and breaches fire, how long a restart takes to restore them).
Figures are printed and returned, never asserted."""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from elasticsearch import AsyncElasticsearch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from benchstack import private_stack  # noqa: E402
from console_bench import bulk_index, es_inbox, es_item, item_doc  # noqa: E402
from e2e_bench import _rss_mb, noida_pids  # noqa: E402
from sla_bench import run as sla_run  # noqa: E402

from socialdesk.authors import AUTHOR_DAYS, window_docs  # noqa: E402
from socialdesk.es import VersionedDoc, bulk_versioned, ensure_indices  # noqa: E402
from socialdesk_console.auth import User  # noqa: E402
from socialdesk_tools.stack import Stack, StackPorts  # noqa: E402


def _ms(values: list[float]) -> dict[str, float]:
    values = sorted(values)
    p99 = values[min(len(values) - 1, int(0.99 * len(values)))]
    return {"p50_ms": round(statistics.median(values), 1), "p99_ms": round(p99, 1)}


async def _at_size(
    es: AsyncElasticsearch, prefix: str, size: int, samples: int, now: datetime
) -> dict[str, Any]:
    user = User("op.merseyside", "Op", "merseyside", "operator", ("digital-desk",), "c")
    ids = [item_doc(i, now)["id"] for i in range(0, size, max(1, size // samples))][:samples]
    out: dict[str, Any] = {"items": size, "open": sum(1 for i in range(size) if i % 50 == 0)}
    for name, fn in (
        ("inbox_es", lambda n: es_inbox(es, prefix, user)),
        ("item_es", lambda n: es_item(es, prefix, user, ids[n % len(ids)])),
    ):
        await fn(0)  # warm
        times = []
        for n in range(samples):
            t0 = time.perf_counter()
            await fn(n)
            times.append((time.perf_counter() - t0) * 1000)
        out[name] = _ms(times)
        print(f"    {name}: {out[name]}", flush=True)
    writes = []
    for rnd in range(3):  # the indexer's write: 1,000 item updates at a new version
        docs = []
        for i in range(rnd * 1000, (rnd + 1) * 1000):
            d = item_doc(i * (size // 3000 or 1), now)
            docs.append(VersionedDoc(f"{prefix}-items", d["id"], 2 + rnd, d))
        t0 = time.perf_counter()
        await bulk_versioned(es, docs)
        writes.append((time.perf_counter() - t0) * 1000)
    out["bulk_1000_updates"] = _ms(writes)
    authors = [f"x:a{n}" for n in range(500)]
    t0 = time.perf_counter()
    await es.mget(docs=window_docs(f"{prefix}-{AUTHOR_DAYS}", authors, now, 7))
    out["author_context_mget_500_ms"] = round((time.perf_counter() - t0) * 1000, 1)
    return out


def _mem_mb() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _too_big(rows: list[dict[str, Any]], size: int, what: str) -> str | None:
    """Why `size` is not run, when noida-db's memory scaled from the last size measured
    (it keeps everything in memory, so it grows in proportion) would pass 70% of this
    machine's; None when it fits."""
    if not rows:
        return None
    last = rows[-1]
    need = float(last["noida_rss_mb"]) * size / int(last["items"])
    if need <= 0.7 * _mem_mb():
        return None
    return (
        f"not run: noida-db held {last['noida_rss_mb']:,.0f} MB for {last['items']:,} "
        f"{what}, so {size:,} would need about {need / 1024:,.0f} GB of this machine's "
        f"{_mem_mb() / 1024:,.0f}"
    )


def indexed(sizes: tuple[int, ...], samples: int) -> list[dict[str, Any]]:
    own = private_stack("scaling-bench", "sc")
    rows: list[dict[str, Any]] = []
    try:

        async def go() -> None:
            es = AsyncElasticsearch(own.stack.es_url, request_timeout=600)
            now = datetime.now(UTC)
            try:
                await ensure_indices(es, own.settings)
                have = 0
                for size in sizes:
                    if note := _too_big(rows, size, "items"):
                        print(f"  indexed: {note}", flush=True)
                        rows.append({"items": size, "skipped": note})
                        break
                    print(f"  indexed: growing the index to {size:,} items ...", flush=True)
                    grown = await bulk_index(es, own.prefix, size, start=have, now=now)
                    have = size
                    row = await _at_size(es, own.prefix, size, samples, now)
                    row["index_items_per_s"] = grown["docs_per_s"]
                    row["noida_rss_mb"] = round(
                        sum(_rss_mb(p) for p in noida_pids(own.stack.noida_dir)), 1
                    )
                    rows.append(row)
                    print(f"  {json.dumps(row)}", flush=True)
            finally:
                await es.close()

        asyncio.run(go())
    finally:
        own.stack.stop_noida()
    return rows


def open_items(sizes: tuple[int, ...]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for size in sizes:
        if note := _too_big(rows, size, "open items' events"):
            print(f"  open: {note}", flush=True)
            rows.append({"open_items": size, "skipped": note})
            break
        print(f"  open: the sla service tracking {size:,} open items ...", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            stack = Stack(Path(tmp), ports=StackPorts.free())
            stack.start_noida()
            try:
                r = asyncio.run(sla_run(stack, f"scl{size}{int(time.time())}.", items=size))
                noida_mb = sum(_rss_mb(p) for p in noida_pids(stack.noida_dir))
            except Exception as exc:  # a size the stack cannot take is a figure too
                note = f"failed: {type(exc).__name__}: {exc}"
                print(f"  open: {size:,} {note}", flush=True)
                rows.append({"open_items": size, "skipped": note})
                break
            finally:
                stack.stop_noida()
        row = {
            "items": size,
            "noida_rss_mb": round(noida_mb, 1),
            "open_items": size,
            "sla_rss_mb": r["rss_mb_100k_open"],
            "sla_load_s": r["load_s"],
            "p99_lateness_s": r["p99_lateness_s"],
            "recovery_s": r["recovery_s"],
            "rss_mb_after_recovery": r["rss_mb_after_recovery"],
        }
        rows.append(row)
        print(f"  {json.dumps(row)}", flush=True)
    return rows


def _log_axes(ax: Any, xlabel: str, ylabel: str, title: str) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=8)


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4))
    ix = [r for r in result["indexed"] if "skipped" not in r]
    n = [r["items"] for r in ix]
    for key, label in (
        ("inbox_es", "inbox search + clocks"),
        ("item_es", "item page reads"),
        ("bulk_1000_updates", "bulk of 1,000 updates"),
    ):
        a.plot(n, [r[key]["p50_ms"] / 1000 for r in ix], marker="o", label=f"{label} (p50)")
    a.plot(
        n,
        [r["author_context_mget_500_ms"] / 1000 for r in ix],
        marker="o",
        label="author context, 500 authors",
    )
    _log_axes(a, "items indexed", "seconds", "noida-db request time by index size")
    b.plot(n, [r["noida_rss_mb"] for r in ix], marker="o", label="noida-db (items indexed)")
    op = [r for r in result.get("open", []) if "skipped" not in r]
    if op:
        b.plot(
            [r["open_items"] for r in op],
            [r["sla_rss_mb"] for r in op],
            marker="s",
            label="sla service (items open)",
        )
    _log_axes(b, "items", "resident memory, MB", "memory by items indexed / open")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def run(
    sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000),
    open_sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000),
    samples: int = 5,
) -> dict[str, Any]:
    started = time.perf_counter()
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "indexed": indexed(sizes, samples),
        "open": open_items(open_sizes),
    }
    result["wall_s"] = round(time.perf_counter() - started)
    plot(result, ROOT / "docs" / "bench" / "scaling.png")
    return result


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    sizes = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    print(json.dumps(run(sizes, sizes, samples=3 if quick else 5), indent=2))
