"""Health routes shared by every service: a small HTTP server for /healthz, /readyz and
/metrics beside the service's own work, and clean shutdown on SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable, Generator

import uvicorn
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from socialdesk import __version__
from socialdesk.httpsec import SecurityHeaders, security_headers
from socialdesk.metrics import BUILD

log = logging.getLogger(__name__)

ReadyCheck = Callable[[], Awaitable[dict[str, bool]]]


def add_ops_routes(app: FastAPI, ready: ReadyCheck) -> None:
    """Liveness (the process answers), readiness (its dependencies answer), metrics."""

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        checks = await ready()
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def ops_app(service: str, ready: ReadyCheck, environment: str = "development") -> FastAPI:
    """Health, readiness and metrics only: no API docs or schema in any environment, and
    the security headers every HTTP service sends (socialdesk.httpsec)."""
    app = FastAPI(
        title=f"socialdesk {service}",
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(SecurityHeaders, headers=security_headers(environment))
    add_ops_routes(app, ready)
    return app


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handling: run_until_signalled owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def make_server(app: FastAPI, host: str, port: int) -> uvicorn.Server:
    config = uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False)
    return _QuietServer(config)


async def run_until_signalled(
    service: str,
    work: list[Awaitable[None]],
    on_stop: Callable[[], None],
) -> None:
    """Run the service's coroutines until one ends or a signal asks us to stop."""
    BUILD.info({"version": __version__, "service": service})
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    tasks = [asyncio.ensure_future(w) for w in work]
    stopper = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
    for t in done:
        if t is not stopper and t.exception() is not None:
            log.error("service task failed", exc_info=t.exception())
    log.info("stopping", extra={"service": service})
    on_stop()
    for t in tasks:
        if not t.done():
            try:
                await asyncio.wait_for(t, timeout=10)
            except (TimeoutError, asyncio.CancelledError):
                t.cancel()
            except Exception:
                log.exception("task failed while stopping")
    stopper.cancel()
