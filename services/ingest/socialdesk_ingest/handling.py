"""What both HTTP paths share: the Ingest object (delivery, rate limit, API keys, the
X filtered stream's handler), answers, size-limited body reads, and the platforms'
webhook POSTs as plain ASGI handlers (`Webhook`, served by views.IngestApp ahead of
FastAPI's routing)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter
from starlette.types import Receive, Scope, Send

from socialdesk.backoff import Backoff
from socialdesk.config import PlatformConfig
from socialdesk.settings import IngestSettings
from socialdesk.topics import MENTIONS_RAW, POSTS_OUTBOUND
from socialdesk_ingest import signatures
from socialdesk_ingest.delivery import Deliverer, ProducerHolder
from socialdesk_ingest.guard import TokenBucket
from socialdesk_ingest.normalise import (
    Accounts,
    Normalised,
    UnknownPayload,
    normalise_meta,
    parse_json,
)
from socialdesk_ingest.normalise_x import normalise_x_activity, normalise_x_stream
from socialdesk_ingest.service import IngestPlan, plan_normalised, plan_rejected_body
from socialdesk_ingest.xstream import FilteredStream

log = logging.getLogger(__name__)

REQUESTS = Counter(
    "socialdesk_ingest_requests_total",
    "Ingest requests by endpoint and status",
    ["route", "status"],
)


@functools.cache
def _requests(route: str, status: int) -> Any:
    """REQUESTS' child for a route and status, looked up once (labels() takes a lock)."""
    return REQUESTS.labels(route, str(status))


DUPLICATES = Counter(
    "socialdesk_ingest_duplicates_total", "Redelivered platform messages not produced again"
)

Normaliser = Callable[[dict[str, Any], Accounts, datetime], Normalised]


@dataclass(frozen=True)
class Answer:
    """A JSON answer, built once and sent either through FastAPI or the fast path."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] | None = None

    def response(self) -> JSONResponse:
        return JSONResponse(self.body, status_code=self.status, headers=self.headers)

    async def send(self, send: Send) -> None:
        """As JSONResponse renders it (compact, UTF-8), without building a Response."""
        body = json.dumps(
            self.body, ensure_ascii=False, allow_nan=False, separators=(",", ":")
        ).encode()
        headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", b"application/json"),
        ]
        if self.headers:
            headers += [(k.lower().encode(), v.encode()) for k, v in self.headers.items()]
        await send({"type": "http.response.start", "status": self.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The sender disconnected before its body was complete: nothing to answer."""


def declared_too_large(declared: str | None, limit: int) -> bool:
    """A Content-Length over the limit (or not a number) is refused before reading."""
    return declared is not None and (not declared.isdigit() or int(declared) > limit)


async def read_limited(request: Request, limit: int) -> bytes:
    """Refuse by Content-Length before reading, and again while streaming (a chunked or
    lying sender never makes us hold more than the limit)."""
    if declared_too_large(request.headers.get("content-length"), limit):
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def receive_limited(receive: Receive, declared: str | None, limit: int) -> bytes:
    """read_limited for a plain ASGI handler."""
    if declared_too_large(declared, limit):
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientGone
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


class Ingest:
    """The app's moving parts, so tests and the stream reach the same delivery path."""

    def __init__(self, settings: IngestSettings, config: PlatformConfig) -> None:
        self.settings = settings
        self.accounts = Accounts.build(
            config, settings.ingest_account_ids, settings.ingest_account_ids_file
        )
        self.holder = ProducerHolder(settings, "ingest")
        self.deliverer = Deliverer(settings, self.holder)
        self.limiter = TokenBucket(settings.ingest_rate_per_s, settings.ingest_rate_burst)
        self.keys = settings.api_keys()
        self.meta_secret = _secret(settings.meta_app_secret)
        self.meta_token = _secret(settings.meta_verify_token)
        self.x_secret = _secret(settings.x_consumer_secret)
        self._warm_task: asyncio.Task[None] | None = None

    def start_warm_up(self) -> None:
        """Lazily, from inside the running loop (a test client may skip the lifespan)."""
        if self._warm_task is None:
            self._warm_task = asyncio.create_task(self.deliverer.warm_up())

    async def close(self) -> None:
        if self._warm_task is not None:
            self._warm_task.cancel()
            with contextlib.suppress(BaseException):
                await self._warm_task
        await self.holder.reset()

    def error(self, route: str, status: int, message: str, **headers: str) -> Answer:
        """A counted error answer."""
        _requests(route, status).inc()
        return Answer(status, {"error": message}, headers or None)

    def limited(self, route: str, key: str) -> Answer | None:
        """A 429 with Retry-After if this sender is over its rate, else None."""
        wait = self.limiter.take(key)
        if wait <= 0:
            return None
        return self.error(route, 429, "too many requests", **{"Retry-After": str(int(wait) + 1)})

    async def produce(self, route: str, plan: IngestPlan, status: int = 200) -> Answer:
        """Deliver the plan's records and answer only once Kafka has them (503 if not)."""
        self.start_warm_up()
        try:
            done = await self.deliverer.deliver(plan.outputs)
        except Exception as exc:
            log.warning("kafka unavailable", extra={"error": repr(exc)})
            await self.holder.reset()
            return self.error(
                route,
                503,
                "kafka unavailable, retry later",
                **{"Retry-After": str(self.settings.ingest_retry_after_s)},
            )
        if done.duplicates:
            DUPLICATES.inc(done.duplicates)
        _requests(route, status).inc()
        summary = plan.summary()
        # A redelivered message was accepted the first time: not again now.
        summary["accepted"] = plan.accepted - done.duplicates_by_topic.get(MENTIONS_RAW, 0)
        summary["outbound"] = plan.outbound - done.duplicates_by_topic.get(POSTS_OUTBOUND, 0)
        return Answer(status, {**summary, "duplicates": done.duplicates})

    async def platform_delivery(self, route: str, body: bytes, normalise: Normaliser) -> Answer:
        """A verified platform body: normalise, produce, answer."""
        try:
            result = normalise(parse_json(body), self.accounts, datetime.now(UTC))
        except UnknownPayload as exc:
            dead = await self.produce(route, plan_rejected_body(body, str(exc), route))
            if dead.status != 200:
                return dead  # Kafka away: 503, the platform retries and the body is kept
            return self.error(route, 400, f"unrecognised payload: {exc}")
        return await self.produce(route, plan_normalised(result, route))

    async def on_stream_tweet(self, obj: dict[str, Any]) -> None:
        """The filtered stream's handler: same normalise + produce path; the stream waits
        (and X eventually disconnects us) rather than drop a tweet while Kafka is away."""
        self.start_warm_up()
        try:
            plan = plan_normalised(
                normalise_x_stream(obj, self.accounts, datetime.now(UTC)), "x:stream"
            )
        except UnknownPayload as exc:
            plan = plan_rejected_body(json.dumps(obj).encode(), str(exc), "x:stream")
        retry = Backoff(0.5, 30)
        while True:
            try:
                await self.deliverer.deliver(plan.outputs)
                return
            except Exception as exc:
                log.warning("x stream: kafka unavailable", extra={"error": repr(exc)})
                await self.holder.reset()
                await retry.wait()

    def stream(self) -> FilteredStream | None:
        """The X filtered stream, when it is enabled and has a token."""
        s = self.settings
        if not s.x_stream_enabled or s.x_stream_bearer_token is None:
            return None
        return FilteredStream(
            s.x_stream_base_url,
            s.x_stream_bearer_token.get_secret_value(),
            self.on_stream_tweet,
            stall_timeout_s=s.x_stream_stall_timeout_s,
        )


@dataclass(frozen=True)
class Webhook:
    """A platform's webhook POST as a plain ASGI handler: the checks of the module
    docstring in their order (404 unconfigured, 429, 413, 401), then
    `Ingest.platform_delivery` (400 + dead letter, 503, 200)."""

    ing: Ingest
    route: str
    secret: str
    signature_header: bytes  # lower case, as ASGI servers give header names
    verify: Callable[[str, bytes, str | None], bool]
    normalise: Normaliser

    async def answer(self, scope: Scope, receive: Receive) -> Answer:
        ing, route = self.ing, self.route
        if not self.secret:
            return ing.error(route, 404, f"{route} webhooks are not configured")
        client = scope.get("client")
        if over := ing.limited(route, f"{route}:{client[0] if client else 'unknown'}"):
            return over
        declared: str | None = None
        signature: str | None = None
        for name, value in scope["headers"]:
            if name == b"content-length" and declared is None:
                declared = value.decode("latin-1")
            elif name == self.signature_header and signature is None:
                signature = value.decode("latin-1")
        limit = ing.settings.max_body_bytes
        try:
            body = await receive_limited(receive, declared, limit)
        except BodyTooLarge:
            return ing.error(route, 413, f"body over {limit} bytes")
        if not self.verify(self.secret, body, signature):
            return ing.error(route, 401, "missing or invalid signature")
        return await ing.platform_delivery(route, body, self.normalise)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            answer = await self.answer(scope, receive)
        except ClientGone:
            return  # nothing produced, nobody to answer
        except Exception:
            log.exception("webhook delivery failed", extra={"route": self.route})
            answer = self.ing.error(self.route, 500, "internal error")
        await answer.send(send)


def fast_posts(ing: Ingest) -> dict[str, Webhook]:
    """The webhook POSTs IngestApp answers before FastAPI, by path."""
    return {
        "/webhooks/meta": Webhook(
            ing,
            "meta",
            ing.meta_secret,
            b"x-hub-signature-256",
            signatures.verify_meta,
            normalise_meta,
        ),
        "/webhooks/x": Webhook(
            ing,
            "x",
            ing.x_secret,
            b"x-twitter-webhooks-signature",
            signatures.verify_x,
            normalise_x_activity,
        ),
    }
