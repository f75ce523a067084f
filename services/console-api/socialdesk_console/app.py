"""The console: Jinja2 pages and the JSON API they use, assembled from the routers in
routers/ (one per area). Queries are built by plain functions in queries.py, and every
consultation or change is written to audit.events (and acknowledged by Kafka) before the
answer is served."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from elasticsearch import AsyncElasticsearch
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from socialdesk import __version__
from socialdesk.config import DemoUser, PlatformConfig
from socialdesk.health import add_ops_routes
from socialdesk.httpsec import SecurityHeaders, security_headers
from socialdesk.settings import ConsoleSettings
from socialdesk_console.auth import COOKIE, SessionUnavailable
from socialdesk_console.context import HERE, ConsoleContext, build_context
from socialdesk_console.deps import NotSignedIn
from socialdesk_console.lifecycle import running
from socialdesk_console.replies import ReplyTooLong, TemplateProblem
from socialdesk_console.routers import ROUTERS
from socialdesk_console.timing import CURRENT as CURRENT_TIMING
from socialdesk_console.timing import RequestTiming

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


def readiness(ctx: ConsoleContext) -> Callable[[], Awaitable[dict[str, bool]]]:
    """Both backends a request needs: Elasticsearch (items, sessions) and Kafka (the
    audit trail every read waits for). When either is down the API answers 503 and
    /readyz says so too."""

    async def ready() -> dict[str, bool]:
        try:
            es_ok = bool(await ctx.es.ping())
        except Exception:
            es_ok = False
        try:
            await asyncio.wait_for(ctx.audit.holder.get(), timeout=5)
            kafka_ok = True
        except Exception:
            kafka_ok = False
        return {"elasticsearch": es_ok, "kafka": kafka_ok}

    return ready


def add_error_pages(app: FastAPI, ctx: ConsoleContext) -> None:
    """JSON errors for the API and for form posts; an error page for a browser's GET."""

    @app.exception_handler(NotSignedIn)
    async def _to_login(request: Request, exc: NotSignedIn) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or request.method != "GET":
            return JSONResponse(
                {"error": exc.detail}, status_code=exc.status_code, headers=exc.headers
            )
        try:
            user = await ctx.sessions.read(request.cookies.get(COOKIE))
        except SessionUnavailable:
            user = None
        ctx.use_language(request, user)
        return ctx.templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "detail": exc.detail, "user": user, "force_name": ""},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "details": errors}, status_code=422)

    @app.exception_handler(TemplateProblem)
    async def _template_problem(request: Request, exc: TemplateProblem) -> Response:
        return JSONResponse({"error": str(exc)}, status_code=422)

    @app.exception_handler(ReplyTooLong)
    async def _too_long(request: Request, exc: ReplyTooLong) -> Response:
        return JSONResponse(
            {"error": str(exc), "length": exc.length, "limit": exc.limit}, status_code=422
        )


def create_app(
    settings: ConsoleSettings,
    config: PlatformConfig,
    users: dict[str, DemoUser],
    es: AsyncElasticsearch,
    *,
    oidc_http: httpx.AsyncClient | None = None,
) -> FastAPI:
    """The console app over one context (app.state.ctx) that every router's handlers get
    through the `Ctx` dependency."""
    http = oidc_http or httpx.AsyncClient(timeout=settings.oidc_http_timeout_s)
    ctx = build_context(settings, config, users, es, http)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with running(ctx):
            yield

    app = FastAPI(
        title="socialdesk console",
        version=__version__,
        description="Operator console API: every page uses these endpoints.",
        # Swagger UI needs inline scripts the CSP forbids; /openapi.json stays.
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.sessions = ctx.sessions  # deps and sse read the session from here
    app.add_middleware(SecurityHeaders, headers=security_headers(settings.environment, CSP))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    add_ops_routes(app, readiness(ctx))

    @app.middleware("http")
    async def _server_timing(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        timing = RequestTiming()
        CURRENT_TIMING.set(timing)
        resp = await call_next(request)
        server_timing = timing.header()
        if server_timing:
            resp.headers["Server-Timing"] = server_timing
        return resp

    add_error_pages(app, ctx)
    for module in ROUTERS:
        app.include_router(module.router)
    return app


def main() -> None:
    import uvicorn

    from socialdesk.config import load_config, load_demo_users
    from socialdesk.es import make_es
    from socialdesk.logs import setup_logging
    from socialdesk.metrics import settle_heap

    settings = ConsoleSettings()
    setup_logging("console-api", settings.log_level)
    config = load_config(settings.config_dir)
    # Local accounts are for development and demos only; production signs in with OIDC.
    users = (
        load_demo_users(settings.demo_users_file, config)
        if settings.environment != "production"
        and settings.demo_users_file
        and settings.demo_users_file.is_file()
        else {}
    )
    app = create_app(settings, config, users, make_es(settings))
    settle_heap()
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port or 8080,
        log_config=None,
        access_log=False,
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )
