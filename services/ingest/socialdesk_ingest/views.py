"""HTTP only: the platforms' webhooks (Meta, X), the generic JSON/JSONL endpoints with
per-source API keys, and the X filtered stream running beside them.

Every request is answered 200 only after Kafka has acknowledged every record it
produced; if Kafka is unavailable the answer is 503 with Retry-After and the sender
retries, so nothing is lost. Order of checks, cheapest first: rate limit (429), body size
(413), signature or API key (401: nothing is produced), payload shape (400: the body goes
to the dead-letter topic), Kafka (503).

The two webhook POSTs (the platforms' traffic, thousands a second in an incident) are
served by a plain ASGI handler in front of FastAPI's routing and middleware (`IngestApp`,
handling.Webhook): same checks, same answers, same `Ingest` methods, less CPU per
delivery. Everything else goes through FastAPI (routes.py). This module assembles the app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from socialdesk import __version__
from socialdesk.config import PlatformConfig, load_config
from socialdesk.health import add_ops_routes
from socialdesk.httpsec import SecurityHeaders, docs_options, security_headers, wrap_send
from socialdesk.settings import IngestSettings
from socialdesk_ingest import routes
from socialdesk_ingest.handling import Ingest, Webhook, fast_posts


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


def create_app(settings: IngestSettings, config: PlatformConfig | None = None) -> IngestApp:
    """The ingest app: one Ingest (app.state.ingest) behind the fast webhook path and the
    routes (routes.py), with the X filtered stream run by the lifespan."""
    ing = Ingest(settings, config or load_config(settings.config_dir))

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

    async def ready() -> dict[str, bool]:
        ing.start_warm_up()
        try:
            await ing.holder.get()
            kafka = True
        except Exception:
            kafka = False
        return {"kafka": kafka, "dedup_warm": ing.deliverer.warm.is_set()}

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
    app.fast_posts = fast_posts(ing)
    add_ops_routes(app, ready)
    app.include_router(routes.router)
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
