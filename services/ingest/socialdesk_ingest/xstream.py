"""X API v2 filtered stream: public tweets matching the forces' rules, one JSON object a
line, blank keep-alive lines in between.

The connection is expected to drop now and then. The client reconnects with exponential
backoff and jitter (separate schedules for network errors, HTTP errors and 429, as X's
guidance asks), waits for x-rate-limit-reset when the connection allowance is spent, and
treats a silence longer than the stall timeout (no keep-alive) as a dead connection."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from socialdesk.backoff import Backoff

log = logging.getLogger(__name__)

STREAM_PATH = "/2/tweets/search/stream"
STREAM_PARAMS = {
    "tweet.fields": "created_at,author_id,conversation_id,entities,referenced_tweets,"
    "attachments,in_reply_to_user_id,lang",
    "expansions": "author_id,attachments.media_keys",
    "user.fields": "username,name",
    "media.fields": "url,preview_image_url,type",
}


@dataclass
class StreamStats:
    connects: int = 0
    tweets: int = 0
    keepalives: int = 0
    disconnects: int = 0
    rate_limited: int = 0
    http_errors: int = 0
    bad_lines: int = 0
    waits: list[float] = field(default_factory=list)


class FilteredStream:
    def __init__(
        self,
        base_url: str,
        bearer_token: str,
        handle: Callable[[dict[str, Any]], Awaitable[None]],
        *,
        stall_timeout_s: float = 30.0,
        network: Backoff | None = None,
        http_errors: Backoff | None = None,
        rate_limit: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.url = base_url.rstrip("/") + STREAM_PATH
        self.headers = {"Authorization": f"Bearer {bearer_token}", "User-Agent": "socialdesk"}
        self.handle = handle
        self.stall_timeout_s = stall_timeout_s
        self.network = network or Backoff(0.25, 16, jitter=0.5)
        self.http_errors = http_errors or Backoff(5, 320, jitter=0.5)
        self.rate_limit = rate_limit or Backoff(60, 960, jitter=0.5)
        self.clock = clock
        self.transport = transport
        self.stats = StreamStats()
        self._stop = asyncio.Event()

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> None:
        timeout = httpx.Timeout(10.0, read=self.stall_timeout_s)
        async with httpx.AsyncClient(timeout=timeout, transport=self.transport) as client:
            while not self._stop.is_set():
                wait = await self._connect_once(client)
                if wait > 0 and not self._stop.is_set():
                    self.stats.waits.append(wait)
                    log.info("x stream reconnecting", extra={"wait_s": round(wait, 2)})
                    try:
                        await asyncio.wait_for(self._stop.wait(), timeout=wait)
                    except TimeoutError:
                        pass

    async def _connect_once(self, client: httpx.AsyncClient) -> float:
        """One connection, read until it ends; returns how long to wait before the next."""
        try:
            async with client.stream(
                "GET", self.url, params=STREAM_PARAMS, headers=self.headers
            ) as resp:
                reset_wait = self._reset_wait(resp.headers)
                if resp.status_code == 429:
                    self.stats.rate_limited += 1
                    return max(reset_wait or 0.0, self.rate_limit.delay())
                if resp.status_code != 200:
                    self.stats.http_errors += 1
                    body = (await resp.aread())[:500]
                    log.warning(
                        "x stream refused",
                        extra={"status": resp.status_code, "body": body.decode(errors="replace")},
                    )
                    return max(reset_wait or 0.0, self.http_errors.delay())
                self.stats.connects += 1
                self.network.reset()
                self.http_errors.reset()
                self.rate_limit.reset()
                await self._read(resp)
                # The server ended the stream: reconnect, but not before the allowance resets.
                self.stats.disconnects += 1
                return max(reset_wait or 0.0, self.network.delay())
        except httpx.TransportError as exc:  # refused, reset, dropped, stalled (read timeout)
            self.stats.disconnects += 1
            log.warning("x stream connection lost", extra={"error": repr(exc)})
            return self.network.delay()

    async def _read(self, resp: httpx.Response) -> None:
        async for line in resp.aiter_lines():
            if self._stop.is_set():
                return
            if not line.strip():
                self.stats.keepalives += 1
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                self.stats.bad_lines += 1
                log.warning("x stream: unreadable line", extra={"line": line[:200]})
                continue
            if not isinstance(obj, dict) or "data" not in obj:
                # e.g. {"errors": [{"title": "operational-disconnect", ...}]}
                log.warning("x stream message", extra={"message": str(obj)[:500]})
                continue
            self.stats.tweets += 1
            await self.handle(obj)

    def _reset_wait(self, headers: httpx.Headers) -> float | None:
        """Seconds until x-rate-limit-reset if no connections remain (or on a 429)."""
        remaining, reset = headers.get("x-rate-limit-remaining"), headers.get("x-rate-limit-reset")
        if reset is None or not reset.isdigit():
            return None
        if remaining is not None and remaining.isdigit() and int(remaining) > 0:
            return None
        return max(0.0, int(reset) - self.clock())
