"""One retry delay for every loop that waits out a broker, index or platform outage.

Exponential with jitter, so a dozen consumers that lost Elasticsearch together do not
all knock again in the same instant when it comes back.
"""

from __future__ import annotations

import asyncio
import random


class Backoff:
    """Delays of first, 2*first, 4*first ... up to cap, each shaved by up to `jitter`."""

    def __init__(
        self, first: float = 0.2, cap: float = 10.0, *, jitter: float = 0.25, factor: float = 2.0
    ) -> None:
        if first <= 0 or cap < first or not 0 <= jitter < 1 or factor < 1:
            raise ValueError("Backoff needs 0 < first <= cap, 0 <= jitter < 1 and factor >= 1")
        self.first = first
        self.cap = cap
        self.jitter = jitter
        self.factor = factor
        self._next = first
        self.attempts = 0

    def delay(self) -> float:
        """The next delay to wait (and grow the one after it)."""
        base = self._next
        self._next = min(self._next * self.factor, self.cap)
        self.attempts += 1
        return base * (1 - self.jitter * random.random())

    async def wait(self) -> None:
        """Sleep for the next delay."""
        await asyncio.sleep(self.delay())

    def reset(self) -> None:
        """After a success: the next failure starts again from `first`."""
        self._next = self.first
        self.attempts = 0


def delay_for(attempt: int, first: float = 0.5, cap: float = 10.0) -> float:
    """The un-jittered delay before retry `attempt` (0-based), for loops that count attempts."""
    return float(min(cap, first * 2 ** min(attempt, 30)))
