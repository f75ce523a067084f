"""The console's background work, started and stopped by create_app's lifespan: the
outcome and board feeds, the hourly purge of security state, the template renderer's
warm-up, and (until it moves to its own service) the reply dispatcher."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from socialdesk.events import AuditEvent
from socialdesk.kafka import KafkaRuntime
from socialdesk_console.context import ConsoleContext
from socialdesk_console.publish import Publisher, ReplyDispatcher, make_publisher

log = logging.getLogger(__name__)
STOP_WAIT_S = 5


async def purge_security_state(ctx: ConsoleContext) -> None:
    """Hourly: ended sessions and stale sign-in counters leave the indices (every
    replica does it; a delete by query is harmless twice)."""
    while True:
        await asyncio.sleep(3600)
        for purge in (ctx.sessions.purge, ctx.guards.purge):
            try:
                await purge()
            except Exception as exc:
                log.warning("security state purge failed", extra={"error": repr(exc)})


async def finish(task: asyncio.Task[None]) -> None:
    """Give a stopping task a few seconds, then cancel it."""
    try:
        await asyncio.wait_for(task, timeout=STOP_WAIT_S)
    except BaseException:
        task.cancel()


def start_reply_dispatcher(
    ctx: ConsoleContext, publisher: Publisher | None
) -> Callable[[], Awaitable[None]]:
    """Run publish.py's reply dispatcher in this process; returns its stop. All of the
    dispatcher's wiring is here, so it leaves the console in one piece."""

    async def already_delivered(item_id: str, event_id: str) -> bool:
        try:
            resp = await ctx.es.search(
                index=ctx.index("audit"),
                query={
                    "bool": {
                        "filter": [
                            {"term": {"target_id": item_id}},
                            {"term": {"action": "reply.delivered"}},
                        ]
                    }
                },
                size=100,
            )
        except Exception:
            return False
        return any(
            (h["_source"].get("details") or {}).get("event_id") == event_id
            for h in resp["hits"]["hits"]
        )

    async def write_system_audit(events: list[AuditEvent]) -> None:
        await ctx.audit.write(events)

    dispatcher = ReplyDispatcher(
        ctx.settings,
        publisher or make_publisher(ctx.settings, ctx.http),
        write_system_audit,
        already_delivered,
    )
    runtime = KafkaRuntime(ctx.settings, dispatcher, max_records=50)
    task = asyncio.create_task(runtime.run())

    async def stop() -> None:
        dispatcher.stopping = True
        runtime.stop()
        await finish(task)

    return stop


@contextlib.asynccontextmanager
async def running(ctx: ConsoleContext, publisher: Publisher | None) -> AsyncIterator[None]:
    """Everything the console runs beside its requests, for the app's lifespan."""
    ctx.outcomes.start()
    ctx.board_feed.start()
    stop_dispatcher = start_reply_dispatcher(ctx, publisher)
    purger = asyncio.create_task(purge_security_state(ctx))
    warm_up = asyncio.create_task(ctx.renderer.warm())
    try:
        yield
    finally:
        purger.cancel()
        await stop_dispatcher()
        await ctx.outcomes.stop()
        await ctx.board_feed.stop()
        await finish(warm_up)
        await ctx.audit.close()
        await ctx.renderer.close()
        await ctx.http.aclose()
