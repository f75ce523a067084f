"""P1 from ingest to a signed-in operator's screen (issue 19's floor: p99 <= 2 s at 10
mentions/s of background load on the local stack).

`.venv/bin/python bench/p1_screen_bench.py [--samples 60] [--rate 10]`: a private
noida-db and every service; a steady load of ordinary mentions through ingest
(drills.Load); Merseyside's operator signed in to the inbox in Chromium (Playwright,
Debian's chromium), on the Unassigned view. Each sample posts a P1 to ingest's generic
API and times, from just before the POST to the moment the item's row is in the inbox
page's DOM (the live stream's event, the page's refresh of /api/items and its render),
then claims it through the console's API (as the operator would, so it leaves the view)
and waits a second.
Writes the `p1_screen` section of bench/results.json and redraws docs/benchmarks.md."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from benchstack import private_stack
from drills import Load, _machine_note, machine, write_section

from socialdesk.events import item_key_for_thread
from socialdesk.kafka import ensure_topics
from socialdesk.topics import load_topic_specs
from socialdesk_tools.stack import SERVICES, kill_tree

CHROMIUM = "/usr/bin/chromium"
FLOOR_P99_MS = 2000
# Ordinary traffic only: drills' texts include a P1, and unclaimed background P1s pile up
# above the sample (the inbox lists a grade oldest first: SLA order), which measures
# the pile, not the path.
BACKGROUND = [
    "someone smashed my car window on Lark Lane last night, any chance of a ref",
    "worried about my neighbour, haven't seen her for 3 days and post piling up",
    "lads on off-road bikes tearing round the park again",
    "thanks to the officers who helped my nan today",
    "tree down across the road on Queens Drive, cars swerving round it",
]


class Background(Load):
    def mention(self, n: int) -> dict[str, Any]:
        m = super().mention(n)
        m["text"] = BACKGROUND[n % len(BACKGROUND)] + f" (bg {n})"
        return m


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


def p1(run: str, n: int) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "id": f"x:{run}p{n}",
        "platform": "x",
        "native_id": f"{run}p{n}",
        "channel": "public_mention",
        "author": {"id": f"{run}a{n}", "handle": f"p1author{n}"},
        "text": f"a man is stabbing people outside the shop on Lord St right now #{n}",
        "posted_at": now,
        "received_at": now,
        "force_account": {"platform": "x", "handle": "MerseyPolice"},
    }


def console_client(console: str) -> httpx.Client:
    """Merseyside's operator, signed in to the console's API (for the claims)."""
    client = httpx.Client(base_url=console.rstrip("/"), timeout=30)
    page = client.get("/login")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    r = client.post(
        "/login", data={"username": "op.merseyside", "password": "demo-password", "csrf": csrf}
    )
    assert r.status_code == 303, r.text
    client.headers["X-CSRF-Token"] = client.get("/api/me").json()["csrf"]
    return client


def measure(samples: int, rate: float, warmup_s: float) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    own = private_stack("p1-screen", "ps")
    stack, prefix = own.stack, own.prefix
    ensure_topics(own.settings, load_topic_specs().values())
    env = {
        "SOCIALDESK_TOPIC_PREFIX": prefix + ".",
        "SOCIALDESK_INDEX_PREFIX": prefix,
        "SOCIALDESK_REPLY_RECORDER_PATH": str(own.root / "replies.jsonl"),
        "SOCIALDESK_LOG_LEVEL": "WARNING",
    }
    procs = {}
    load = Background(stack.ingest_url() + "/v1/mentions", rate, f"bg{int(time.time())}")
    run = f"r{int(time.time())}"
    ms: list[float] = []
    missed: list[int] = []
    stuck: list[str] = []
    try:
        for svc in SERVICES:
            procs[svc] = stack.spawn(svc, extra_env=env)
        for svc in SERVICES:
            stack.wait_ready(svc, 180)
        load.start()
        time.sleep(warmup_s)
        ingest = httpx.Client(
            base_url=stack.ingest_url(), timeout=10, headers={"X-Api-Key": "dev-only-change-me"}
        )
        with sync_playwright() as pw:
            browser = pw.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
            )
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(stack.console_url() + "login")
            page.fill("input[name=username]", "op.merseyside")
            page.fill("input[name=password]", "demo-password")
            page.click("button[type=submit]")
            page.wait_for_url("**/inbox")
            # the Unassigned view: each P1 is claimed once seen, as an operator would, so
            # the next one is never below a page of older P1s
            page.goto(stack.console_url() + "inbox?view=unassigned")
            page.wait_for_selector("#live:has-text('live')", timeout=15_000)
            api = console_client(stack.console_url())
            for n in range(samples):
                iid = item_key_for_thread(f"x:thread:{run}p{n}")
                started = time.perf_counter()
                r = ingest.post("/v1/mentions", json=p1(run, n))
                assert r.status_code == 200, r.text
                try:
                    page.wait_for_selector(f"a[href='/items/{iid}']", timeout=15_000)
                    ms.append((time.perf_counter() - started) * 1000)
                except Exception:
                    missed.append(n)
                    # where it was stuck: not yet written to the index (the pipeline
                    # behind), or written (a get by id is real-time) but not yet in the
                    # view's search results or not yet rendered
                    got = api.get(f"/api/items/{iid}")
                    stuck.append("written" if got.status_code == 200 else "not_written")
                api.post(f"/api/items/{iid}/commands", json={"type": "claim"})
                time.sleep(1.0)
            browser.close()
            api.close()
        ingest.close()
    finally:
        load.finish()
        for proc in procs.values():
            kill_tree(proc)
        stack.stop_noida()
    return {
        "samples": samples,
        "seen": len(ms),
        "missed_15s": missed,  # sample numbers not on screen within 15 s
        "missed_because": {w: stuck.count(w) for w in ("not_written", "written")},
        "p50_ms": round(pct(ms, 0.5)) if ms else None,
        "p90_ms": round(pct(ms, 0.9)) if ms else None,
        "p99_ms": round(pct(ms, 0.99)) if ms else None,
        "max_ms": round(max(ms)) if ms else None,
        "background_rate_per_s": rate,
        "background_accepted": len(load.accepted),
        "background_p1": 0,  # none of BACKGROUND grades P1
        "floor_p99_ms": FLOOR_P99_MS,
        "meets_floor": bool(ms) and not missed and pct(ms, 0.99) <= FLOOR_P99_MS,
    }


def markdown(r: dict[str, Any]) -> str:
    """The p1_screen section of docs/benchmarks.md."""
    verdict = "meets" if r.get("meets_floor") else "does NOT meet"
    return f"""## P1 to the operator's screen

`.venv/bin/python bench/p1_screen_bench.py --samples {r["samples"]} --rate \
{r["background_rate_per_s"]:g}`: a P1 posted to ingest's generic API, timed until its row is
in a signed-in operator's inbox (Unassigned view) in Chromium (the live stream's event, the
page's refresh of /api/items, its render), then claimed; not on screen within 15 s:
{len(r["missed_15s"])} (then not yet written to the index: {r["missed_because"]["not_written"]};
written, as a get by id showed, but not yet in the view's search or not rendered: \
{r["missed_because"]["written"]}). Ordinary mentions arrive meanwhile at \
{r["background_rate_per_s"]:g}/s ({r["background_accepted"]:,} accepted during the run).

| samples | seen | p50 | p90 | p99 | max | floor (p99) |
|---|---|---|---|---|---|---|
| {r["samples"]} | {r["seen"]} | {r["p50_ms"]} ms | {r["p90_ms"]} ms | {r["p99_ms"]} ms | \
{r["max_ms"]} ms | {r["floor_p99_ms"]} ms: {verdict} it |

The floor counts a P1 not on screen within 15 s as a miss, so one miss fails it whatever
the percentiles. {_machine_note(r)}
"""


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--samples", type=int, default=60)
    ap.add_argument("--rate", type=float, default=10.0)
    ap.add_argument("--warmup", type=float, default=20.0, help="seconds of load first")
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--note", default="", help="what else the machine was doing")
    args = ap.parse_args()
    started = machine()
    t0 = time.perf_counter()
    r = measure(args.samples, args.rate, args.warmup)
    r["seconds"] = round(time.perf_counter() - t0)
    r["note"] = args.note
    print(json.dumps(r, indent=2))
    if not args.no_write:
        write_section("p1_screen", r, started)
    return 0 if r["meets_floor"] else 1


if __name__ == "__main__":
    sys.exit(main())
