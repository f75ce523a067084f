"""`make bench` (and `make bench-quick`): every benchmark the issues name, on the local
stack, each beside a baseline measured in the same run. Writes bench/results.json,
docs/benchmarks.md and the plots in docs/bench/. Figures are printed, never asserted."""

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
from typing import Any

from socialdesk_tools.stack import Stack, StackPorts

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import capacity_plot  # noqa: E402
import console_bench  # noqa: E402
import drills  # noqa: E402
import e2e_bench  # noqa: E402
import ingest_bench  # noqa: E402
import reports_bench  # noqa: E402
import scaling_bench  # noqa: E402
import service_cost  # noqa: E402
import triage_bench  # noqa: E402
import writes_bench  # noqa: E402
from assign_bench import run as assign_run  # noqa: E402
from report import write_markdown  # noqa: E402
from sla_bench import run as sla_run  # noqa: E402

FULL: dict[str, Any] = {
    "ceiling": 20_000,
    "target_rate": 1000,
    "target_s": 300,
    "steady_rate": 400,
    "steady_s": 300,
    "scaling_rate": 900,
    "scaling_s": 60,
    "commands": 20_000,
    "open_items": 100_000,
    "console_items": 100_000,
    "console_samples": 40,
    "console_p1": 30,
    "ingest_s": 15,
    "triage_service_s": 120,
    "report_items": 1_000_000,
    "report_runs": 20,
    "board_warnings": 200,
    "board_spread_s": 5.0,
    "scaling_sizes": (10_000, 100_000, 200_000, 1_000_000),
    "scaling_open": (10_000, 100_000, 1_000_000),
    "cost_mentions": 5_000,
    "cost_open_items": 100_000,
    "cost_runs": 3,
    "writes_mentions": 2_000,
}
QUICK: dict[str, Any] = {
    "ceiling": 5_000,
    "target_rate": 1000,
    "target_s": 20,
    "steady_rate": 400,
    "steady_s": 0,  # the sustained run is the full pass's (5 minutes); skipped here
    "scaling_rate": 900,
    "scaling_s": 10,
    "commands": 5_000,
    "open_items": 20_000,
    "console_items": 20_000,
    "console_samples": 10,
    "console_p1": 10,
    "ingest_s": 5,
    "triage_service_s": 30,
    "report_items": 1_000_000,
    "report_runs": 5,
    "board_warnings": 50,
    "board_spread_s": 2.5,
    "scaling_sizes": (10_000, 50_000),
    "scaling_open": (),  # the sla section measures 20,000 open items already
    "cost_mentions": 2_000,
    "cost_open_items": 100_000,  # the floor's figure; about a minute
    "cost_runs": 1,
    "writes_mentions": 1_000,
}


def machine() -> dict[str, Any]:
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) // 1024
    return {
        "cpus": os.cpu_count(),
        "memory_mb": mem,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "noida_db": version("noida-db"),
        "aiokafka": version("aiokafka"),
        "elasticsearch_py": version("elasticsearch"),
        "scikit_learn": version("scikit-learn"),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="short runs (under 10 minutes)")
    ap.add_argument(
        "--only",
        default="",
        help="comma list: e2e,triage,assign,sla,ingest,drills,console,reports,scaling,cost,writes",
    )
    args = ap.parse_args()
    p = QUICK if args.quick else FULL
    only = set(filter(None, args.only.split(",")))
    results: dict[str, Any] = {"machine": machine(), "mode": "quick" if args.quick else "full"}
    plots = ROOT / "docs" / "bench"
    started = time.perf_counter()

    def want(name: str) -> bool:
        return not only or name in only

    if want("cost"):  # no broker: each service's processor in process
        print("cost: CPU per 1,000 mentions by service; assign's memory ...", flush=True)
        results["capacity"] = {
            "service_cost": service_cost.run(
                p["cost_mentions"], p["cost_open_items"], p["cost_runs"]
            )
        }
        print(json.dumps(results["capacity"]), flush=True)
    if want("writes"):  # a stack of its own: what one mention writes, by index and topic
        print("writes: documents, bytes and records per mention ...", flush=True)
        n = p["writes_mentions"]
        results.setdefault("capacity", {})["writes"] = {
            "unsealed": writes_bench.run(n, 100, seal=False),
            "sealed": writes_bench.run(n, 100, seal=True),
        }
    with tempfile.TemporaryDirectory() as tmp:
        stack = Stack(Path(tmp), ports=StackPorts.free())
        print("starting noida-db ...", flush=True)
        stack.start_noida()
        try:
            if want("triage"):
                print("triage: scorer on one core, then the service at 1,000/s ...", flush=True)
                results["triage"] = triage_bench.run(
                    stack, f"tri{int(time.time())}.", p["triage_service_s"]
                )
            if want("e2e"):
                print("e2e: raw ceiling (pass-through hops + bulk indexing) ...", flush=True)
                ceiling = e2e_bench.raw_ceiling(stack, f"ceil{int(time.time())}.", p["ceiling"])
                print(json.dumps(ceiling), flush=True)
                runs = {}
                for name, rate, secs, workers in [
                    ("target", p["target_rate"], p["target_s"], 1),
                    ("steady", p["steady_rate"], p["steady_s"], 1),
                    ("scaling_1_worker", p["scaling_rate"], p["scaling_s"], 1),
                    ("scaling_2_workers", p["scaling_rate"], p["scaling_s"], 2),
                ]:
                    if not secs:
                        continue
                    print(f"e2e {name}: {rate}/s for {secs} s, {workers} worker(s)", flush=True)
                    prefix = f"{name[:6]}{int(time.time())}."
                    # A fresh noida-db per run: its cost per request grows with what it
                    # already holds, and each run should start from the same place.
                    with tempfile.TemporaryDirectory() as run_tmp:
                        fresh = Stack(Path(run_tmp), ports=StackPorts.free())
                        fresh.start_noida()
                        try:
                            r = e2e_bench.sustained(fresh, prefix, rate, secs, workers)
                        finally:
                            fresh.stop_noida()
                    e2e_bench.plot(r, plots / f"e2e-{name}.png", f"{name}: {rate}/s offered")
                    runs[name] = e2e_bench.public(r)
                    print(json.dumps(runs[name]), flush=True)
                t = runs["target"]
                results["e2e"] = {
                    "throughput_per_s": t["throughput_per_s"],
                    "raw_ceiling_per_s": ceiling["raw_ceiling_per_s"],
                    "ratio_to_raw_ceiling": round(
                        t["throughput_per_s"] / ceiling["raw_ceiling_per_s"], 3
                    ),
                    "p50_ingest_to_searchable_s": t["p50_ingest_to_searchable_s"],
                    "p99_ingest_to_searchable_s": t["p99_ingest_to_searchable_s"],
                    "runs": runs,
                }
            if want("assign"):
                print(
                    "assign: commands through the aggregate, then latency at 500/s ...", flush=True
                )
                results["assign"] = asyncio.run(
                    assign_run(
                        stack, f"assign{int(time.time())}.", items=1000, commands=p["commands"]
                    )
                )
                print(json.dumps(results["assign"]), flush=True)
            if want("sla"):
                print(f"sla: {p['open_items']} open items ...", flush=True)
                results["sla"] = asyncio.run(
                    sla_run(stack, f"sla{int(time.time())}.", items=p["open_items"])
                )
                print(json.dumps(results["sla"]), flush=True)
            if want("ingest"):
                print("ingest: verified webhook deliveries into Kafka ...", flush=True)
                results["ingest"] = ingest_bench.run(
                    stack=None, seconds=p["ingest_s"], workers=(1, 2)
                )
            if want("drills"):
                print("drills: faults under load ...", flush=True)
                with tempfile.TemporaryDirectory() as drill_tmp:
                    dstack = Stack(Path(drill_tmp), ports=StackPorts.free())
                    dstack.start_noida()
                    try:
                        results["drills"] = drills.run(
                            dstack, f"drill{int(time.time())}.", short=args.quick
                        )
                    finally:
                        dstack.stop_noida()
            if want("console"):
                print(f"console: {p['console_items']} items indexed, pages and SSE ...", flush=True)
                results["console"] = console_bench.run(
                    items=p["console_items"],
                    samples=p["console_samples"],
                    p1_samples=p["console_p1"],
                )
            if want("reports"):
                items = p["report_items"]
                print(f"reports: cells of {items:,} items, 90-day report, SLA board", flush=True)
                results["reports"] = reports_bench.run(
                    items=items,
                    days=90,
                    runs=p["report_runs"],
                    warnings=p["board_warnings"],
                    spread_s=p["board_spread_s"],
                )
            if want("scaling"):
                sizes = p["scaling_sizes"]
                print(f"scaling: {', '.join(f'{n:,}' for n in sizes)} items", flush=True)
                results["scaling"] = scaling_bench.run(
                    sizes, p["scaling_open"], 3 if args.quick else 5
                )
        finally:
            stack.stop_noida()
    results["wall_s"] = round(time.perf_counter() - started)
    out = ROOT / "bench" / "results.json"  # "mode" says whether it was the quick run
    if only:
        previous = json.loads(out.read_text()) if out.exists() else {}
        if previous:
            # The header (machine, mode, whole-run time) stays the full pass's; the
            # sections of this pass carry their own beside their figures.
            this_pass = {k: results.pop(k) for k in ("machine", "mode", "wall_s")}
            for key in only & results.keys():
                if isinstance(results[key], dict):
                    results[key]["pass"] = this_pass
            for key in ("cost", "writes"):
                section = "service_cost" if key == "cost" else key
                if key in only and section in results.get("capacity", {}):
                    results["capacity"][section]["pass"] = this_pass
        if "capacity" in results:  # other capacity figures stay as they were
            results["capacity"] = previous.get("capacity", {}) | results["capacity"]
        results = previous | results
    out.write_text(json.dumps(results, indent=2) + "\n")
    capacity_plot.plot(results.get("capacity", {}), plots / "capacity.png")
    write_markdown(results, ROOT / "docs" / "benchmarks.md")
    print(f"wrote {out} and docs/benchmarks.md in {round(time.perf_counter() - started)} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
