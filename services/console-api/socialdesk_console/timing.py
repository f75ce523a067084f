"""Per-request backend timing for the `Server-Timing` header.

Each backend (`es`, `audit`) is timed as **wall time with at least one call in flight**,
so calls that run concurrently (asyncio.gather) are not counted twice: `es` is exactly
how long the request waited on Elasticsearch, however its calls were issued. `backend`
is the page's whole waiting phase (ES and the Kafka audit write, overlapped), and `app`
(total minus backend) is the console's own work: routing, session, rendering."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar

DESCRIPTIONS = {
    "backend": "waiting on Elasticsearch and Kafka",
    "es": "Elasticsearch wall time",
    "audit": "audit write to Kafka wall time",
}


class RequestTiming:
    """Wall time per backend name, as the union of the intervals its calls were open."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self._open: dict[str, int] = {}
        self._since: dict[str, float] = {}
        self.started = time.perf_counter()

    def enter(self, name: str) -> None:
        if not self._open.get(name):
            self._since[name] = time.perf_counter()
        self._open[name] = self._open.get(name, 0) + 1
        self.calls[name] = self.calls.get(name, 0) + 1

    def leave(self, name: str) -> None:
        self._open[name] -= 1
        if not self._open[name]:
            ms = (time.perf_counter() - self._since.pop(name)) * 1000
            self.wall[name] = self.wall.get(name, 0.0) + ms

    def header(self) -> str | None:
        """The Server-Timing value, or None if the request waited on no backend."""
        if not self.wall:
            return None
        total = (time.perf_counter() - self.started) * 1000
        waited = self.wall.get("backend", max(self.wall.values()))
        parts = []
        order = [n for n in DESCRIPTIONS if n in self.wall]
        for name in order + sorted(n for n in self.wall if n not in DESCRIPTIONS):
            ms = self.wall[name]
            desc = DESCRIPTIONS.get(name, name)
            if name != "backend":  # no commas: they separate metrics in the header
                desc += f" ({self.calls[name]} call{'s' if self.calls[name] != 1 else ''})"
            parts.append(f'{name};dur={ms:.1f};desc="{desc}"')
        parts.append(f'app;dur={max(0.0, total - waited):.1f};desc="console\'s own work"')
        parts.append(f"total;dur={total:.1f}")
        return ", ".join(parts)


CURRENT: ContextVar[RequestTiming | None] = ContextVar("sd_timing", default=None)


@asynccontextmanager
async def waiting_on(name: str = "backend") -> AsyncIterator[None]:
    """Time a call (or a phase) spent waiting on a backend, for the Server-Timing header."""
    timing = CURRENT.get()
    if timing is None:
        yield
        return
    timing.enter(name)
    try:
        yield
    finally:
        timing.leave(name)
