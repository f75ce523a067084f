"""Server-sent events: the live inbox, item page and SLA board all stream the same way,
from a queue their followers (TopicFollower: outcomes.py, board.py) fill."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import StreamingResponse

from socialdesk.settings import BaseServiceSettings
from socialdesk.tail import follow_from_end
from socialdesk_console.auth import COOKIE, SessionUnavailable

Queue = asyncio.Queue[dict[str, Any]]


class TopicFollower:
    """Follows one topic from its end in this process (no consumer group, so every
    console instance sees every record) and hands each JSON object to `seen`."""

    topic: str

    def __init__(self, settings: BaseServiceSettings) -> None:
        self.settings = settings
        self.started = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.create_task(
            follow_from_end(self.settings, self.topic, self._record, self.started)
        )

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()

    def _record(self, raw: bytes | None) -> None:
        if not raw:
            return
        try:
            ev = json.loads(raw)
        except ValueError:
            return
        if isinstance(ev, dict):
            self.seen(ev)

    def seen(self, ev: dict[str, Any]) -> None:
        raise NotImplementedError


def offer(q: Queue, msg: dict[str, Any]) -> None:
    """Queue a change for one stream; a slow browser loses the oldest, not the newest."""
    if q.full():
        q.get_nowait()
    q.put_nowait(msg)


async def still_signed_in(request: Request) -> bool:
    """False only when the session is gone (signed out, timed out); a session store that
    cannot be asked right now keeps the stream (its data comes from Kafka, not from the
    store, and a browser refused with 503 would stop reconnecting for good)."""
    try:
        user = await request.app.state.sessions.read(request.cookies.get(COOKIE))
    except SessionUnavailable:
        return True
    return user is not None


def stream_response(
    request: Request, q: Queue, on_close: Callable[[], None], keepalive_s: float = 15
) -> StreamingResponse:
    """The queue as an event stream (event name: the change's `kind`), until the browser
    goes or its session ends (checked every `keepalive_s`: a stream opened before a
    sign-out must not outlive it); `on_close` unsubscribes it."""
    loop = asyncio.get_running_loop()

    async def events() -> AsyncIterator[str]:
        checked = loop.time()
        try:
            yield "retry: 2000\n\n"
            while not await request.is_disconnected():
                if loop.time() - checked >= keepalive_s:
                    checked = loop.time()
                    if not await still_signed_in(request):
                        return  # the browser reconnects and is refused (401)
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
