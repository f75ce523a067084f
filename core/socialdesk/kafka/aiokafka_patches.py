"""The two places socialdesk reaches into aiokafka's internals, applied once and on
purpose by the client factories (socialdesk.kafka.client), never as a side effect of
building options. tests/unit/test_patched_internals.py fails when an upgrade moves them.

- fetch pacing: space fetches on brokers that answer an empty fetch at once;
- fast gzip: compress record batches at level 1 instead of aiokafka's level 9.
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

from socialdesk.settings import BaseServiceSettings

_FETCH_PACING_S = (0.0, 0.0, 0.0)  # (after an empty fetch, after records, idle at most)
GZIP_LEVEL = 1


def apply(settings: BaseServiceSettings) -> None:
    """Install both patches for this process (idempotent; the pacing follows `settings`)."""
    pace_fetches(
        settings.kafka_empty_fetch_wait_ms,
        settings.kafka_busy_fetch_wait_ms,
        settings.kafka_idle_fetch_wait_ms,
    )
    fast_gzip()


def empty_wait_s(empty_s: float, idle_s: float, empties: int) -> float:
    """The wait after the `empties`-th empty fetch in a row: empty_s, doubling while the
    consumer stays idle, up to idle_s (never below empty_s)."""
    return max(empty_s, min(idle_s, empty_s * 2 ** min(empties - 1, 16)))


def pace_fetches(empty_wait_ms: int, busy_wait_ms: int = 0, idle_wait_ms: int = 0) -> None:
    """Space fetches: at least empty_wait_ms after an empty one, widening up to
    idle_wait_ms while they stay empty (an idle service polls a few times a second, not
    fifty), and busy_wait_ms after one that returned records (so records gather into
    fewer, larger fetches).

    A broker holds a fetch with no data for fetch.max.wait.ms, so an idle consumer costs
    nothing; noida-db answers at once instead and aiokafka re-sends immediately, so an
    idle consumer would spin (docs/architecture.md, docs/benchmarks.md). On a broker that
    holds fetches the wait has already passed and this changes nothing. Process-wide."""
    global _FETCH_PACING_S
    _FETCH_PACING_S = (empty_wait_ms / 1000, busy_wait_ms / 1000, idle_wait_ms / 1000)
    from aiokafka.consumer.fetcher import Fetcher

    if getattr(Fetcher, "_socialdesk_paced", False):
        return
    original = Fetcher._proc_fetch_request

    async def paced(self: Any, assignment: Any, node_id: Any, request: Any) -> Any:
        loop = asyncio.get_running_loop()
        started = loop.time()
        got = await original(self, assignment, node_id, request)
        empties: dict[Any, int] = self.__dict__.setdefault("_socialdesk_empties", {})
        empties[node_id] = 0 if got else empties.get(node_id, 0) + 1
        empty_s, busy_s, idle_s = _FETCH_PACING_S
        wait = busy_s if got else empty_wait_s(empty_s, idle_s, empties[node_id])
        if wait > 0:
            remaining = wait - (loop.time() - started)
            if remaining > 0:
                try:
                    await asyncio.sleep(remaining)
                except asyncio.CancelledError:
                    return False  # closing or unassigned, as aiokafka itself treats it
        return got

    Fetcher._proc_fetch_request = paced
    Fetcher._socialdesk_paced = True


def fast_gzip() -> None:
    """Level-1 gzip for every producer in the process: several times faster than level 9
    at nearly the same ratio on our records (docs/benchmarks.md). Any level decodes the
    same way."""
    from aiokafka.record import default_records as pyrecords
    from aiokafka.record._crecords import default_records as crecords

    def encode(payload: Any, compresslevel: int | None = None) -> bytes:
        return gzip.compress(bytes(payload), compresslevel=GZIP_LEVEL, mtime=0)

    for module in (crecords, pyrecords):
        if getattr(module, "gzip_encode", None) is not None:
            module.gzip_encode = encode
