"""Retention by data class (docs/data-protection.md), for force administrators and the
national roles: each class's period for the user's force, why, what enforces it, and what
the last sweep deleted. Read only: the periods are set in config/."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from socialdesk import indices
from socialdesk.retention import (
    SWEEP_ACTION,
    SWEEPERS,
    DataClass,
    Enforcer,
    periods_for,
    swept_counts,
)
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import Ctx, api_user, page_user
from socialdesk_console.i18n import N_

router = APIRouter()

NATIONAL_ROLES = ("national_viewer", "national_duty")
CLASS_NAMES = {
    DataClass.raw_mentions: N_("Raw mentions"),
    DataClass.items: N_("Items and their events"),
    DataClass.attachments: N_("Attachments"),
    DataClass.author_history: N_("Author history"),
    DataClass.audit: N_("Audit trail"),
    DataClass.reports_rollups: N_("Report rollups"),
    DataClass.posts: N_("Force posts and drafts"),
}
ENFORCER_NAMES = {
    Enforcer.kafka: N_("Kafka topic retention"),
    Enforcer.sweeper: N_("the retention sweeper (indexer)"),
    Enforcer.index_age: N_("daily indices deleted by age"),
    Enforcer.object_store: N_("the media service's sweeper (object store, then index)"),
}


def _may_see(user: User) -> User:
    if user.role == "force_admin" and user.force is not None:
        return user
    if user.role in NATIONAL_ROLES:
        return user
    raise HTTPException(403, N_("retention is for force administrators and national roles"))


def retention_user(user: Annotated[User, Depends(api_user)]) -> User:
    return _may_see(user)


def retention_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    return _may_see(user)


async def last_sweep(ctx: ConsoleContext, sweeper: str) -> dict[str, Any] | None:
    """One sweeper's newest sweep record, or None before its first."""
    resp = await ctx.search(
        index=ctx.index(indices.AUDIT),
        query={
            "bool": {
                "filter": [{"term": {"action": SWEEP_ACTION}}, {"term": {"actor_id": sweeper}}]
            }
        },
        sort=[{"at": "desc"}],
        size=1,
    )
    hits = resp["hits"]["hits"]
    return hits[0]["_source"] if hits else None


async def retention_view(ctx: ConsoleContext, user: User) -> dict[str, Any]:
    """Every data class for the user's force (national roles: the national periods)."""
    force = user.force if user.role == "force_admin" else None
    found = await asyncio.gather(*(last_sweep(ctx, s) for s in SWEEPERS))
    sweeps = {s: r for s, r in zip(SWEEPERS, found, strict=True) if r is not None}
    counts = swept_counts(list(sweeps.values()), force)
    sweep = sweeps.get("indexer") or next(iter(sweeps.values()), None)
    classes = [
        {
            "data_class": p.data_class.value,
            "name": CLASS_NAMES[p.data_class],
            "days": p.days,
            "source": p.source.value,
            "reason": p.reason,
            "enforced_by": p.enforced_by.value,
            "enforced_by_name": ENFORCER_NAMES[p.enforced_by],
            "last_deleted": counts.get(p.data_class.value),
        }
        for p in periods_for(ctx.config, force).values()
    ]
    return {
        "force": force,
        "classes": classes,
        "last_sweep": sweep["at"] if sweep else None,
        "last_sweeps": {s: r["at"] for s, r in sweeps.items()},
        "overrides": None if force else force_overrides(ctx),
    }


def force_overrides(ctx: ConsoleContext) -> list[dict[str, Any]]:
    """For the national roles: every force's own (shorter) periods, with its reason."""
    return [
        {
            "force": fc.name,
            "name": CLASS_NAMES[dc],
            "data_class": dc.value,
            "days": over.days,
            "reason": over.reason,
        }
        for fc in sorted(ctx.config.forces.values(), key=lambda f: f.name)
        for dc, over in fc.retention.items()
    ]


@router.get("/retention", response_class=HTMLResponse, tags=["pages"])
async def retention_page(
    request: Request, user: Annotated[User, Depends(retention_page_user)], ctx: Ctx
) -> Response:
    return ctx.page(request, "retention.html", user, view=await retention_view(ctx, user))


@router.get("/api/retention", tags=["api"])
async def api_retention(user: Annotated[User, Depends(retention_user)], ctx: Ctx) -> dict[str, Any]:
    """Retention periods for the user's force, their reasons, and the last sweep."""
    return await retention_view(ctx, user)
