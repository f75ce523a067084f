"""Reports and board logic without the stack: who may read which force's figures, the
CSV rows, the chart sections of an empty and a busy period, the board's rows (open
items only, answered first responses dropped, soonest first) and its team matrix."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import HTTPException

from socialdesk.cells import build_report
from socialdesk.config import load_config
from socialdesk_console.auth import User
from socialdesk_console.board import board_rows, matrix
from socialdesk_console.report_charts import chart_sections
from socialdesk_console.reports import (
    Scope,
    check_filters,
    report_from_cells,
    report_rows,
    rollup_query,
)

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "config")
TARGETS = {"P1": {"first_response": 900.0, "resolution": 14400.0}}


class Ctx:
    config = CONFIG


def user(role: str, force: str | None) -> User:
    return User(role, role, force, role, (), "csrf")


def test_a_force_user_reads_only_their_force_and_a_national_viewer_any() -> None:
    ctx: Any = Ctx()
    assert Scope(ctx, user("supervisor", "merseyside"), None).forces == ["merseyside"]
    assert Scope(ctx, user("supervisor", "merseyside"), "merseyside").force == "merseyside"
    with pytest.raises(HTTPException) as exc:
        Scope(ctx, user("force_admin", "merseyside"), "metropolitan")
    assert exc.value.status_code == 403 and "national viewer role" in str(exc.value.detail)
    assert Scope(ctx, user("national_viewer", None), None).forces is None
    assert Scope(ctx, user("national_viewer", None), "metropolitan").forces == ["metropolitan"]
    with pytest.raises(HTTPException) as exc:
        Scope(ctx, user("national_viewer", None), "atlantis")
    assert exc.value.status_code == 400
    with pytest.raises(HTTPException) as exc:
        check_filters(ctx, "merseyside", "no-such-team", None)
    assert exc.value.status_code == 400 and "no-such-team" in str(exc.value.detail)
    with pytest.raises(HTTPException):
        check_filters(ctx, "merseyside", None, "carrier_pigeon")
    check_filters(ctx, "merseyside", "digital-desk", "direct_message")


def cell(day: str, counts: dict[str, int], kind: str = "items", **keys: str) -> dict[str, Any]:
    return {"kind": kind, "force": "merseyside", "day": day, "counts": counts, **keys}


def test_a_report_sums_the_cells_it_is_given() -> None:
    totals = [
        cell(
            "2026-11-02",
            {"n": 3, "p:P1": 1, "p:P1:fr_met": 1, "t:digital-desk": 2, "t:roads-policing": 1},
        ),
        cell("2026-11-03", {"n": 2, "t:digital-desk": 2}),
        cell("2026-11-03", {"n": 4, "s:recruitment": 4}, kind="posts"),
    ]
    rep = report_from_cells(totals, date(2026, 11, 1), date(2026, 11, 3), TARGETS)
    assert rep["items"] == 5
    assert [d["items"] for d in rep["volume"]["by_day"]] == [0, 3, 2]
    assert rep["volume"]["by_day"][2]["posts"] == 4
    assert rep["sla_compliance"]["P1"]["first_response"]["compliance_pct"] == 100.0
    # A team's report reads that team's sub-cells (kind items_team) and the force's posts.
    roads = [
        cell("2026-11-02", {"n": 1, "t:roads-policing": 1}, "items_team", team="roads-policing"),
        totals[2],
    ]
    one_team = report_from_cells(roads, date(2026, 11, 1), date(2026, 11, 3), TARGETS)
    assert one_team["items"] == 1 and one_team["listening"]["posts"] >= 0
    assert one_team["volume"]["by_day"][2]["posts"] == 4
    rows = report_rows(rep)
    assert ("items", "", "count", 5) in rows
    assert ("volume_by_day", "2026-11-02", "items", 3) in rows
    assert any(r[0] == "listening" and r[2] == "gap_score" for r in rows)


def test_the_queries_read_totals_or_one_teams_sub_cells() -> None:
    start, end = date(2026, 9, 1), date(2026, 11, 29)
    whole = rollup_query(["merseyside"], start, end, ["items", "posts"])
    assert {"terms": {"kind": ["items", "posts"]}} in whole["bool"]["filter"]
    team = rollup_query(["merseyside"], start, end, ["items_team"], "roads-policing", None)
    assert {"term": {"team": "roads-policing"}} in team["bool"]["filter"]
    assert not any("channel" in str(c) for c in team["bool"]["filter"])
    everyone = rollup_query(None, start, end, ["items", "posts"])
    assert not any("force" in str(c) for c in everyone["bool"]["filter"])


def test_an_empty_period_draws_every_chart_with_a_message() -> None:
    rep = build_report([], [], date(2001, 1, 1), date(2001, 1, 7), TARGETS)
    sections = chart_sections(rep)
    assert len(sections) >= 10
    for s in sections:
        assert "<svg" in s["chart"] and "<title" in s["chart"]
        assert "No data for this period" in s["chart"] or "No contact or posts" in s["chart"]
    listening = next(s for s in sections if s["id"] == "listening")
    assert listening["figure"] == "n/a" and "needs both" in listening["figure_note"]


def test_board_rows_keep_open_unanswered_items_soonest_first() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)

    def clock(item: str, name: str, state: str, minutes: float) -> dict[str, Any]:
        return {
            "item_id": item,
            "clock": name,
            "state": state,
            "deadline": (now + timedelta(minutes=minutes)).isoformat(),
        }

    clocks = [
        clock("a", "first_response", "warning", 10),
        clock("b", "first_response", "breached", -5),
        clock("c", "first_response", "warning", 3),  # answered: no longer at risk
        clock("d", "resolution", "warning", 1),  # resolved item: gone from the board
        clock("e", "resolution", "escalated", -60),
        clock("c", "resolution", "warning", 30),
    ]
    items = {
        "a": {"open": True, "priority": "P2", "team": "digital-desk", "messages": []},
        "b": {"open": True, "priority": "P1", "team": "digital-desk", "messages": []},
        "c": {
            "open": True,
            "priority": "P2",
            "team": "safeguarding",
            "messages": [{"direction": "outbound"}],
        },
        "d": {"open": False, "priority": "P3", "team": "digital-desk"},
        "e": {"open": True, "priority": "P3", "team": "roads-policing"},
    }
    rows = board_rows(clocks, items, now)
    assert [(r["item_id"], r["clock"]) for r in rows] == [
        ("e", "resolution"),
        ("b", "first_response"),
        ("a", "first_response"),
        ("c", "resolution"),
    ]
    assert [r["state"] for r in rows] == ["breached", "breached", "warning", "warning"]
    assert rows[2]["time_left_s"] == 600.0
    m = {
        row["team"]: row["grades"]
        for row in matrix(rows, ["digital-desk", "roads-policing", "safeguarding"])
    }
    assert m["digital-desk"]["P1"] == {"at_risk": 0, "breached": 1}
    assert m["digital-desk"]["P2"] == {"at_risk": 1, "breached": 0}
    assert m["roads-policing"]["P3"]["breached"] == 1
    assert m["safeguarding"]["P2"]["at_risk"] == 1
