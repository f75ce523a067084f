"""The console's background work, started and stopped by create_app's lifespan: the
outcome and board feeds, the hourly purge of security state, the template renderer's
warm-up (replies are sent by the outbound service)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from socialdesk_console.context import ConsoleContext

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


@contextlib.asynccontextmanager
async def running(ctx: ConsoleContext) -> AsyncIterator[None]:
    """Everything the console runs beside its requests, for the app's lifespan."""
    ctx.outcomes.start()
    ctx.post_outcomes.start()
    ctx.board_feed.start()
    purger = asyncio.create_task(purge_security_state(ctx))
    warm_up = asyncio.create_task(ctx.renderer.warm())
    try:
        yield
    finally:
        purger.cancel()
        await ctx.outcomes.stop()
        await ctx.post_outcomes.stop()
        await ctx.board_feed.stop()
        await finish(warm_up)
        await ctx.audit.close()
        await ctx.renderer.close()
        await ctx.http.aclose()
