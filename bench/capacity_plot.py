"""docs/bench/capacity.png from bench/results.json's `capacity`: each service's CPU per
1,000 mentions (sealed and not, beside the floor) and what one mention writes to each
Elasticsearch index and Kafka topic. `make bench` draws it; by hand:

    python bench/capacity_plot.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
FLOOR_CPU_S = 1.0  # issue 26: services together, CPU-s per 1,000 mentions


def plot(capacity: dict[str, Any], path: Path) -> bool:
    """Draw what `capacity` holds; False if it holds neither section."""
    cost, writes = capacity.get("service_cost"), capacity.get("writes")
    if cost is None and writes is None:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    if cost is not None:
        services = [*cost["unsealed"]["cpu_s_per_1000"], "together"]
        x = range(len(services))
        for shift, kind in ((-0.2, "unsealed"), (0.2, "sealed")):
            each = cost[kind]["cpu_s_per_1000"]
            total = cost[kind]["services_total_cpu_s_per_1000"]
            values = [each[s] if s in each else total for s in services]
            a.bar([i + shift for i in x], values, width=0.4, label=kind)
        a.axhline(FLOOR_CPU_S, color="black", linestyle="--", label="floor: all services together")
        a.set_xticks(
            list(x),
            [s if s != "together" else "together (no indexer)" for s in services],
            rotation=25,
            ha="right",
        )
        a.set_ylabel("CPU-s per 1,000 mentions")
        a.set_title("CPU per mention by service (bench/service_cost.py)")
        a.legend()
    if writes is not None:
        u = writes["unsealed"]
        names = [n for n, f in u["es_per_mention"].items() if f["bulk_bytes"] >= 1]
        es = [u["es_per_mention"][n]["bulk_bytes"] for n in names]
        topics = list(u["kafka_per_mention"])
        kafka = [u["kafka_per_mention"][t]["bytes"] for t in topics]
        labels = [f"es: {n}" for n in names] + [f"kafka: {t}" for t in topics]
        b.barh(labels, es + kafka, color=["tab:green"] * len(es) + ["tab:purple"] * len(kafka))
        b.set_xlabel("bytes written per mention (unsealed)")
        b.set_title("What one mention writes (bench/writes_bench.py)")
        b.invert_yaxis()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return True


def main() -> int:
    results = json.loads((ROOT / "bench" / "results.json").read_text())
    out = ROOT / "docs" / "bench" / "capacity.png"
    if not plot(results.get("capacity", {}), out):
        print("no capacity figures in bench/results.json: run bench/run.py --only cost,writes")
        return 1
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
