"""The live SLA board of a supervisor's force and the national duty queue: the page, the
JSON and the live stream (the data: board.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from socialdesk.taxonomy import Priority
from socialdesk_console.audit import audit_event
from socialdesk_console.board import duty_queue_snapshot, snapshot
from socialdesk_console.deps import Ctx, DutyQueueUser, SupervisorPageUser, SupervisorUser
from socialdesk_console.sse import stream_response

router = APIRouter()


@router.get("/board", tags=["pages"], response_class=Response)
async def board_page(request: Request, user: SupervisorPageUser, ctx: Ctx) -> Response:
    """The live SLA board of the supervisor's force."""
    assert user.force is not None
    data, _ = await asyncio.gather(
        snapshot(ctx, user.force),
        ctx.audit.write([audit_event(user, request, "board.viewed", "board", user.force)]),
    )
    return ctx.page(request, "board.html", user, board=data, grades=[p.value for p in Priority])


@router.get("/api/board", tags=["board"])
async def api_board(request: Request, user: SupervisorUser, ctx: Ctx) -> dict[str, Any]:
    """The board as JSON: what the page shows, refreshed by the page after each change."""
    assert user.force is not None
    data, _ = await asyncio.gather(
        snapshot(ctx, user.force),
        ctx.audit.write(
            [audit_event(user, request, "board.viewed", "board", user.force, via="api")]
        ),
    )
    return data


@router.get("/api/national/duty-queue", tags=["board"])
async def api_duty_queue(request: Request, user: DutyQueueUser, ctx: Ctx) -> dict[str, Any]:
    """The national duty queue (open items whose force could not be determined), as
    the national board shows it: for national viewers and national duty officers."""
    data, _ = await asyncio.gather(
        duty_queue_snapshot(ctx),
        ctx.audit.write(
            [audit_event(user, request, "duty_queue.viewed", "board", "national", via="api")]
        ),
    )
    return data


@router.get("/api/board/stream", tags=["board"])
async def api_board_stream(request: Request, user: SupervisorUser, ctx: Ctx) -> StreamingResponse:
    """Server-sent events for the board: `sla` (every clock change of the force:
    warnings and breaches as they happen) and `item` (assignments, status)."""
    assert user.force is not None
    await ctx.audit.write([audit_event(user, request, "board.live_opened", "board", user.force)])
    q = ctx.outcomes.subscribe(user.force, False)
    ctx.board_feed.add(q, user.force)

    def close() -> None:
        ctx.board_feed.remove(q)
        ctx.outcomes.unsubscribe(q)

    return stream_response(request, q, close)
