"""The live inbox: server-sent events of item changes and of who has an item open."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

from elasticsearch import NotFoundError
from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from socialdesk import indices
from socialdesk.erasure import DPO_ROLE
from socialdesk_console.audit import audit_event
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import ApiUser, Ctx
from socialdesk_console.items import get_item
from socialdesk_console.protection import restricted_authors
from socialdesk_console.sse import Queue, offer, stream_response

router = APIRouter(tags=["api"])
log = logging.getLogger(__name__)
AUTHORS_KEPT = 2_000  # item id -> author, per stream: enough for a shift's changes
INDEX_TRIES = 4  # a created item reaches the index about a second after its event
INDEX_WAIT_S = 0.5


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
    if user.role == DPO_ROLE:
        return stream_response(request, queue, lambda: outcomes.unsubscribe(queue))
    shown: Queue = asyncio.Queue(maxsize=1000)
    task = asyncio.create_task(_without_restricted(ctx, user, queue, shown))

    def close() -> None:
        task.cancel()
        outcomes.unsubscribe(queue)

    return stream_response(request, shown, close)


async def _without_restricted(ctx: ConsoleContext, user: User, src: Queue, dst: Queue) -> None:
    """Pass on the changes, less those to a restricted person's items (a restriction
    means operators no longer process them: their rows must not appear live)."""
    authors: dict[str, tuple[str, str] | None] = {}
    while True:
        change = await src.get()
        item_id = change.get("item_id")
        if change.get("kind") == "item" and isinstance(item_id, str):
            try:
                hidden = await restricted_authors(ctx)
                if hidden:
                    author = await _author(ctx, item_id, authors)
                    if author is None or author in hidden:
                        continue
            except Exception as exc:  # unknown: pass it on, as the list would show it
                log.warning("restriction not checked", extra={"error": type(exc).__name__})
        offer(dst, change)


async def _author(
    ctx: ConsoleContext, item_id: str, known: dict[str, tuple[str, str] | None]
) -> tuple[str, str] | None:
    """The (platform, author id) of an item, asked once per stream; None while a new
    item is not yet indexed (the list would not show it either)."""
    if item_id in known:
        return known[item_id]
    for attempt in range(INDEX_TRIES):
        try:
            resp = await ctx.es.get(
                index=ctx.index(indices.ITEMS),
                id=item_id,
                source_includes=["platform", "author_id"],
            )
        except NotFoundError:
            await asyncio.sleep(INDEX_WAIT_S * (attempt + 1))  # the indexer's lag
            continue
        if len(known) >= AUTHORS_KEPT:
            known.clear()
        src = resp.get("_source") or {}
        known[item_id] = (str(src.get("platform")), str(src.get("author_id")))
        return known[item_id]
    return None
