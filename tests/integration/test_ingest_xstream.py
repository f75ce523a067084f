"""The X filtered-stream client against a local fake X API (a real HTTP server): it
reads recorded tweets with keep-alive lines, reconnects after the connection is dropped,
waits for x-rate-limit-reset after a 429, and every tweet reaches mentions.raw once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from socialdesk_ingest.views import create_app
from socialdesk_ingest.xstream import Backoff, FilteredStream
from socialdesk_tools.stack import free_port, port_open, wait_for

from .conftest import Backend
from .helpers import create_topics, read_all, wait_until
from .test_ingest_webhooks import CONFIG, FIXTURES, ingest_settings

pytestmark = pytest.mark.integration

LINES = (FIXTURES / "x" / "stream_recorded.jsonl").read_bytes().split(b"\r\n")
TWEETS = [line for line in LINES if line.strip()]


class FakeX:
    """Connection 1 streams half the recording and then breaks the connection;
    connection 2 is refused with 429 until x-rate-limit-reset; connection 3 streams the
    whole recording again (X may resend around a reconnect) and then keeps alive."""

    def __init__(self, reset_in_s: float) -> None:
        self.reset_in_s = reset_in_s
        self.connections: list[tuple[float, int]] = []
        self.auth: list[str | None] = []
        self.reset_at = 0
        self.stop = threading.Event()
        app = FastAPI()

        @app.get("/2/tweets/search/stream")
        async def stream(request: Request) -> Response:
            n = len(self.connections) + 1
            self.auth.append(request.headers.get("authorization"))
            if n == 2:
                self.reset_at = int(time.time() + self.reset_in_s) + 1
                self.connections.append((time.time(), 429))
                return JSONResponse(
                    {"title": "Too Many Requests", "status": 429},
                    status_code=429,
                    headers={
                        "x-rate-limit-limit": "50",
                        "x-rate-limit-remaining": "0",
                        "x-rate-limit-reset": str(self.reset_at),
                    },
                )
            self.connections.append((time.time(), 200))
            return StreamingResponse(self._body(n), media_type="application/json")

        self.app = app

    async def _body(self, n: int) -> AsyncIterator[bytes]:
        if n == 1:
            half = LINES[: len(LINES) // 2]
            for line in half:
                yield line + b"\r\n"
                await asyncio.sleep(0.01)
            raise ConnectionResetError("dropped by the fake X API")
        for line in LINES:
            yield line + b"\r\n"
        while not self.stop.is_set():
            await asyncio.sleep(0.2)
            yield b"\r\n"  # keep-alive


@pytest.fixture
def fake_x() -> Iterator[tuple[FakeX, str]]:
    fake = FakeX(reset_in_s=2)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(fake.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: port_open(port), 20, "fake X API")
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        fake.stop.set()
        server.should_exit = True
        thread.join(timeout=10)


async def test_stream_reconnects_waits_on_429_and_produces_each_tweet_once(
    fake_x: tuple[FakeX, str], noida: Backend, prefix: str
) -> None:
    fake, base_url = fake_x
    settings = ingest_settings(noida.kafka, prefix, x_stream_base_url=base_url)
    create_topics(settings)
    app = create_app(settings, CONFIG)
    ing = app.state.ingest
    client = FilteredStream(
        base_url,
        "bearer-token",
        ing.on_stream_tweet,  # the same normalise + produce path as the webhooks
        stall_timeout_s=5,
        network=Backoff(0.2, 1),
        http_errors=Backoff(0.2, 1),
        rate_limit=Backoff(0.2, 1),  # short, so only x-rate-limit-reset explains a long wait
    )
    task = asyncio.create_task(client.run())
    try:

        async def all_there() -> Counter[str]:
            got = Counter(k for k, _ in await read_all(noida.kafka, prefix + "mentions.raw"))
            return got if len(got) == len(TWEETS) else Counter()

        counts = await wait_until(all_there, within=60)
        await asyncio.sleep(0.5)  # the resent tweets of connection 3 have been handled
        counts = Counter(k for k, _ in await read_all(noida.kafka, prefix + "mentions.raw"))
    finally:
        client.stop()
        fake.stop.set()
        await asyncio.wait_for(task, timeout=10)
        await ing.close()
    assert set(counts.values()) == {1} and len(counts) == len(TWEETS)
    assert [status for _, status in fake.connections] == [200, 429, 200]
    assert fake.connections[2][0] >= fake.reset_at - 0.05  # waited for the reset
    assert client.stats.rate_limited == 1 and client.stats.disconnects >= 1
    assert client.stats.keepalives >= 2
    assert set(fake.auth) == {"Bearer bearer-token"}


async def test_stream_with_silence_longer_than_stall_timeout_reconnects(
    noida: Backend, prefix: str
) -> None:
    """No keep-alive for stall_timeout_s means a dead connection: reconnect."""
    connections: list[float] = []
    app = FastAPI()

    @app.get("/2/tweets/search/stream")
    async def silent() -> StreamingResponse:
        connections.append(time.time())

        async def body() -> AsyncIterator[bytes]:
            yield b"\r\n"
            await asyncio.sleep(30)
            yield b"\r\n"

        return StreamingResponse(body())

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: port_open(port), 20, "fake X API")

    async def nothing(obj: object) -> None:
        return None

    client = FilteredStream(
        f"http://127.0.0.1:{port}", "t", nothing, stall_timeout_s=0.5, network=Backoff(0.1, 0.2)
    )
    task = asyncio.create_task(client.run())
    try:
        await wait_until(lambda: _ge(connections, 2), within=20, every=0.2)
    finally:
        client.stop()
        await asyncio.wait_for(task, timeout=10)
        server.should_exit = True
        thread.join(timeout=40)
    assert client.stats.disconnects >= 1


async def _ge(items: list[float], n: int) -> bool:
    return len(items) >= n
