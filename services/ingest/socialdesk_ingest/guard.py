"""Back-pressure and de-duplication state kept by one ingest process: plain classes with
an injectable clock, so their behaviour is tested without sleeping."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable, Iterable

Clock = Callable[[], float]


class TokenBucket:
    """Per-key token buckets: `rate` tokens a second, up to `burst`. One key is one
    source (API key or platform) and client IP, so a flood from one sender is answered
    429 while everyone else carries on. Idle keys are forgotten to bound memory."""

    def __init__(
        self, rate: float, burst: int, clock: Clock = time.monotonic, max_keys: int = 10_000
    ) -> None:
        self.rate = rate
        self.burst = float(burst)
        self.clock = clock
        self.max_keys = max_keys
        self._state: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def take(self, key: str, cost: float = 1.0) -> float:
        """0.0 if allowed, else the seconds until a token will be there (Retry-After)."""
        now = self.clock()
        tokens, last = self._state.pop(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        wait = 0.0
        if tokens >= cost:
            tokens -= cost
        else:
            wait = (cost - tokens) / self.rate
        self._state[key] = (tokens, now)
        while len(self._state) > self.max_keys:
            self._state.popitem(last=False)
        return wait


class SeenCache:
    """Ids produced (and acknowledged) within `window_s`, at most `max_entries` of them,
    oldest forgotten first. A platform redelivers a message it thinks we missed; the id
    found here means it is already in Kafka and is answered 200 without producing."""

    def __init__(self, window_s: float, max_entries: int, clock: Clock = time.monotonic) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        self.clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._seen)

    def __contains__(self, key: object) -> bool:
        at = self._seen.get(key)  # type: ignore[call-overload]
        return at is not None and self.clock() - at <= self.window_s

    def add(self, keys: Iterable[str], at: float | None = None) -> None:
        """Record ids; `at` backdates ids recovered from Kafka to when they were written."""
        now = self.clock()
        for key in keys:
            self._seen.pop(key, None)
            self._seen[key] = now if at is None else at
        self._expire(now)

    def _expire(self, now: float) -> None:
        while self._seen and (
            len(self._seen) > self.max_entries
            or now - next(iter(self._seen.values())) > self.window_s
        ):
            self._seen.popitem(last=False)
