"""The platforms' documented posting limits, held as data, and the pacing that keeps
each account under them: a send waits for room in its window rather than failing.

Sources (docs/outbound.md "Rate limits" quotes each): X's "Comparing X API's manage Posts
endpoints" (POST /2/tweets: 200 requests per 15 minutes per user, 300 per 3 hours per
user, shared with retweets) and X Help "X limits" (2,400 posts a day per account); Meta's
Instagram Content Publishing reference (content_publishing_limit: quota_total 50 per
86,400 s; the guide says 100: we keep the lower); the Graph API's Pages rate limit
(Business Use Case: 4,800 calls per 24 h per engaged user, so at least 4,800).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from socialdesk.taxonomy import Platform


@dataclass(frozen=True)
class Window:
    """At most `limit` sends per account in any `seconds`."""

    limit: int
    seconds: float
    source: str


LIMITS: dict[Platform, tuple[Window, ...]] = {
    Platform.x: (
        Window(200, 15 * 60, "X API v2 POST /2/tweets, per user"),
        Window(300, 3 * 3600, "X API v2 POST /2/tweets with retweets, per user"),
        Window(2400, 24 * 3600, "X Help, X limits: posts per account per day"),
    ),
    Platform.instagram: (
        Window(50, 24 * 3600, "Instagram content_publishing_limit quota_total, per account"),
    ),
    Platform.facebook: (
        Window(4800, 24 * 3600, "Graph API Pages rate limit (4,800 x engaged users), per Page"),
    ),
}


class RateLimits:
    """Sliding windows of recent sends per (platform, account), shared by replies and
    posts (the platforms count both). In memory: after a restart the windows start
    empty, and a platform's 429 with Retry-After covers what was forgotten."""

    def __init__(
        self,
        limits: dict[Platform, tuple[Window, ...]] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = LIMITS if limits is None else limits
        self.clock = clock
        self.sent: dict[tuple[str, str], deque[float]] = {}

    def wait_for(self, platform: str, account: str) -> float:
        """Seconds until this account may send again on this platform (0: now)."""
        windows = self.limits.get(Platform(platform), ())
        if not windows:
            return 0.0
        now = self.clock()
        sent = self.sent.get((platform, account.lower()), deque())
        longest = max(w.seconds for w in windows)
        while sent and sent[0] <= now - longest:
            sent.popleft()
        wait = 0.0
        for w in windows:
            inside = [t for t in sent if t > now - w.seconds]
            if len(inside) >= w.limit:
                wait = max(wait, inside[len(inside) - w.limit] + w.seconds - now)
        return wait

    def record(self, platform: str, account: str) -> None:
        self.sent.setdefault((platform, account.lower()), deque()).append(self.clock())

    async def acquire(
        self,
        platform: str,
        account: str,
        stopping: Callable[[], bool] = lambda: False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> bool:
        """Wait for room, then count the send; False if the service began stopping."""
        while (wait := self.wait_for(platform, account)) > 0:
            if stopping():
                return False
            await sleep(min(wait, 1.0))  # wake each second to notice a stop
        self.record(platform, account)
        return True
