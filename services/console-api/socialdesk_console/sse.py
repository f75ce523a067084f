"""Server-sent events: the live inbox, item page and SLA board all stream the same way,
from a queue their followers fill."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

Queue = asyncio.Queue[dict[str, Any]]


def offer(q: Queue, msg: dict[str, Any]) -> None:
    """Queue a change for one stream; a slow browser loses the oldest, not the newest."""
    if q.full():
        q.get_nowait()
    q.put_nowait(msg)


def stream_response(
    request: Request, q: Queue, on_close: Callable[[], None], keepalive_s: float = 15
) -> StreamingResponse:
    """The queue as an event stream (event name: the change's `kind`), until the browser
    goes; `on_close` unsubscribes it."""

    async def events() -> AsyncIterator[str]:
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                try:
                    change = await asyncio.wait_for(q.get(), timeout=keepalive_s)
                except TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: {change.get('kind', 'item')}\ndata: {json.dumps(change)}\n\n"
        finally:
            on_close()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
