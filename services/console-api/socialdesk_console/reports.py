"""Reports for any period (per force, team and channel) and the national common metrics:
reading and summing the cells, the scope rule and the CSV (routes: routers/reports.py,
charts: report_charts.py). The figures come from the report cells the metrics service keeps in the
`rollups` index (one document per force, local day and input partition), summed here by
socialdesk.cells.build_report: no percentiles or composite aggregation is needed, so
the same code runs on noida-db and on real Elasticsearch, and a 90-day report reads a
few thousand small documents whatever the number of items."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any

from fastapi import HTTPException

from socialdesk.cells import (
    INDEX_OF_KIND,
    LOCAL,
    SUB_KINDS,
    PeriodError,
    build_report,
    parse_period,
)
from socialdesk.es import alias
from socialdesk.subjects import SUBJECTS
from socialdesk.taxonomy import Channel, Priority
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.i18n import N_, _

PAGE = 5000  # cells per search: one search for a 90-day report of a force
SORT = [{"day": "asc"}, {"cell": "asc"}]


def today() -> date:
    return datetime.now(LOCAL).date()


def rollup_query(
    forces: list[str] | None,
    start: date,
    end: date,
    kinds: list[str],
    team: str | None = None,
    channel: str | None = None,
) -> dict[str, Any]:
    """The cells of some kinds in a period, of some forces or all (and, for sub-cells,
    one team or channel)."""
    clauses: list[dict[str, Any]] = [
        {"terms": {"kind": kinds}},
        {"range": {"day": {"gte": start.isoformat(), "lte": end.isoformat()}}},
    ]
    if forces is not None:
        clauses.append({"terms": {"force": forces}})
    clauses += [{"term": {k: v}} for k, v in (("team", team), ("channel", channel)) if v]
    return {"bool": {"filter": clauses}}


def targets_for(ctx: ConsoleContext, force: str | None) -> dict[str, dict[str, float | None]]:
    """Each grade's first-response and resolution targets in seconds: the national
    defaults, with the force's overrides."""
    out: dict[str, dict[str, float | None]] = {}
    fc = ctx.config.forces.get(force or "")
    for grade in Priority:
        row = ctx.config.national.sla.grades[grade]
        fr: float | None = row.first_response_minutes * 60.0
        res: float | None = row.resolution_minutes * 60.0 if row.resolution_minutes else None
        over = fc.sla_overrides.get(grade) if fc else None
        if over and over.first_response_minutes:
            fr = over.first_response_minutes * 60.0
        if over and over.resolution_minutes:
            res = over.resolution_minutes * 60.0
        out[grade.value] = {"first_response": fr, "resolution": res}
    return out


async def _paged(ctx: ConsoleContext, kind: str, query: dict[str, Any]) -> list[dict[str, Any]]:
    """Every matching cell, paged with search_after (sorted by day and cell id)."""
    out: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while True:
        kwargs: dict[str, Any] = {
            "index": alias(ctx.settings, INDEX_OF_KIND[kind]),
            "query": query,
            "sort": SORT,
            "size": PAGE,
            "source_includes": ["kind", "force", "day", "counts"],
            "track_total_hits": False,
        }
        if after is not None:
            kwargs["search_after"] = after
        resp = await ctx.search(**kwargs)
        hits = resp["hits"]["hits"]
        out.extend(h["_source"] for h in hits)
        if len(hits) < PAGE or not hits[-1].get("sort"):
            return out
        after = hits[-1]["sort"]


async def fetch_cells(
    ctx: ConsoleContext,
    forces: list[str] | None,
    start: date,
    end: date,
    team: str | None = None,
    channel: str | None = None,
) -> list[dict[str, Any]]:
    """The cells a report of the period sums: the totals of items and of outbound posts;
    for one team or channel, the matching sub-cells of items instead of their totals
    (posts belong to the whole force)."""
    if not team and not channel:
        return await _paged(ctx, "items", rollup_query(forces, start, end, ["items", "posts"]))
    kind = SUB_KINDS["team_channel" if team and channel else "team" if team else "channel"]
    items, posts = await asyncio.gather(
        _paged(ctx, kind, rollup_query(forces, start, end, [kind], team, channel)),
        _paged(ctx, "posts", rollup_query(forces, start, end, ["posts"])),
    )
    return items + posts


def _day(doc: Mapping[str, Any]) -> str:
    return str(doc.get("day", ""))[:10]


def report_from_cells(
    cells: Iterable[Mapping[str, Any]],
    start: date,
    end: date,
    targets: Mapping[str, Mapping[str, float | None]],
) -> dict[str, Any]:
    """The report of whatever cells were read: item totals or sub-cells, and posts."""
    items: list[dict[str, Any]] = []
    posts: list[dict[str, Any]] = []
    for doc in cells:
        entry = {"day": _day(doc), "counts": doc.get("counts") or {}}
        (posts if doc.get("kind") == "posts" else items).append(entry)
    return build_report(items, posts, start, end, targets)


class Scope:
    """Whose data a request may read: a force user their own force only; a national
    viewer any force, or all forces together."""

    def __init__(self, ctx: ConsoleContext, user: User, force: str | None) -> None:
        if not user.national:
            if force and force != user.force:
                raise HTTPException(
                    403, "another force's figures need the national viewer role; nothing was sent"
                )
            force = user.force
        if force is not None and force not in ctx.config.forces:
            raise HTTPException(400, f"unknown force {force!r}")
        self.force = force

    @property
    def forces(self) -> list[str] | None:
        return [self.force] if self.force else None


def check_filters(
    ctx: ConsoleContext, force: str | None, team: str | None, channel: str | None
) -> None:
    if channel and channel not in {c.value for c in Channel}:
        raise HTTPException(
            400, f"unknown channel {channel!r}; one of {[c.value for c in Channel]}"
        )
    if team:
        teams = (
            {t.id for t in ctx.config.forces[force].teams}
            if force
            else {t.id for fc in ctx.config.forces.values() for t in fc.teams}
        )
        if team not in teams:
            raise HTTPException(400, f"unknown team {team!r}")


# parse_period's reasons (core, in English) as a page shows them, in its language.
PERIOD_MESSAGES = (
    (r"dates must be YYYY-MM-DD: (?P<why>.*)", N_("dates must be YYYY-MM-DD: %(why)s")),
    (
        r"the period starts \((?P<start>[^)]*)\) after it ends \((?P<end>[^)]*)\)",
        N_("the period starts (%(start)s) after it ends (%(end)s)"),
    ),
    (
        r"a report covers at most (?P<days>\d+) days; ask for a shorter period",
        N_("a report covers at most %(days)s days; ask for a shorter period"),
    ),
    (
        r"the period must lie between the year 2000 and today",
        N_("the period must lie between the year 2000 and today"),
    ),
)


def period_message(exc: PeriodError) -> str:
    text = str(exc)
    for pattern, msgid in PERIOD_MESSAGES:
        if m := re.fullmatch(pattern, text):
            return _(msgid) % m.groupdict()
    return text


def period_or_400(start: str | None, end: str | None) -> tuple[date, date]:
    try:
        return parse_period(start, end, today())
    except PeriodError as exc:
        raise HTTPException(400, _("bad period: %(why)s") % {"why": period_message(exc)}) from None


# ---- CSV ----------------------------------------------------------------------------


def report_rows(report: Mapping[str, Any]) -> list[tuple[str, str, str, Any]]:
    """The report flattened to (section, key, measure, value) rows, one CSV for every
    figure in the page."""
    rows: list[tuple[str, str, str, Any]] = []
    p = report["period"]
    rows += [("period", "", "start", p["start"]), ("period", "", "end", p["end"])]
    rows.append(("items", "", "count", report["items"]))
    vol = report["volume"]
    rows += [("volume_by_day", d["day"], "items", d["items"]) for d in vol["by_day"]]
    rows += [("volume_by_day", d["day"], "force_posts", d["posts"]) for d in vol["by_day"]]
    rows += [("volume_by_hour", f"{h['hour']:02d}", "items", h["items"]) for h in vol["by_hour"]]
    for part in ("by_team", "by_channel", "by_platform"):
        rows += [(f"volume_{part}", k, "items", v) for k, v in vol[part].items()]
    for grade, r in report["response_times"].items():
        for clock in ("first_response", "resolution"):
            for m in ("count", "median_s", "p90_s", "target_s", "within_target"):
                rows.append((f"{clock}_time", grade, m, r[clock][m]))
    for grade, r in report["sla_compliance"].items():
        for clock in ("first_response", "resolution"):
            for m in ("met", "breached", "compliance_pct"):
                rows.append((f"sla_{clock}", grade, m, r[clock][m]))
    rows += [("intent", k, "items", v) for k, v in report["intents"].items()]
    rows += [("flag", k, "items", v) for k, v in report["flags"].items()]
    rows += [("outcome", k, "items", v) for k, v in report["outcomes"].items()]
    for lang, r in report["languages"].items():
        rows.append(("language", lang, "items", r["items"]))
        for m in ("median_s", "p90_s"):
            rows.append(("language", lang, f"first_response_{m}", r["first_response"][m]))
            rows.append(("language", lang, f"resolution_{m}", r["resolution"][m]))
        rows.append(
            ("language", lang, "first_response_sla_pct", r["first_response_sla"]["compliance_pct"])
        )
    rows.append(("repeat_contacts", "", "items", report["repeat_contacts"]["items"]))
    rows.append(("repeat_contacts", "", "pct", report["repeat_contacts"]["pct"]))
    lis = report["listening"]
    rows += [("listening_public", s, "items", lis["public"][s]) for s in SUBJECTS]
    rows += [("listening_force_posts", s, "posts", lis["force_posts"][s]) for s in SUBJECTS]
    rows.append(("listening", "", "gap_score", lis["gap_score"]))
    return rows


def csv_text(header: list[str], rows: Iterable[Iterable[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    return buf.getvalue()


def report_filename(rep: Mapping[str, Any], scope: Scope, ext: str) -> str:
    p = rep["period"]
    return f"socialdesk-report-{scope.force or 'all'}-{p['start']}-{p['end']}.{ext}"
