"""The campaign library (national and the force's own evaluated campaigns, filtered by
objective, each adoptable into compose) and the impact report of what followed the
force's posts, per objective (impact.py); every view audited."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response

from socialdesk.publishing import Objective
from socialdesk_console.audit import audit_event
from socialdesk_console.auth import User
from socialdesk_console.charts import Series, bars, hbars
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import Ctx, api_user, page_user
from socialdesk_console.i18n import N_, _
from socialdesk_console.impact import (
    impact_by_objective,
    per_campaign,
    per_force,
    thread_item_ids,
)
from socialdesk_console.posts import published_posts, thread_mentions
from socialdesk_console.pub_labels import pub_label
from socialdesk_console.reports import (
    fetch_cells,
    period_or_400,
    report_from_cells,
    targets_for,
    today,
)

router = APIRouter()
IMPACT_ROLES = ("comms", "approver", "force_admin", "supervisor", "national_viewer")
DEFAULT_DAYS = 28
ObjectiveFilter = Annotated[str | None, Query(max_length=40)]
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD, local (UK) day")]


def _library(user: User) -> User:
    if not (user.publishes or user.national):
        raise HTTPException(403, N_("the campaign library is for communications officers"))
    return user


def _impact(user: User) -> User:
    if user.role not in IMPACT_ROLES or (user.force is None and not user.national):
        raise HTTPException(403, N_("the impact report is for communications and supervisors"))
    return user


def library_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    return _library(user)


def library_api_user(user: Annotated[User, Depends(api_user)]) -> User:
    return _library(user)


def impact_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    return _impact(user)


def impact_api_user(user: Annotated[User, Depends(api_user)]) -> User:
    return _impact(user)


def campaigns_of(ctx: ConsoleContext, user: User, objective: str | None) -> list[dict[str, Any]]:
    if objective and objective not in {o.value for o in Objective}:
        raise HTTPException(422, N_("unknown objective"))
    return [c.model_dump(mode="json") for c in ctx.library.campaigns_for(user.force, objective)]


@router.get("/publishing/campaigns", response_class=HTMLResponse, tags=["pages"])
async def campaigns_page(
    request: Request,
    user: Annotated[User, Depends(library_page_user)],
    ctx: Ctx,
    objective: ObjectiveFilter = None,
) -> Response:
    """Browse the library by objective; "adopt" opens compose with the campaign in it."""
    found = campaigns_of(ctx, user, objective)
    await ctx.audit.write(
        [audit_event(user, request, "campaigns.viewed", "campaign", None, objective=objective)]
    )
    return ctx.page(
        request,
        "campaigns.html",
        user,
        campaigns=found,
        objective=objective or "",
        objectives=[o.value for o in Objective],
    )


@router.get("/api/campaigns", tags=["api"])
async def api_campaigns(
    request: Request,
    user: Annotated[User, Depends(library_api_user)],
    ctx: Ctx,
    objective: ObjectiveFilter = None,
) -> dict[str, Any]:
    found = campaigns_of(ctx, user, objective)
    await ctx.audit.write(
        [audit_event(user, request, "campaigns.viewed", "campaign", None, via="api")]
    )
    return {"campaigns": found}


async def impact_view(
    ctx: ConsoleContext, user: User, start_s: str | None, end_s: str | None
) -> dict[str, Any]:
    """The impact report for the user's force (national viewers: every force)."""
    if not start_s and not end_s:
        end_d = today()
        start_d = end_d - timedelta(days=DEFAULT_DAYS - 1)
    else:
        start_d, end_d = period_or_400(start_s, end_s)
    force = None if user.national else user.force
    forces = None if force is None else [force]
    posts, cells = await asyncio.gather(
        published_posts(ctx, force, (start_d - timedelta(days=1)).isoformat()),
        fetch_cells(ctx, forces, start_d - timedelta(days=7), end_d + timedelta(days=7)),
    )
    ids = sorted({i for p in posts for i in thread_item_ids(p)})
    mentions = await thread_mentions(ctx, ids[:5000])
    rows = impact_by_objective(posts, cells, mentions, start_d, end_d)
    period_cells = [
        c for c in cells if start_d.isoformat() <= str(c.get("day"))[:10] <= end_d.isoformat()
    ]
    report = report_from_cells(period_cells, start_d, end_d, targets_for(ctx, force))
    return {
        "period": {"start": start_d.isoformat(), "end": end_d.isoformat()},
        "force": force,
        "objectives": [r.as_dict() for r in rows],
        "gap_score": report["listening"]["gap_score"],
        "by_force": per_force(posts, start_d, end_d) if force is None else None,
        "campaigns": per_campaign(posts, mentions, start_d, end_d),
    }


def impact_charts(view: dict[str, Any]) -> list[Any]:
    """Posts per objective, then what followed them: contact before and after."""
    rows = view["objectives"]
    posted = hbars(
        _("Posts published per objective"),
        [pub_label(r["objective"]) for r in rows],
        [Series(_("Posts published"), [r["posts"] for r in rows], "s1")],
        empty_message=_("No posts published in this period"),
    )
    return [
        posted,
        bars(
            _("Contact on the posts' subjects: 7 days before and 7 days after, per objective"),
            [pub_label(r["objective"]) for r in rows],
            [
                Series(_("7 days before"), [r["contact_before"] for r in rows], "s1"),
                Series(_("7 days after"), [r["contact_after"] for r in rows], "s2"),
            ],
            desc=_(
                "Items from the public on the same subject as the posts, each day counted once."
            ),
            empty_message=_("No contact from the public on these subjects around the posts"),
        ),
    ]


@router.get("/publishing/impact", response_class=HTMLResponse, tags=["pages"])
async def impact_page(
    request: Request,
    user: Annotated[User, Depends(impact_page_user)],
    ctx: Ctx,
    start: Day = None,
    end: Day = None,
) -> Response:
    view = await impact_view(ctx, user, start, end)
    await ctx.audit.write(
        [audit_event(user, request, "impact.viewed", "report", user.force, period=view["period"])]
    )
    return ctx.page(
        request,
        "impact.html",
        user,
        view=view,
        charts=impact_charts(view),
        force_names={f: ctx.force_name(f) for f in (view["by_force"] or {})},
        objectives=[o.value for o in Objective],
        campaign_titles={c.id: c.title for cs in ctx.library.campaigns.values() for c in cs},
    )


@router.get("/api/publishing/impact", tags=["api"])
async def api_impact(
    request: Request,
    user: Annotated[User, Depends(impact_api_user)],
    ctx: Ctx,
    start: Day = None,
    end: Day = None,
) -> dict[str, Any]:
    """Per objective: posts published, mentions in their threads, contact on their
    subjects 7 days before and after; the period's listening gap; per library campaign
    adopted: posts, forces and mentions in their threads."""
    view = await impact_view(ctx, user, start, end)
    await ctx.audit.write(
        [audit_event(user, request, "impact.viewed", "report", user.force, via="api")]
    )
    return view
