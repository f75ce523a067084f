"""The short fault drills (bench/drills.py; `make drills` runs the long form): under a
steady load, kill -9 every service in turn, restart the broker, stop Elasticsearch,
send poison messages and fill the dead-letter topic; nothing accepted is lost or
duplicated, no item has two owners, and SLA clocks are right, counted over every item
and clock of the run (socialdesk.readback reads them whole, not one search page)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest

from socialdesk_tools.stack import Stack, StackPorts

from .conftest import BACKEND

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
import drills  # noqa: E402


@pytest.mark.timeout(1500)
def test_short_fault_drills_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    if BACKEND == "containers":
        pytest.fail("the drills stop and start noida-db's services; run them locally")
    stack = Stack(tmp_path, ports=StackPorts.free())  # its own broker: it gets stopped
    stack.start_noida()
    try:
        out = drills.run(stack, f"drill{int(time.time())}.", short=True)
    finally:
        stack.stop_noida()
    print(json.dumps(out, indent=2))
    assert out["faults_survived"] == 11
    assert out["accepted"] > 100
    assert out["lost"] == 0, out
    assert out["duplicated"] == 0, out
    assert out["items_read"] >= out["accepted"]
    assert out["items_with_two_owners"] == 0
    assert out["p1_p2_clocks_checked"] > 0 and out["clocks_wrong"] == 0
    assert out["clocks_missing"] == 0
    assert out["item_events_read"] > out["accepted"]
    assert out["items_behind_the_log"] == 0
    assert out["item_seqs_with_two_events"] == 0
    assert out["claims_from_another_owner"] == 0
    es_step = next(s for s in out["steps"] if s["drill"] == "Elasticsearch stopped")
    assert es_step["indexer_not_ready_while_down"] is True
    assert out["dead_letters"] >= 440  # every poison message, with its reason
    assert out["accepted_during_faults"] > 0
