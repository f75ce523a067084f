"""Replies: the item's templates, a sandboxed preview, and sending (see publish.py)."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from socialdesk.events import CommandType
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import ActingUser, ApiUser, Ctx
from socialdesk_console.items import get_item, send_command
from socialdesk_console.replies import (
    PLATFORM_LIMITS,
    check_length,
    default_language,
    template_variables,
)

router = APIRouter(tags=["api"])


class PreviewRequest(BaseModel):
    template_id: str | None = Field(default=None, max_length=100)
    language: Literal["en", "cy"] = "en"
    source: str | None = Field(default=None, max_length=10_000, description="edited template")
    variables: dict[str, str] = Field(default_factory=dict)


class ReplyRequest(BaseModel):
    text: str = Field(min_length=1, max_length=20_000)
    template_id: str | None = Field(default=None, max_length=100)
    language: Literal["en", "cy"] | None = None
    expected_seq: int | None = Field(default=None, ge=0)


async def limit_previews(ctx: ConsoleContext, user: User) -> None:
    """Previews per user and minute, counted on every replica together (429 past it)."""
    limit = ctx.settings.preview_per_minute
    try:
        ok = await ctx.guards.take(ctx.guards.key("preview", user.username), limit, 60)
    except Exception as exc:
        raise HTTPException(503, "the preview limit cannot be checked; try again shortly") from exc
    if not ok:
        raise HTTPException(
            429,
            f"more than {limit} previews in a minute; wait a moment",
            headers={"Retry-After": "60"},
        )


def variables_for(
    ctx: ConsoleContext, user: User, item: dict[str, Any], extra: dict[str, str]
) -> dict[str, Any]:
    """What a template may use: the item, its force's details and links, the operator."""
    fc = ctx.config.forces.get(item.get("force") or "")
    return template_variables(item, fc, ctx.catalogue.links(fc), user.display_name, extra)


@router.get("/api/items/{item_id}/templates")
async def api_templates(item_id: str, user: ApiUser, ctx: Ctx) -> dict[str, Any]:
    """The reply templates for this item's force, and the language to answer in."""
    item = await get_item(ctx, user, item_id)
    return {
        "default_language": default_language(item),
        "limit": PLATFORM_LIMITS.get(item["platform"], PLATFORM_LIMITS["other"]),
        "templates": [e.model_dump() for e in ctx.catalogue.entries(item.get("force"))],
    }


@router.post("/api/items/{item_id}/replies/preview")
async def api_preview(
    item_id: str, body: PreviewRequest, user: ActingUser, ctx: Ctx
) -> dict[str, Any]:
    """Render a template (or an edited one) with this item's variables, in a worker
    process with a time and output limit. Nothing is sent; any template error is a
    422 naming the problem. Only roles that can reply may preview, so many a minute
    per user (429 past that, on every replica together)."""
    item = await get_item(ctx, user, item_id)
    await limit_previews(ctx, user)
    variables = variables_for(ctx, user, item, body.variables)
    catalogue = ctx.catalogue
    if body.source is not None:
        source = body.source
    elif body.template_id:
        force = item.get("force")
        source = catalogue.source(force, catalogue.find(force, body.template_id, body.language))
    else:
        raise HTTPException(422, "give template_id or source")
    text = await ctx.renderer.render(source, variables)
    limit = PLATFORM_LIMITS.get(item["platform"], PLATFORM_LIMITS["other"])
    return {"text": text, "length": len(text), "limit": limit, "fits": len(text) <= limit}


@router.post("/api/items/{item_id}/reply")
async def api_reply(
    request: Request, item_id: str, body: ReplyRequest, user: ActingUser, ctx: Ctx
) -> JSONResponse:
    """Send a reply (as previewed and edited). Too long for the platform: 422 and
    nothing is sent. The outbound service then delivers it to the platform."""
    item = await get_item(ctx, user, item_id)
    text = body.text.strip()
    check_length(item["platform"], text)
    return await send_command(
        ctx,
        request,
        user,
        item_id,
        CommandType.reply,
        # The reply's language (its template's, else the one the item is answered in).
        {"text": text, "language": body.language or default_language(item)},
        body.expected_seq,
        {"template_id": body.template_id, "language": body.language, "length": len(text)},
    )
