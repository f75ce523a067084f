"""The chaos soak's fault plan (bench/soak.py): the same seed gives the same plan, and a
30-minute plan meets the issue's floors by construction (every service killed at least
twice, every other fault at least once, at least 15 faults), with each gap in range."""

from __future__ import annotations

import itertools
import random
import sys
from collections import Counter
from pathlib import Path

from socialdesk_tools.stack import SERVICES

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import soak


def test_the_same_seed_gives_the_same_plan_and_another_seed_another() -> None:
    a = soak.fault_plan(random.Random("27:faults"), 1800, (60, 120))
    assert a == soak.fault_plan(random.Random("27:faults"), 1800, (60, 120))
    assert a != soak.fault_plan(random.Random("28:faults"), 1800, (60, 120))


def test_a_30_minute_plan_meets_the_floors_for_many_seeds() -> None:
    for seed in range(50):
        plan = soak.fault_plan(random.Random(f"{seed}:faults"), 1800, (60, 120))
        kinds = Counter(f["fault"] for f in plan)
        assert len(plan) >= 15, seed
        assert all(kinds[f"kill -9 {s}"] >= 2 for s in SERVICES), (seed, kinds)
        assert all(kinds[k] >= 1 for k in soak.OTHER_FAULTS), (seed, kinds)
        starts = [f["at_s"] for f in plan]
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert all(59.9 <= g <= 120.1 for g in gaps), seed
        assert starts[-1] < 1800


def test_a_short_run_gets_a_random_few_of_the_faults() -> None:
    plan = soak.fault_plan(random.Random("5:faults"), 180, (15, 30))
    assert 3 <= len(plan) <= 11
    assert all(f["at_s"] < 150 for f in plan)
