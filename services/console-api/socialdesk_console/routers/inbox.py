"""The inbox and the item: their pages, the JSON API behind them and item commands."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field, field_validator

from socialdesk.commands import OPERATOR_COMMANDS, SUPERVISOR_COMMANDS
from socialdesk.events import CommandType
from socialdesk_console.audit import audit_event
from socialdesk_console.context import taxonomy
from socialdesk_console.deps import ActingUser, ApiUser, Ctx, PageUser
from socialdesk_console.items import (
    attach_sla,
    counts,
    deliveries,
    fetch_item,
    get_item,
    history,
    history_days,
    list_items,
    send_command,
    timeline,
    validate_payload,
)
from socialdesk_console.media import item_attachments, sensitive, without_platform_links
from socialdesk_console.protection import item_protection
from socialdesk_console.queries import VIEWS, inbox_filters
from socialdesk_console.replies import PLATFORM_LIMITS, default_language
from socialdesk_console.timing import waiting_on

router = APIRouter()


class CommandRequest(BaseModel):
    type: CommandType = Field(description="one of the commands a person may send")
    payload: dict[str, Any] = Field(default_factory=dict)
    expected_seq: int | None = Field(default=None, ge=0)

    @field_validator("type")
    @classmethod
    def _a_person_may_send_it(cls, v: CommandType) -> CommandType:
        if v not in OPERATOR_COMMANDS:
            raise ValueError(f"{v.value} is written by the platform, not sent from the console")
        return v


@router.get("/", include_in_schema=False)
async def root() -> Response:
    return RedirectResponse("/inbox", status_code=303)


@router.get("/inbox", response_class=HTMLResponse, tags=["pages"])
async def inbox_page(
    request: Request,
    user: PageUser,
    ctx: Ctx,
    view: str = "all_open",
    priority: Annotated[str | None, Query(max_length=10)] = None,
    intent: Annotated[str | None, Query(max_length=40)] = None,
    flag: Annotated[str | None, Query(max_length=40)] = None,
    platform: Annotated[str | None, Query(max_length=40)] = None,
    team: Annotated[str | None, Query(max_length=60)] = None,
) -> Response:
    filters = inbox_filters(priority, intent, flag, platform, team)
    # The audit write runs beside the queries (still acknowledged before the answer).
    async with waiting_on():
        (items, total, counters), _ = await asyncio.gather(
            list_items(ctx, user, view, filters, 100),
            ctx.audit.write(
                [audit_event(user, request, "inbox.viewed", "inbox", view, filters=filters)]
            ),
        )
    forces = ctx.config.forces
    teams = sorted({t.id for t in forces[user.force].teams}) if user.force in forces else []
    return ctx.page(
        request,
        "inbox.html",
        user,
        items=items,
        total=total,
        view=view,
        views=VIEWS,
        counts=counters,
        filters=filters,
        teams=teams,
        **taxonomy(),
    )


@router.get("/items/{item_id}", response_class=HTMLResponse, tags=["pages"])
async def item_page(request: Request, item_id: str, user: PageUser, ctx: Ctx) -> Response:
    # The item by id first, then everything else at once.
    async with waiting_on():
        item = await fetch_item(ctx, user, item_id)
        protection = await item_protection(ctx, user, item)
        _, hist, events, sent, _, media = await asyncio.gather(
            attach_sla(ctx, [item]),
            history(ctx, user, item),
            timeline(ctx, user, item),
            deliveries(ctx, item),
            ctx.audit.write(
                [audit_event(user, request, "item.opened", "item", item_id, via="page")]
            ),
            item_attachments(ctx, item),
        )
    config = ctx.config
    fc = config.forces.get(item.get("force") or "")
    return ctx.page(
        request,
        "item.html",
        user,
        item=item,
        history=hist,
        history_days=history_days(ctx),
        timeline=events,
        deliveries=sent,
        attachments=media,
        blur_images=sensitive(item),
        item_force_name=(
            ctx.force_name(item["force"]) if item.get("force") else config.national.duty_queue.name
        ),
        templates_list=[e.model_dump() for e in ctx.catalogue.entries(item.get("force"))],
        default_language=default_language(item),
        limit=PLATFORM_LIMITS.get(item["platform"], PLATFORM_LIMITS["other"]),
        teams=[t.id for t in fc.teams] if fc else [],
        forces=sorted(config.forces),
        **protection,
        **taxonomy(),
    )


@router.get("/api/items", tags=["api"])
async def api_items(
    request: Request,
    user: ApiUser,
    ctx: Ctx,
    view: str = "all_open",
    priority: Annotated[str | None, Query(pattern="^P[1-4]$")] = None,
    intent: Annotated[str | None, Query(max_length=40)] = None,
    flag: Annotated[str | None, Query(max_length=40)] = None,
    platform: Annotated[str | None, Query(max_length=40)] = None,
    team: Annotated[str | None, Query(max_length=60)] = None,
    size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """One inbox view of the user's force, P1 on top, then by SLA due time, with the
    open-item counter of every view."""
    filters = inbox_filters(priority, intent, flag, platform, team)
    (items, total, counters), _ = await asyncio.gather(
        list_items(ctx, user, view, filters, size),
        ctx.audit.write(
            [audit_event(user, request, "items.listed", "inbox", view, filters=filters)]
        ),
    )
    return {"total": total, "view": view, "items": items, "counts": counters}


@router.get("/api/counts", tags=["api"])
async def api_counts(user: ApiUser, ctx: Ctx) -> dict[str, int]:
    """Open items per view (no item data, so no audit record)."""
    return await counts(ctx, user, {})


@router.get("/api/items/{item_id}", tags=["api"])
async def api_item(request: Request, item_id: str, user: ApiUser, ctx: Ctx) -> dict[str, Any]:
    item = await get_item(ctx, user, item_id)
    item["protection"], _, media = await asyncio.gather(
        item_protection(ctx, user, item),
        ctx.audit.write([audit_event(user, request, "item.opened", "item", item_id, via="api")]),
        item_attachments(ctx, item),
    )
    item["viewers"] = ctx.outcomes.viewers(item_id)
    return without_platform_links(item, media)


@router.get("/api/items/{item_id}/history", tags=["api"])
async def api_history(request: Request, item_id: str, user: ApiUser, ctx: Ctx) -> dict[str, Any]:
    """The author's other items, newest first."""
    item = await get_item(ctx, user, item_id)
    hist = await history(ctx, user, item)
    await ctx.audit.write(
        [audit_event(user, request, "author.history_viewed", "item", item_id, count=len(hist))]
    )
    return {"author_id": item["author_id"], "items": hist}


@router.get("/api/items/{item_id}/timeline", tags=["api"])
async def api_timeline(request: Request, item_id: str, user: ApiUser, ctx: Ctx) -> dict[str, Any]:
    """Who did what when: the item's events (rejections included) and reply deliveries."""
    item = await get_item(ctx, user, item_id)
    events, sent = await asyncio.gather(timeline(ctx, user, item), deliveries(ctx, item))
    await ctx.audit.write([audit_event(user, request, "item.timeline_viewed", "item", item_id)])
    return {"events": events, "deliveries": sent}


@router.get("/api/items/{item_id}/viewers", tags=["api"])
async def api_viewers(item_id: str, user: ApiUser, ctx: Ctx) -> dict[str, Any]:
    """Who else has this item open now (collision warning)."""
    await get_item(ctx, user, item_id)
    return {"viewers": ctx.outcomes.viewers(item_id)}


@router.post("/api/items/{item_id}/commands", tags=["api"])
async def api_command(
    request: Request, item_id: str, body: CommandRequest, user: ActingUser, ctx: Ctx
) -> JSONResponse:
    """Claim, release, note, re-grade, re-categorise, transfer, await public, resolve,
    reopen (and reply, though /reply adds template checks): 200 applied, 409
    rejected with the reason, 202 if the outcome is still pending after 5 s."""
    if body.type in SUPERVISOR_COMMANDS and user.role not in ("supervisor", "force_admin"):
        raise HTTPException(403, f"only a supervisor can {body.type}")
    item = await get_item(ctx, user, item_id)  # 404 for another force's item
    validate_payload(ctx, body.type, body.payload, item)
    return await send_command(
        ctx, request, user, item_id, body.type, dict(body.payload), body.expected_seq
    )
