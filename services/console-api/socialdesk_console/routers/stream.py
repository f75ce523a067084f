"""The live inbox: server-sent events of item changes and of who has an item open."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from socialdesk_console.audit import audit_event
from socialdesk_console.deps import ApiUser, Ctx
from socialdesk_console.items import get_item
from socialdesk_console.sse import stream_response

router = APIRouter(tags=["api"])


@router.get("/api/stream")
async def api_stream(
    request: Request,
    user: ApiUser,
    ctx: Ctx,
    item: Annotated[
        str | None, Query(max_length=200, description="the item open on this page")
    ] = None,
) -> StreamingResponse:
    """Server-sent events: every change to an item the user may see (event `item`),
    and, with `item`, who else has that item open (event `viewers`)."""
    if item is not None:
        await get_item(ctx, user, item)
    await ctx.audit.write([audit_event(user, request, "inbox.live_opened", "inbox", item)])
    viewer = (item, user.username, user.display_name) if item else None
    outcomes = ctx.outcomes
    queue = outcomes.subscribe(user.force, user.national, viewer, duty=user.duty)
    return stream_response(request, queue, lambda: outcomes.unsubscribe(queue))
