"""HTTP only: the platforms' webhooks (Meta, X), the generic JSON/JSONL endpoints with
per-source API keys, and the X filtered stream running beside them.

Every request is answered 200 only after Kafka has acknowledged every record it
produced; if Kafka is unavailable the answer is 503 with Retry-After and the sender
retries, so nothing is lost. Order of checks, cheapest first: rate limit (429), body size
(413), signature or API key (401: nothing is produced), payload shape (400: the body goes
to the dead-letter topic), Kafka (503).

The two webhook POSTs (the platforms' traffic, thousands a second in an incident) are
served by a plain ASGI handler in front of FastAPI's routing and middleware (`IngestApp`,
`Webhook`): same checks, same answers, same `Ingest` methods, about half the CPU per
delivery. Everything else goes through FastAPI."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import Counter
from starlette.types import Receive, Scope, Send

from socialdesk import __version__
from socialdesk.config import PlatformConfig, load_config
from socialdesk.health import add_ops_routes
from socialdesk.httpsec import SecurityHeaders, docs_options, security_headers, wrap_send
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
    normalise_x_activity,
    normalise_x_stream,
    parse_json,
)
from socialdesk_ingest.service import (
    IngestPlan,
    plan_ingest,
    plan_normalised,
    plan_outbound,
    plan_rejected_body,
    split_body,
)
from socialdesk_ingest.xstream import Backoff, FilteredStream

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
        _requests(route, status).inc()
        return Answer(status, {"error": message}, headers or None)

    def limited(self, route: str, key: str) -> Answer | None:
        wait = self.limiter.take(key)
        if wait <= 0:
            return None
        return self.error(route, 429, "too many requests", **{"Retry-After": str(int(wait) + 1)})

    async def produce(self, route: str, plan: IngestPlan, status: int = 200) -> Answer:
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
        delay = 0.5
        while True:
            try:
                await self.deliverer.deliver(plan.outputs)
                return
            except Exception as exc:
                log.warning("x stream: kafka unavailable", extra={"error": repr(exc)})
                await self.holder.reset()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)

    def stream(self) -> FilteredStream | None:
        s = self.settings
        if not s.x_stream_enabled or s.x_stream_bearer_token is None:
            return None
        return FilteredStream(
            s.x_stream_base_url,
            s.x_stream_bearer_token.get_secret_value(),
            self.on_stream_tweet,
            stall_timeout_s=s.x_stream_stall_timeout_s,
            network=Backoff(0.25, 16),
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


class IngestApp(FastAPI):
    """FastAPI, with the webhook POSTs answered before its middleware and routing (and
    the security headers added on that path too)."""

    fast_posts: dict[str, Webhook]
    fast_headers: list[tuple[bytes, bytes]]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path, root = scope["path"], scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]  # as Starlette's routing sees it
            hook = self.fast_posts.get(path)
            if hook is not None:
                await hook(scope, receive, wrap_send(send, scope, self.fast_headers))
                return
        await super().__call__(scope, receive, send)


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def create_app(settings: IngestSettings, config: PlatformConfig | None = None) -> IngestApp:
    ing = Ingest(settings, config or load_config(settings.config_dir))
    max_body = settings.max_body_bytes
    meta_secret = _secret(settings.meta_app_secret)
    meta_token = _secret(settings.meta_verify_token)
    x_secret = _secret(settings.x_consumer_secret)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ing.start_warm_up()
        stream = ing.stream()
        task = asyncio.create_task(stream.run()) if stream is not None else None
        try:
            yield
        finally:
            if stream is not None and task is not None:
                stream.stop()
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task
            await ing.close()

    app = IngestApp(
        title="socialdesk ingest",
        version=__version__,
        lifespan=lifespan,
        **docs_options(settings.environment),
    )
    headers = security_headers(settings.environment)
    app.add_middleware(SecurityHeaders, headers=headers)
    app.fast_headers = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    app.state.ingest = ing
    app.fast_posts = {
        "/webhooks/meta": Webhook(
            ing, "meta", meta_secret, b"x-hub-signature-256", signatures.verify_meta, normalise_meta
        ),
        "/webhooks/x": Webhook(
            ing,
            "x",
            x_secret,
            b"x-twitter-webhooks-signature",
            signatures.verify_x,
            normalise_x_activity,
        ),
    }

    async def ready() -> dict[str, bool]:
        ing.start_warm_up()
        try:
            await ing.holder.get()
            kafka = True
        except Exception:
            kafka = False
        return {"kafka": kafka, "dedup_warm": ing.deliverer.warm.is_set()}

    add_ops_routes(app, ready)

    def client_ip(request: Request) -> str:
        return request.client.host if request.client else "unknown"

    # ---- Meta: Facebook Pages, Messenger, Instagram ------------------------------------
    @app.get("/webhooks/meta")
    async def meta_verify(request: Request) -> Response:
        """Meta's subscription handshake: answer hub.challenge for our verify token."""
        q = request.query_params
        if not meta_token:
            return ing.error("meta", 404, "meta webhooks are not configured").response()
        challenge = signatures.meta_handshake(
            meta_token, q.get("hub.mode"), q.get("hub.verify_token"), q.get("hub.challenge")
        )
        if challenge is None:
            return ing.error("meta", 403, "verification failed").response()
        return PlainTextResponse(challenge)

    # POST /webhooks/meta: app.fast_posts, above

    # ---- X Account Activity API ------------------------------------------------------------
    @app.get("/webhooks/x")
    async def x_crc(crc_token: str | None = None) -> Response:
        """X's challenge-response check, made on registration and hourly after."""
        if not x_secret:
            return ing.error("x", 404, "x webhooks are not configured").response()
        if not crc_token:
            return ing.error("x", 400, "crc_token is required").response()
        return JSONResponse(signatures.x_crc_response(x_secret, crc_token))

    # POST /webhooks/x: app.fast_posts, above

    # ---- generic sources: socialdesk-shaped JSON / JSONL with an API key ----------------------
    async def generic(
        request: Request,
        route: str,
        api_key: str | None,
        plan_fn: Callable[[list[bytes], str], IngestPlan],
    ) -> Response:
        source = None
        for key, name in ing.keys.items():
            if api_key is not None and hmac.compare_digest(api_key.encode(), key.encode()):
                source = name
        if over := ing.limited(route, f"{route}:{source}:{client_ip(request)}"):
            return over.response()
        if source is None:
            return ing.error(route, 401, "missing or unknown X-Api-Key").response()
        try:
            body = await read_limited(request, max_body)
        except BodyTooLarge:
            return ing.error(route, 413, f"body over {max_body} bytes").response()
        if not body.strip():
            return ing.error(route, 400, "empty body: nothing to ingest").response()
        plan = plan_fn(split_body(body), f"http:{source}")
        accepted = plan.accepted + plan.outbound
        answer = await ing.produce(route, plan, 200 if accepted or not plan.rejected else 400)
        return answer.response()

    @app.post("/v1/mentions")
    async def post_mentions(
        request: Request, x_api_key: Annotated[str | None, Header()] = None
    ) -> Response:
        """Mentions already in the socialdesk shape: one JSON object, an array, or JSONL."""
        return await generic(request, "mentions", x_api_key, plan_ingest)

    @app.post("/v1/outbound")
    async def post_outbound(
        request: Request, x_api_key: Annotated[str | None, Header()] = None
    ) -> Response:
        """What a force published, from a source without webhooks (OutboundPost shape)."""
        return await generic(request, "outbound", x_api_key, plan_outbound)

    return app


def app_from_env() -> FastAPI:
    """Factory for uvicorn worker processes: each builds its own settings and app."""
    from socialdesk.logs import setup_logging

    settings = IngestSettings()
    setup_logging("ingest", settings.log_level)
    return create_app(settings)


def main() -> None:
    import uvicorn

    from socialdesk.logs import setup_logging

    settings = IngestSettings()
    setup_logging("ingest", settings.log_level)
    port = settings.http_port or 8081
    opts: dict[str, Any] = {"log_config": None, "access_log": False}
    if settings.ingest_workers > 1:
        if settings.x_stream_enabled:
            raise SystemExit(
                "the X filtered stream allows one connection: run it in a single-worker "
                "ingest (SOCIALDESK_INGEST_WORKERS=1)"
            )
        uvicorn.run(
            "socialdesk_ingest.views:app_from_env",
            factory=True,
            host=settings.http_host,
            port=port,
            workers=settings.ingest_workers,
            **opts,
        )
        return
    uvicorn.run(create_app(settings), host=settings.http_host, port=port, **opts)
