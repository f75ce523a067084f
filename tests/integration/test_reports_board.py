"""Supervisor view and reports against the whole local stack (every service a
subprocess, the metrics service included): the live SLA board gets a warning from
sla.events over its stream, a supervisor reassigns from it, reports show the period's
figures as JSON, CSV and a page of charts, bad periods are refused, and another force's
figures need the national role."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from socialdesk.cells import LOCAL
from socialdesk.events import item_key_of
from socialdesk_tools.stack import wait_for
from tests.browser.stack import ConsolePlatform, console_platform, mention, sla_warning

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("reports"))) as p:
        yield p


@pytest.fixture(scope="module")
def items(platform: ConsolePlatform) -> dict[str, dict[str, Any]]:
    r = platform.post_mentions(
        [
            mention(
                "8001", "my car was broken into on Allerton Road overnight, how do I report it"
            ),
            mention(
                "8002",
                "Mae rhywun wedi dwyn fy meic o'r tu allan i'r siop, beth ddylwn i ei wneud?",
                author="gwen_cymru",
                language="cy",
            ),
            mention("8003", "worried about my neighbour, not seen her for 3 days", author="rpt"),
            mention("8004", "still worried about my neighbour, nobody has answered", author="rpt"),
            mention("8005", "there's a man with a knife outside the shop on Lord St right now"),
            mention("8101", "someone nicked my bike outside Brixton tube", handle="metpoliceuk"),
        ]
    )
    assert r.status_code == 200, r.text
    return {n: platform.wait_item(f"x:{n}") for n in ("8001", "8002", "8003", "8004", "8005")}


def today() -> str:
    return datetime.now(LOCAL).date().isoformat()


def report(client: httpx.Client, **params: str) -> dict[str, Any]:
    r = client.get("/api/reports", params=params)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


def test_roles_the_board_and_reports_refuse(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    op = platform.login("op.merseyside")
    for path in ("/board", "/api/board", "/reports", "/api/reports", "/reports/national"):
        r = op.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert "Allerton Road" not in r.text
    sup = platform.login("sup.merseyside")
    for path in ("/reports/national", "/api/reports/national", "/api/reports/national.csv"):
        r = sup.get(path)
        assert r.status_code == 403, (path, r.status_code)
        assert "national viewer role" in r.text
    # Another force's figures, as JSON, CSV or page: refused without the national role.
    for path in ("/api/reports", "/api/reports/export.csv", "/reports"):
        r = sup.get(path, params={"force": "metropolitan"})
        assert r.status_code == 403, (path, r.status_code)
        assert "national viewer role" in r.text


def test_report_counts_the_contact_and_exports_it(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    op = platform.login("op.merseyside")
    target = items["8001"]
    # An operator answers one item and resolves it: a first response and an outcome.
    for body in (
        {"type": "claim", "payload": {}},
        {"type": "reply", "payload": {"text": "Sorry to hear that: report it at our website."}},
        {"type": "resolve", "payload": {"outcome": "signposted"}},
    ):
        r = op.post(f"/api/items/{target['id']}/commands", json=body)
        assert r.status_code == 200, r.text
    now = datetime.now(UTC)
    platform.produce(
        "posts.outbound",
        "x:9001",
        {
            "id": "x:9001",
            "platform": "x",
            "native_id": "9001",
            "kind": "post",
            "force_account": {"platform": "x", "handle": "MerseyPolice"},
            "text": "Join us: we are recruiting police officers and PCSOs across Merseyside",
            "posted_at": now.isoformat(),
            "received_at": now.isoformat(),
        },
    )
    sup = platform.login("sup.merseyside")
    seen: dict[str, Any] = {}

    def counted() -> bool:
        seen.update(report(sup))
        return (
            seen["items"] >= 5
            and seen["outcomes"]["signposted"] >= 1
            and seen["listening"]["posts"] >= 1
            and seen["first_response_all"]["count"] >= 1
        )

    wait_for(counted, 60, "the report to count the items, the reply and the post")
    day = next(d for d in seen["volume"]["by_day"] if d["day"] == today())
    assert day["items"] == seen["items"] and day["posts"] >= 1
    assert seen["languages"]["cy"]["items"] >= 1
    assert seen["repeat_contacts"]["items"] >= 1  # the second message about the neighbour
    assert seen["listening"]["force_posts"]["recruitment"] >= 1
    assert seen["listening"]["gap_score"] is not None
    assert seen["first_response_all"]["median_s"] is not None
    assert seen["scope"]["force"] == "merseyside"
    # Only Merseyside's items: the Met mention is not counted.
    assert seen["volume"]["by_team"] and sum(seen["volume"]["by_team"].values()) == seen["items"]
    # A team filter narrows the figures; a channel nobody used gives zero, not an error.
    dm = report(sup, channel="direct_message")
    assert dm["items"] == 0 and dm["listening"]["posts"] >= 1
    # CSV: the same figures, as a download.
    r = sup.get("/api/reports/export.csv")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.text)))
    total = next(row for row in rows if row["section"] == "items")
    assert int(total["value"]) >= 5
    assert any(row["section"] == "listening" and row["measure"] == "gap_score" for row in rows)
    r = sup.get("/api/reports", params={"download": "true"})
    assert "attachment" in r.headers["content-disposition"] and r.json()["items"] >= 5
    # The page: charts with text alternatives, and the tables.
    page = sup.get("/reports")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart" role="img"') >= 10
    assert "<title id=" in page.text and "Listening gap" in page.text
    # Response times are clock time; the page says P3/P4 targets count business hours.
    assert "Within target (clock time)" in page.text and "business hours only" in page.text
    # Every consultation and export is in the audit trail.
    admin = platform.login("admin.merseyside")

    def audited() -> bool:
        r = admin.get("/api/audit", params={"target_type": "report"})
        actions = {rec["action"] for rec in r.json()["records"]}
        return {"report.viewed", "report.exported"} <= actions

    wait_for(audited, 30, "report views and exports in the audit trail")


def test_bad_and_empty_periods(platform: ConsolePlatform, items: dict[str, Any]) -> None:
    sup = platform.login("sup.merseyside")
    for params, words in (
        ({"start": "2026-03-10", "end": "2026-03-01"}, "starts"),
        ({"start": "1900-01-01", "end": "1900-01-02"}, "2000"),
        ({"start": "2001-01-01", "end": "2025-01-01"}, "at most"),
        ({"start": "yesterday"}, "YYYY-MM-DD"),
    ):
        r = sup.get("/api/reports", params=params)
        assert r.status_code == 400, (params, r.text)
        assert words in r.json()["error"], (params, r.text)
    page = sup.get("/reports", params={"start": "2026-03-10", "end": "2026-03-01"})
    assert page.status_code == 400 and "starts" in page.text and "<svg" in page.text
    empty = report(sup, start="2001-01-01", end="2001-01-07")
    assert empty["items"] == 0 and len(empty["volume"]["by_day"]) == 7
    assert empty["response_times"]["P1"]["first_response"]["median_s"] is None
    page = sup.get("/reports", params={"start": "2001-01-01", "end": "2001-01-07"})
    assert page.status_code == 200 and "No data for this period" in page.text
    assert "No contact was recorded" in page.text


def test_national_viewer_compares_every_force(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    nat = platform.login("national.viewer")

    def both_forces() -> bool:
        rows = {r["force"]: r for r in nat.get("/api/reports/national").json()["forces"]}
        return rows["merseyside"]["items"] >= 5 and rows["metropolitan"]["items"] >= 1

    wait_for(both_forces, 60, "both forces in the national table")
    data = nat.get("/api/reports/national").json()
    assert len(data["forces"]) >= 40 and data["columns"][0] == "force"
    r = nat.get("/api/reports/national.csv")
    assert r.status_code == 200 and r.text.splitlines()[0].startswith("force,items,posts")
    assert nat.get("/reports/national").status_code == 200
    # The national viewer reads any one force, too.
    met = report(nat, force="metropolitan")
    assert met["items"] >= 1 and met["scope"]["force"] == "metropolitan"


class Stream:
    """Reads a server-sent event stream in a thread, noting when each event arrived."""

    def __init__(self, client: httpx.Client, path: str) -> None:
        self.events: list[tuple[float, str, dict[str, Any]]] = []
        self.opened = threading.Event()
        self.stop = False
        self.thread = threading.Thread(target=self._run, args=(client, path), daemon=True)
        self.thread.start()
        assert self.opened.wait(30), "stream never opened"

    def _run(self, client: httpx.Client, path: str) -> None:
        with client.stream("GET", path, timeout=None) as r:
            assert r.status_code == 200
            self.opened.set()
            event = "message"
            for line in r.iter_lines():
                if self.stop:
                    return
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    self.events.append((time.monotonic(), event, json.loads(line[6:])))


def test_board_shows_a_warning_live_and_reassigns(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    op = platform.login("op.merseyside")  # signs in: online, so the board can give it work
    sup = platform.login("sup.merseyside")
    assert sup.get("/board").status_code == 200
    stream = Stream(platform.login("sup.merseyside"), "/api/board/stream")
    time.sleep(1.0)  # the feed reads from the end of sla.events: let it be there
    target = items["8003"]
    warning = sla_warning(target)
    sent = time.monotonic()
    platform.produce("sla.events", item_key_of(target["id"]), warning)
    wait_for(
        lambda: any(e == "sla" and d["item_id"] == target["id"] for _, e, d in stream.events),
        10,
        "the warning on the board's stream",
    )
    at = next(t for t, e, d in stream.events if e == "sla" and d["item_id"] == target["id"])
    print(f"warning reached the board stream {1000 * (at - sent):.0f} ms after it was produced")
    # Another force's warning never reaches this board.
    other = dict(warning, event_id=str(uuid.uuid4()), force="metropolitan", item_id="x:none")
    platform.produce("sla.events", item_key_of("x:none"), other)
    board: dict[str, Any] = {}

    def listed() -> bool:
        board.update(sup.get("/api/board").json())
        return any(r["item_id"] == target["id"] for r in board["at_risk"])

    wait_for(listed, 30, "the item at risk on the board")
    row = next(r for r in board["at_risk"] if r["item_id"] == target["id"])
    assert row["state"] == "warning" and 0 < row["time_left_s"] <= 900
    assert any(a["item_id"] == target["id"] for a in board["alerts"])
    assert all(d.get("force") in (None, "merseyside") for _, e, d in stream.events if e == "sla")
    team = next(m for m in board["matrix"] if m["team"] == target["team"])
    assert team["grades"][target["priority"]]["at_risk"] >= 1
    assert any(
        p["operator"] == "op.merseyside" and p["status"] == "online" for p in board["operators"]
    )
    # One-click reassign: the item goes to the operator, and the board says so.
    r = sup.post(
        f"/api/items/{target['id']}/commands",
        json={"type": "assign", "payload": {"operator": "op.merseyside"}},
    )
    assert r.status_code == 200, r.text
    wait_for(
        lambda: any(
            r["item_id"] == target["id"] and r["owner"] == "op.merseyside"
            for r in sup.get("/api/board").json()["at_risk"]
        ),
        30,
        "the new owner on the board",
    )
    assert any(e == "item" and d["item_id"] == target["id"] for _, e, d in stream.events)
    stream.stop = True
    op.close()
