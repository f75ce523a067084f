"""Reports for any period (per force, team and channel) and the national common metrics:
HTTP only. The figures come from the report cells the metrics service keeps in the
`rollups` index (one document per force, local day and input partition), summed here by
socialdesk.rollup.build_report: no percentiles or composite aggregation is needed, so
the same code runs on noida-db and on real Elasticsearch, and a 90-day report reads a
few thousand small documents whatever the number of items."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup

from socialdesk.cells import (
    INDEX_OF_KIND,
    LOCAL,
    NATIONAL_COLUMNS,
    SUB_KINDS,
    PeriodError,
    build_report,
    national_row,
    parse_period,
)
from socialdesk.es import alias
from socialdesk.subjects import SUBJECTS
from socialdesk.taxonomy import Channel, Priority
from socialdesk_console.audit import audit_event
from socialdesk_console.auth import User
from socialdesk_console.board import duty_queue_snapshot
from socialdesk_console.charts import Series, bars, duration, hbars, pct
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import NationalPageUser, NationalUser, ReportPageUser, ReportUser

PAGE = 5000  # cells per search: one search for a 90-day report of a force
SORT = [{"day": "asc"}, {"cell": "asc"}]

Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD, local (UK) day")]
Name = Annotated[str | None, Query(max_length=60)]


@dataclass(frozen=True)
class ReportQuery:
    """The period and filters of a report, as every report route takes them."""

    start: str | None
    end: str | None
    force: str | None
    team: str | None
    channel: str | None


def report_query(
    start: Day = None, end: Day = None, force: Name = None, team: Name = None, channel: Name = None
) -> ReportQuery:
    return ReportQuery(start, end, force, team, channel)


ReportParams = Annotated[ReportQuery, Depends(report_query)]


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


def period_or_400(start: str | None, end: str | None) -> tuple[date, date]:
    try:
        return parse_period(start, end, today())
    except PeriodError as exc:
        raise HTTPException(400, f"bad period: {exc}") from None


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


def download(body: str, media: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# ---- charts -------------------------------------------------------------------------


def _minutes(v: float) -> str:
    return duration(v * 60)


def _share(v: float) -> str:
    """A share of a target: small ones keep a decimal, so 0.4% is not shown as 0%."""
    if v >= 10:
        return f"{v:.0f}%"
    return f"{v:.1f}%" if v >= 0.1 else "<0.1%"


def _label(s: str) -> str:
    return s.replace("_", " ")


def chart_sections(report: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Each section of the report page: a chart, and the same figures as a table (the
    text alternative, and what a screen reader reads)."""
    sections: list[dict[str, Any]] = []
    vol = report["volume"]
    days = vol["by_day"]
    every = max(1, len(days) // 15)
    sections.append(
        {
            "id": "volume-day",
            "title": "Volume by day",
            "chart": bars(
                "Items and force posts by day",
                [d["day"][5:] for d in days],
                [
                    Series("Items from the public", [d["items"] for d in days], "s1"),
                    Series("Force posts", [d["posts"] for d in days], "s2"),
                ],
                desc=f"{report['items']:,} items over {len(days)} days",
                label_every=every,
            ),
            "head": ["Day", "Items", "Force posts"],
            "rows": [[d["day"], d["items"], d["posts"]] for d in days],
        }
    )
    hours = vol["by_hour"]
    sections.append(
        {
            "id": "volume-hour",
            "title": "Volume by hour of the day",
            "chart": bars(
                "Items by hour of the day (UK time)",
                [f"{h['hour']:02d}" for h in hours],
                [Series("Items", [h["items"] for h in hours], "s1")],
                label_every=2,
            ),
            "head": ["Hour", "Items"],
            "rows": [[f"{h['hour']:02d}:00", h["items"]] for h in hours],
        }
    )
    grades = list(report["response_times"])
    for clock, title in (("first_response", "First response"), ("resolution", "Resolution")):
        rt = report["response_times"]

        def share(g: str, m: str, rt: Mapping[str, Any] = rt, clock: str = clock) -> float | None:
            v, target = rt[g][clock][m], rt[g][clock]["target_s"]
            return None if v is None or not target else round(100 * v / target, 1)

        sections.append(
            {
                "id": f"{clock}-times",
                "title": f"{title} times against targets",
                # The histograms are clock time; P3/P4 clocks run in business hours.
                "note": "Times are clock time, from the message's arrival. P3 and P4 "
                "targets count the team's business hours only, so for them "
                "'within target (clock time)' understates; SLA compliance below is "
                "the measure of record.",
                "chart": hbars(
                    f"{title} time by grade as a share of its target (100% = on target)",
                    grades,
                    [
                        Series("Median", [share(g, "median_s") for g in grades], "s1"),
                        Series("90th percentile", [share(g, "p90_s") for g in grades], "s2"),
                    ],
                    x_fmt=_share,
                    x_max=max(
                        [100.0]
                        + [v for g in grades for m in ("median_s", "p90_s") if (v := share(g, m))]
                    ),
                    desc="; ".join(
                        f"{g}: median {duration(rt[g][clock]['median_s'])}, "
                        f"90th percentile {duration(rt[g][clock]['p90_s'])}, "
                        f"target {duration(rt[g][clock]['target_s'])}"
                        for g in grades
                    ),
                ),
                "head": [
                    "Grade",
                    "Items timed",
                    "Median",
                    "90th percentile",
                    "Target",
                    "Within target (clock time)",
                ],
                "rows": [
                    [
                        g,
                        rt[g][clock]["count"],
                        duration(rt[g][clock]["median_s"]),
                        duration(rt[g][clock]["p90_s"]),
                        duration(rt[g][clock]["target_s"]),
                        rt[g][clock]["within_target"] if rt[g][clock]["target_s"] else "n/a",
                    ]
                    for g in grades
                ],
            }
        )
    sla = report["sla_compliance"]
    sections.append(
        {
            "id": "sla",
            "title": "SLA compliance by grade",
            "chart": hbars(
                "Share of clocks met by grade (per cent)",
                grades,
                [
                    Series(
                        "First response",
                        [sla[g]["first_response"]["compliance_pct"] for g in grades],
                        "s1",
                    ),
                    Series(
                        "Resolution", [sla[g]["resolution"]["compliance_pct"] for g in grades], "s2"
                    ),
                ],
                x_fmt=lambda v: f"{v:.0f}%",
                x_max=100,
            ),
            "head": [
                "Grade",
                "First response met",
                "breached",
                "%",
                "Resolution met",
                "breached",
                "%",
            ],
            "rows": [
                [
                    g,
                    sla[g]["first_response"]["met"],
                    sla[g]["first_response"]["breached"],
                    pct(sla[g]["first_response"]["compliance_pct"]),
                    sla[g]["resolution"]["met"],
                    sla[g]["resolution"]["breached"],
                    pct(sla[g]["resolution"]["compliance_pct"]),
                ]
                for g in grades
            ],
        }
    )
    for key, title in (
        ("intents", "Intent mix"),
        ("flags", "Risk flags"),
        ("outcomes", "Outcomes"),
    ):
        mix = report[key]
        labels = list(mix)
        sections.append(
            {
                "id": key,
                "title": title,
                "chart": hbars(
                    title,
                    [_label(k) for k in labels],
                    [Series("Items", [mix[k] for k in labels], "s1")],
                ),
                "head": [title.split()[0], "Items"],
                "rows": [[_label(k), mix[k]] for k in labels],
            }
        )
    langs = report["languages"]
    names = {"en": "English", "cy": "Welsh", "other": "Other"}
    sections.append(
        {
            "id": "welsh",
            "title": "Welsh-language contact beside English",
            "chart": hbars(
                "First response time by language: median and 90th percentile (minutes)",
                [names[k] for k in langs],
                [
                    Series(
                        "Median",
                        [_opt_min(langs[k]["first_response"]["median_s"]) for k in langs],
                        "s1",
                    ),
                    Series(
                        "90th percentile",
                        [_opt_min(langs[k]["first_response"]["p90_s"]) for k in langs],
                        "s2",
                    ),
                ],
                x_fmt=_minutes,
            ),
            "head": [
                "Language",
                "Items",
                "First response median",
                "90th pct",
                "Resolution median",
                "First response SLA met",
            ],
            "rows": [
                [
                    names[k],
                    langs[k]["items"],
                    duration(langs[k]["first_response"]["median_s"]),
                    duration(langs[k]["first_response"]["p90_s"]),
                    duration(langs[k]["resolution"]["median_s"]),
                    pct(langs[k]["first_response_sla"]["compliance_pct"]),
                ]
                for k in langs
            ],
        }
    )
    lis = report["listening"]
    pub_total = sum(lis["public"].values()) or 0
    post_total = sum(lis["force_posts"].values()) or 0
    subjects = [s for s in SUBJECTS if lis["public"][s] or lis["force_posts"][s]] or list(SUBJECTS)
    pub_pct = [100 * lis["public"][s] / pub_total if pub_total else None for s in subjects]
    post_pct = [100 * lis["force_posts"][s] / post_total if post_total else None for s in subjects]
    gap = lis["gap_score"]
    sections.append(
        {
            "id": "listening",
            "title": "Listening gap: what the public raise, what the force posts about",
            "figure": "n/a" if gap is None else f"{gap:.0f} / 100",
            "figure_note": (
                "0 means the force posts about topics in the same proportions as the public "
                "raise them; 100 means no overlap at all."
                if gap is not None
                else "needs both public contact and force posts in the period."
            ),
            "chart": hbars(
                "Share of public contact and of force posts by topic (per cent)",
                [_label(s) for s in subjects],
                [Series("Public contact", pub_pct, "s1"), Series("Force posts", post_pct, "s2")],
                x_fmt=lambda v: f"{v:.0f}%",
                empty_message="No contact or posts in this period",
            ),
            "head": ["Topic", "Public contact", "%", "Force posts", "%"],
            "rows": [
                [_label(s), lis["public"][s], pct(a), lis["force_posts"][s], pct(b)]
                for s, a, b in zip(subjects, pub_pct, post_pct, strict=True)
            ],
        }
    )
    return sections


def _opt_min(seconds: float | None) -> float | None:
    return None if seconds is None else seconds / 60


def national_chart(rows: list[dict[str, Any]]) -> Markup:
    return hbars(
        "First-response SLA met by force (per cent)",
        [r["force_name"] for r in rows],
        [Series("First response SLA met", [r["first_response_sla_pct"] for r in rows], "s1")],
        x_fmt=lambda v: f"{v:.0f}%",
        x_max=100,
    )


# ---- routes -------------------------------------------------------------------------


def router(ctx: ConsoleContext) -> APIRouter:
    r = APIRouter()

    async def report(
        request: Request, user: User, q: ReportQuery, action: str
    ) -> tuple[dict[str, Any], Scope]:
        scope = Scope(ctx, user, q.force)
        team, channel = q.team, q.channel
        check_filters(ctx, scope.force, team, channel)
        s, e = period_or_400(q.start, q.end)
        cells = await fetch_cells(ctx, scope.forces, s, e, team, channel)
        rep = report_from_cells(cells, s, e, targets_for(ctx, scope.force))
        rep["scope"] = {"force": scope.force, "team": team, "channel": channel}
        await ctx.audit.write(
            [
                audit_event(
                    user,
                    request,
                    action,
                    "report",
                    scope.force,
                    start=s.isoformat(),
                    end=e.isoformat(),
                    team=team,
                    channel=channel,
                )
            ]
        )
        return rep, scope

    @r.get("/reports", tags=["pages"], response_class=Response)
    async def reports_page(request: Request, user: ReportPageUser, q: ReportParams) -> Response:
        """The report page: every chart with its table, and the download links."""
        error = None
        try:
            rep, scope = await report(request, user, q, "report.viewed")
        except HTTPException as exc:
            if exc.status_code != 400:
                raise
            error = str(exc.detail)
            s, e = parse_period(None, None, today())
            scope = Scope(ctx, user, q.force if user.national else None)
            rep = report_from_cells([], s, e, targets_for(ctx, scope.force))
            rep["scope"] = {"force": scope.force, "team": None, "channel": None}
        query = "&".join(
            f"{k}={v}"
            for k, v in (
                ("start", rep["period"]["start"]),
                ("end", rep["period"]["end"]),
                ("force", scope.force if user.national else None),
                ("team", rep["scope"]["team"]),
                ("channel", rep["scope"]["channel"]),
            )
            if v
        )
        teams = (
            sorted(t.id for t in ctx.config.forces[scope.force].teams)
            if scope.force
            else sorted({t.id for fc in ctx.config.forces.values() for t in fc.teams})
        )
        resp = ctx.page(
            request,
            "reports.html",
            user,
            report=rep,
            sections=chart_sections(rep),
            error=error,
            query=query,
            scope_name=ctx.force_name(scope.force),
            forces=sorted(ctx.config.forces.values(), key=lambda f: f.name),
            teams=teams,
            channels=[c.value for c in Channel],
            start=rep["period"]["start"],
            end=rep["period"]["end"],
            team=rep["scope"]["team"] or "",
            channel=rep["scope"]["channel"] or "",
            force=scope.force or "",
        )
        if error:
            resp.status_code = 400
        return resp

    @r.get("/api/reports", tags=["reports"])
    async def api_report(
        request: Request,
        user: ReportUser,
        q: ReportParams,
        download_: Annotated[bool, Query(alias="download")] = False,
    ) -> Response:
        """Every figure of the report as JSON (`download=true`: as a file)."""
        action = "report.exported" if download_ else "report.viewed"
        rep, scope = await report(request, user, q, action)
        if download_:
            name = report_filename(rep, scope, "json")
            return download(json.dumps(rep, indent=1), "application/json", name)
        return JSONResponse(rep)

    @r.get("/api/reports/export.csv", tags=["reports"])
    async def api_report_csv(request: Request, user: ReportUser, q: ReportParams) -> Response:
        """The same figures as CSV: one row per (section, key, measure)."""
        rep, scope = await report(request, user, q, "report.exported")
        name = report_filename(rep, scope, "csv")
        return download(
            csv_text(["section", "key", "measure", "value"], report_rows(rep)), "text/csv", name
        )

    async def national(
        request: Request, user: User, start: str | None, end: str | None, action: str
    ) -> dict[str, Any]:
        s, e = period_or_400(start, end)
        cells = await fetch_cells(ctx, None, s, e)
        per_force: dict[str, list[dict[str, Any]]] = {f: [] for f in ctx.config.forces}
        for doc in cells:
            per_force.setdefault(doc.get("force") or "", []).append(doc)
        rows = []
        for f, docs in per_force.items():
            if f not in ctx.config.forces:
                continue
            row = national_row(f, report_from_cells(docs, s, e, targets_for(ctx, f)))
            row["force_name"] = ctx.force_name(f)
            rows.append(row)
        rows.sort(key=lambda r: r["force_name"])
        await ctx.audit.write(
            [
                audit_event(
                    user,
                    request,
                    action,
                    "report",
                    "national",
                    start=s.isoformat(),
                    end=e.isoformat(),
                )
            ]
        )
        return {
            "period": {"start": s.isoformat(), "end": e.isoformat(), "days": (e - s).days + 1},
            "columns": list(NATIONAL_COLUMNS),
            "forces": rows,
        }

    @r.get("/reports/national", tags=["pages"], response_class=Response)
    async def national_page(
        request: Request, user: NationalPageUser, start: Day = None, end: Day = None
    ) -> Response:
        """Every force's common metrics side by side."""
        error = None
        try:
            data = await national(request, user, start, end, "national.viewed")
        except HTTPException as exc:
            if exc.status_code != 400:
                raise
            error = str(exc.detail)
            data = await national(request, user, None, None, "national.viewed")
        active = [r for r in data["forces"] if r["items"] or r["posts"]]
        queue = await duty_queue_snapshot(ctx)
        resp = ctx.page(
            request,
            "national.html",
            user,
            data=data,
            error=error,
            chart=national_chart(active),
            active=active,
            queue=queue,
            columns=list(NATIONAL_COLUMNS),
            duration=duration,
            start=data["period"]["start"],
            end=data["period"]["end"],
        )
        if error:
            resp.status_code = 400
        return resp

    @r.get("/api/reports/national", tags=["reports"])
    async def api_national(
        request: Request, user: NationalUser, start: Day = None, end: Day = None
    ) -> dict[str, Any]:
        """The national common metrics: the same columns for every force."""
        return await national(request, user, start, end, "national.exported")

    @r.get("/api/reports/national.csv", tags=["reports"])
    async def api_national_csv(
        request: Request, user: NationalUser, start: Day = None, end: Day = None
    ) -> Response:
        data = await national(request, user, start, end, "national.exported")
        cols = list(NATIONAL_COLUMNS)
        body = csv_text(cols, ([r[c] for c in cols] for r in data["forces"]))
        p = data["period"]
        return download(body, "text/csv", f"socialdesk-national-{p['start']}-{p['end']}.csv")

    return r
