"""The report routes: a force's report (page, JSON, CSV) and the national common metrics
(page, JSON, CSV), each audited (the figures: reports.py, the charts: report_charts.py)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse, Response

from socialdesk.cells import NATIONAL_COLUMNS, national_row, parse_period
from socialdesk.taxonomy import Channel
from socialdesk_console import i18n
from socialdesk_console.audit import audit_event
from socialdesk_console.auth import User
from socialdesk_console.board import duty_queue_snapshot
from socialdesk_console.charts import duration
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import Ctx, NationalPageUser, NationalUser, ReportPageUser, ReportUser
from socialdesk_console.report_charts import chart_sections, national_chart
from socialdesk_console.reports import (
    Scope,
    check_filters,
    csv_text,
    fetch_cells,
    period_or_400,
    report_filename,
    report_from_cells,
    report_rows,
    targets_for,
    today,
)

router = APIRouter()
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD, local (UK) day")]
Name = Annotated[str | None, Query(max_length=60)]
CSV_HEAD = (i18n.N_("section"), i18n.N_("key"), i18n.N_("measure"), i18n.N_("value"))


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
    """The report parameters as one dependency, so every report route reads them alike."""
    return ReportQuery(start, end, force, team, channel)


ReportParams = Annotated[ReportQuery, Depends(report_query)]


def download(body: str, media: str, filename: str) -> Response:
    """A body the browser saves as a file rather than shows."""
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def report(
    ctx: ConsoleContext, request: Request, user: User, q: ReportQuery, action: str
) -> tuple[dict[str, Any], Scope]:
    """The report the user may see for these parameters (400 on bad ones), audited."""
    scope = Scope(ctx, user, q.force)
    fc = ctx.config.forces.get(scope.force) if scope.force else None
    # A Welsh force's report and export carry their headings in Welsh and English.
    i18n.BILINGUAL.set(bool(fc and fc.welsh_language_standards))
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


@router.get("/reports", tags=["pages"], response_class=Response)
async def reports_page(
    request: Request, user: ReportPageUser, q: ReportParams, ctx: Ctx
) -> Response:
    """The report page: every chart with its table, and the download links."""
    error = None
    try:
        rep, scope = await report(ctx, request, user, q, "report.viewed")
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


@router.get("/api/reports", tags=["reports"])
async def api_report(
    request: Request,
    user: ReportUser,
    q: ReportParams,
    ctx: Ctx,
    download_: Annotated[bool, Query(alias="download")] = False,
) -> Response:
    """Every figure of the report as JSON (`download=true`: as a file)."""
    action = "report.exported" if download_ else "report.viewed"
    rep, scope = await report(ctx, request, user, q, action)
    if download_:
        name = report_filename(rep, scope, "json")
        return download(json.dumps(rep, indent=1), "application/json", name)
    return JSONResponse(rep)


@router.get("/api/reports/export.csv", tags=["reports"])
async def api_report_csv(request: Request, user: ReportUser, q: ReportParams, ctx: Ctx) -> Response:
    """The same figures as CSV: one row per (section, key, measure)."""
    rep, scope = await report(ctx, request, user, q, "report.exported")
    name = report_filename(rep, scope, "csv")
    return download(
        csv_text([i18n.heading(h) for h in CSV_HEAD], report_rows(rep)), "text/csv", name
    )


async def national(
    ctx: ConsoleContext,
    request: Request,
    user: User,
    start: str | None,
    end: str | None,
    action: str,
) -> dict[str, Any]:
    """Every force's common metrics for the period, one row per force, audited."""
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


@router.get("/reports/national", tags=["pages"], response_class=Response)
async def national_page(
    request: Request, user: NationalPageUser, ctx: Ctx, start: Day = None, end: Day = None
) -> Response:
    """Every force's common metrics side by side."""
    error = None
    try:
        data = await national(ctx, request, user, start, end, "national.viewed")
    except HTTPException as exc:
        if exc.status_code != 400:
            raise
        error = str(exc.detail)
        data = await national(ctx, request, user, None, None, "national.viewed")
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


@router.get("/api/reports/national", tags=["reports"])
async def api_national(
    request: Request, user: NationalUser, ctx: Ctx, start: Day = None, end: Day = None
) -> dict[str, Any]:
    """The national common metrics: the same columns for every force."""
    return await national(ctx, request, user, start, end, "national.exported")


@router.get("/api/reports/national.csv", tags=["reports"])
async def api_national_csv(
    request: Request, user: NationalUser, ctx: Ctx, start: Day = None, end: Day = None
) -> Response:
    data = await national(ctx, request, user, start, end, "national.exported")
    cols = list(NATIONAL_COLUMNS)
    body = csv_text(cols, ([r[c] for c in cols] for r in data["forces"]))
    p = data["period"]
    return download(body, "text/csv", f"socialdesk-national-{p['start']}-{p['end']}.csv")
