"""The console: Jinja2 pages and the JSON API they use. HTTP only; queries are built by
plain functions in queries.py, and every consultation or change is written to
audit.events (and acknowledged by Kafka) before the answer is served."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
import logging
import math
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from elasticsearch import AsyncElasticsearch, NotFoundError
from fastapi import FastAPI, Form, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from itsdangerous import BadSignature, URLSafeTimedSerializer
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from socialdesk import __version__
from socialdesk.config import DemoUser, PlatformConfig
from socialdesk.es import alias
from socialdesk.events import Actor, AuditEvent, ItemCommand, OperatorPresence, item_key_of, utcnow
from socialdesk.health import add_ops_routes
from socialdesk.httpsec import SecurityHeaders, security_headers
from socialdesk.kafka import KafkaRuntime, Output
from socialdesk.settings import ConsoleSettings
from socialdesk.taxonomy import Flag, Intent, Outcome, Platform, Priority
from socialdesk.topics import ITEMS_COMMANDS, OPERATORS_PRESENCE
from socialdesk_console import board, handover, reports
from socialdesk_console.audit import AuditWriter, audit_event, client_ip
from socialdesk_console.auth import (
    Identity,
    SessionRules,
    Sessions,
    SessionUnavailable,
    User,
    dummy_hash,
    verify_password,
)
from socialdesk_console.board import BoardFeed
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import (
    COOKIE,
    ActingUser,
    AdminPageUser,
    AdminUser,
    ApiUser,
    CsrfUser,
    NotSignedIn,
    PageUser,
    SearchFilters,
    When,
)
from socialdesk_console.guards import ACCOUNT, ADDRESS, GuardStore, locked_for
from socialdesk_console.oidc import OidcClient, OidcError, load_mapping, map_claims, pkce_pair
from socialdesk_console.outcomes import OutcomeWatcher
from socialdesk_console.publish import Publisher, ReplyDispatcher, make_publisher
from socialdesk_console.queries import (
    AUDIT_SORT,
    SEARCH_PAGE,
    SEARCH_SORT,
    VIEWS,
    audit_query,
    counters_query,
    deliveries_request,
    history_request,
    inbox_request,
    search_query,
    sla_due,
    sla_ids,
    sort_by_due,
    timeline_request,
    visible,
)
from socialdesk_console.render_worker import TemplateRenderer
from socialdesk_console.replies import (
    PLATFORM_LIMITS,
    Catalogue,
    ReplyTooLong,
    TemplateProblem,
    check_length,
    default_language,
    template_variables,
)
from socialdesk_console.sse import stream_response
from socialdesk_console.timing import CURRENT as CURRENT_TIMING
from socialdesk_console.timing import RequestTiming, waiting_on

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
CommandType = Literal[
    "claim",
    "release",
    "assign",
    "note",
    "reply",
    "regrade",
    "recategorise",
    "transfer",
    "await_public",
    "resolve",
    "reopen",
]
SUPERVISOR_COMMANDS = {"assign"}
LOGIN_CSRF = "sd_login_csrf"
OIDC_COOKIE = "sd_oidc"
HL_PRE, HL_POST = "\ue000", "\ue001"  # highlight markers no message contains
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)


class PresenceRequest(BaseModel):
    status: Literal["online", "busy", "offline"]


class CommandRequest(BaseModel):
    type: CommandType
    payload: dict[str, Any] = Field(default_factory=dict)
    expected_seq: int | None = Field(default=None, ge=0)


class PreviewRequest(BaseModel):
    template_id: str | None = Field(default=None, max_length=100)
    language: Literal["en", "cy"] = "en"
    source: str | None = Field(default=None, max_length=10_000, description="edited template")
    variables: dict[str, str] = Field(default_factory=dict)


class ReplyRequest(BaseModel):
    text: str = Field(min_length=1, max_length=20_000)
    template_id: str | None = Field(default=None, max_length=100)
    language: Literal["en", "cy"] | None = None
    expected_seq: int | None = Field(default=None, ge=0)


def presence_record(user: User, status: str) -> Output | None:
    """The operator's presence for assign's auto-assignment and alerts (national viewers
    have none; a national duty officer's has no force)."""
    if not user.can_act or (user.force is None and not user.duty):
        return None
    rec = OperatorPresence(
        operator=user.username,
        force=user.force,
        role=user.role,
        status=status,
        teams=list(user.teams),
        skills=list(user.skills),
        at=utcnow(),
    )
    return Output(OPERATORS_PRESENCE, user.username, rec)


def highlight_segments(fragment: str) -> list[dict[str, Any]]:
    """A highlighted fragment as [{text, hit}] so pages and clients never parse HTML."""
    out: list[dict[str, Any]] = []
    rest = fragment
    while rest:
        start = rest.find(HL_PRE)
        if start < 0:
            out.append({"text": rest, "hit": False})
            break
        if start:
            out.append({"text": rest[:start], "hit": False})
        end = rest.find(HL_POST, start)
        end = len(rest) if end < 0 else end
        out.append({"text": rest[start + 1 : end], "hit": True})
        rest = rest[end + 1 :]
    return out


def login_audit(request: Request, username: str, user: DemoUser | None, action: str) -> AuditEvent:
    """A failed or throttled sign-in. A known account is named; an unknown name is not
    written down (it is often a password typed in the wrong box), only a keyed hint."""
    return AuditEvent(
        event_id=str(uuid.uuid4()),
        at=utcnow(),
        actor=Actor(kind="public", id=user.username if user else "unknown-user"),
        role=user.role if user else None,
        action=action,
        target_type="session",
        target_id=None,
        force=user.force if user else None,
        source_ip=client_ip(request),
        details={"user_agent": request.headers.get("user-agent", "")[:200]},
    )


def encode_cursor(sort: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(sort).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise HTTPException(400, "bad paging cursor; start the search again") from exc
    if (
        not isinstance(value, list)
        or not value
        or len(value) > 4
        or not all(
            v is None or (isinstance(v, str | int | float) and not isinstance(v, bool))
            for v in value
        )
    ):
        raise HTTPException(400, "bad paging cursor; start the search again")
    return value


def create_app(
    settings: ConsoleSettings,
    config: PlatformConfig,
    users: dict[str, DemoUser],
    es: AsyncElasticsearch,
    *,
    publisher: Publisher | None = None,
    oidc_http: httpx.AsyncClient | None = None,
) -> FastAPI:
    app = FastAPI(
        title="socialdesk console",
        version=__version__,
        description="Operator console API: every page uses these endpoints.",
        # Swagger UI needs inline scripts the CSP forbids, so never here; /openapi.json
        # stays (the API is documented and every route still checks who asks).
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(SecurityHeaders, headers=security_headers(settings.environment, CSP))
    sessions = Sessions(
        settings.session_secret.get_secret_value(),
        SessionRules(settings.session_idle_s, settings.session_max_age_s),
        es,
        alias(settings, "console-sessions"),
    )
    app.state.sessions = sessions
    guards = GuardStore(
        es, alias(settings, "console-guards"), settings.session_secret.get_secret_value()
    )
    renderer = TemplateRenderer()
    # Password checks run in threads (PBKDF2 releases the GIL), at most two at once so a
    # flood of sign-ins cannot take every core; an unknown user's password is checked
    # against a hash of the same cost, so both take the same time.
    hashing = asyncio.Semaphore(2)
    unknown_user_hash = dummy_hash([u.password_hash for u in users.values()])
    flow_signer = URLSafeTimedSerializer(
        settings.session_secret.get_secret_value(), salt="socialdesk-oidc-flow"
    )
    audit = AuditWriter(settings)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    items_index = alias(settings, "items")
    sla_index = alias(settings, "sla")
    audit_index = alias(settings, "audit")
    events_index = alias(settings, "events")
    catalogue = Catalogue.load(
        settings.reply_templates_dir or settings.config_dir / "templates" / "replies"
    )
    http = oidc_http or httpx.AsyncClient(timeout=settings.oidc_http_timeout_s)
    oidc: OidcClient | None = None
    if settings.oidc_issuer and settings.oidc_client_id:
        oidc = OidcClient(
            settings.oidc_issuer,
            settings.oidc_client_id,
            settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None,
            settings.public_url.rstrip("/") + "/auth/callback",
            scopes=settings.oidc_scopes,
            jwks_cache_s=settings.oidc_jwks_cache_s,
            leeway_s=settings.oidc_leeway_s,
            http=http,
        )
    claim_mapping = load_mapping(settings.oidc_claims_file or settings.config_dir / "oidc.yaml")
    app.state.oidc = oidc

    async def ready() -> dict[str, bool]:
        """Both backends a request needs: Elasticsearch (items, sessions) and Kafka (the
        audit trail every read waits for). When either is down the API answers 503 and
        this says so too."""
        try:
            es_ok = bool(await es.ping())
        except Exception:
            es_ok = False
        try:
            await asyncio.wait_for(audit.holder.get(), timeout=5)
            kafka_ok = True
        except Exception:
            kafka_ok = False
        return {"elasticsearch": es_ok, "kafka": kafka_ok}

    add_ops_routes(app, ready)

    outcomes = OutcomeWatcher(settings)
    app.state.outcomes = outcomes
    ctx = ConsoleContext(settings, config, es, audit, templates, outcomes)
    board_feed = BoardFeed(settings)
    app.include_router(reports.router(ctx))
    app.include_router(board.router(ctx, board_feed))
    app.include_router(handover.router(ctx))

    async def already_delivered(item_id: str, event_id: str) -> bool:
        try:
            resp = await es.search(
                index=audit_index,
                query={
                    "bool": {
                        "filter": [
                            {"term": {"target_id": item_id}},
                            {"term": {"action": "reply.delivered"}},
                        ]
                    }
                },
                size=100,
            )
        except Exception:
            return False
        return any(
            (h["_source"].get("details") or {}).get("event_id") == event_id
            for h in resp["hits"]["hits"]
        )

    async def write_system_audit(events: list[AuditEvent]) -> None:
        await audit.write(events)

    dispatcher = ReplyDispatcher(
        settings,
        publisher or make_publisher(settings, http),
        write_system_audit,
        already_delivered,
    )
    runtime = KafkaRuntime(settings, dispatcher, max_records=50)
    tasks: list[asyncio.Task[None]] = []

    async def purge_security_state() -> None:
        """Hourly: ended sessions and stale sign-in counters leave the indices (every
        replica does it; a delete by query is harmless twice)."""
        while True:
            await asyncio.sleep(3600)
            for purge in (sessions.purge, guards.purge):
                try:
                    await purge()
                except Exception as exc:
                    log.warning("security state purge failed", extra={"error": repr(exc)})

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        outcomes.start()
        board_feed.start()
        tasks.append(asyncio.create_task(runtime.run()))
        purger = asyncio.create_task(purge_security_state())
        tasks.append(asyncio.create_task(renderer.warm()))
        try:
            yield
        finally:
            dispatcher.stopping = True
            purger.cancel()
            runtime.stop()
            await outcomes.stop()
            await board_feed.stop()
            for t in tasks:
                try:
                    await asyncio.wait_for(t, timeout=5)
                except BaseException:
                    t.cancel()
            await audit.close()
            await renderer.close()
            await http.aclose()

    app.router.lifespan_context = lifespan

    @app.middleware("http")
    async def _security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        timing = RequestTiming()
        CURRENT_TIMING.set(timing)
        resp = await call_next(request)
        server_timing = timing.header()
        if server_timing:
            resp.headers["Server-Timing"] = server_timing
        return resp  # the security headers: SecurityHeaders, on every answer

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
            user = await sessions.read(request.cookies.get(COOKIE))
        except SessionUnavailable:
            user = None
        return templates.TemplateResponse(
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

    force_name = ctx.force_name
    search = ctx.search

    async def attach_sla(items: list[dict[str, Any]]) -> None:
        if not items:
            return
        ids = sla_ids([i["id"] for i in items])
        resp: Any
        try:
            async with waiting_on("es"):
                resp = await es.mget(index=sla_index, ids=ids)
        except Exception:
            resp = {"docs": []}
        clocks: dict[str, dict[str, dict[str, Any]]] = {}
        for d in resp["docs"]:
            if d.get("found"):
                src = d["_source"]
                clocks.setdefault(src["item_id"], {})[src["clock"]] = {
                    "deadline": src.get("deadline"),
                    "state": src.get("state"),
                }
        for item in items:
            c = clocks.get(item["id"], {})
            item["clocks"] = c
            item["sla_first_response"] = c.get("first_response")
            item["sla_due"] = sla_due(c) if item.get("open", True) else None

    async def counts(user: User, filters: dict[str, str]) -> dict[str, int]:
        query, aggs = counters_query(user, filters)
        return counters_of(await search(index=items_index, query=query, aggs=aggs, size=0))

    def counters_of(resp: Any) -> dict[str, int]:
        aggs = resp.get("aggregations") or {}
        buckets = aggs.get("views", {}).get("buckets", {})
        out = {v: int(buckets.get(v, {}).get("doc_count", 0)) for v in VIEWS}
        out["p1"] = int(aggs.get("p1", {}).get("doc_count", 0))
        return out

    async def list_items(
        user: User, view: str, filters: dict[str, str], size: int
    ) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
        if view not in VIEWS:
            raise HTTPException(400, f"unknown view {view!r}; use one of {', '.join(VIEWS)}")
        resp = await search(index=items_index, **inbox_request(user, view, filters, size))
        hits = [h["_source"] for h in resp["hits"]["hits"]]
        await attach_sla(hits)
        counters = counters_of(resp)
        return sort_by_due(hits), counters[view], counters

    async def fetch_item(user: User, item_id: str) -> dict[str, Any]:
        """By id (the document id is the item id), then the scope rule: another force's
        item answers exactly like a missing one. Without its SLA clocks (get_item)."""
        if len(item_id) > 200:
            raise HTTPException(404, "no such item")
        doc: Any
        try:
            async with waiting_on("es"):
                doc = await es.get(index=items_index, id=item_id)
        except NotFoundError:
            doc = {"found": False}
        except Exception as exc:
            raise HTTPException(503, "search is unavailable; try again shortly") from exc
        item: dict[str, Any] = doc.get("_source") or {}
        if not doc.get("found") or item.get("id") != item_id or not visible(user, item):
            raise HTTPException(404, "no such item")
        return item

    async def get_item(user: User, item_id: str) -> dict[str, Any]:
        """The item (404 unless the user may see it) with its SLA clocks."""
        item = await fetch_item(user, item_id)
        await attach_sla([item])
        return item

    async def history(user: User, item: dict[str, Any]) -> list[dict[str, Any]]:
        resp = await search(index=items_index, **history_request(user, item))
        return [h["_source"] for h in resp["hits"]["hits"]]

    async def timeline(user: User, item: dict[str, Any]) -> list[dict[str, Any]]:
        """The whole history of an item the user may see (fetched by fetch_item)."""
        resp = await search(index=events_index, **timeline_request(user, item["id"], item))
        return [h["_source"] for h in resp["hits"]["hits"]]

    async def deliveries(item: dict[str, Any]) -> list[dict[str, Any]]:
        resp = await search(index=audit_index, **deliveries_request(item))
        return [h["_source"] for h in resp["hits"]["hits"]]

    async def limit_previews(user: User) -> None:
        try:
            ok = await guards.take(
                guards.key("preview", user.username), settings.preview_per_minute, 60
            )
        except Exception as exc:
            raise HTTPException(
                503, "the preview limit cannot be checked; try again shortly"
            ) from exc
        if not ok:
            raise HTTPException(
                429,
                f"more than {settings.preview_per_minute} previews in a minute; wait a moment",
                headers={"Retry-After": "60"},
            )

    def variables_for(user: User, item: dict[str, Any], extra: dict[str, str]) -> dict[str, Any]:
        fc = config.forces.get(item.get("force") or "")
        return template_variables(item, fc, catalogue.links(fc), user.display_name, extra)

    async def send_command(
        request: Request,
        user: User,
        item_id: str,
        type_: str,
        payload: dict[str, Any],
        expected_seq: int | None,
        audit_details: dict[str, Any] | None = None,
    ) -> JSONResponse:
        """Send an action to the item's owner service and wait (up to 5 s) for its outcome:
        200 applied, 409 rejected with the reason, 202 if still pending."""
        cmd = ItemCommand(
            command_id=str(uuid.uuid4()),
            item_id=item_id,
            type=type_,
            actor=Actor(kind="operator", id=user.username, force=user.force),
            issued_at=utcnow(),
            expected_seq=expected_seq,
            payload={**payload, "role": user.role},
        )
        waiter = outcomes.expect(cmd.command_id)
        try:
            await audit.write(
                [
                    audit_event(
                        user,
                        request,
                        f"item.{type_}",
                        "item",
                        item_id,
                        command_id=cmd.command_id,
                        **(audit_details or {}),
                    )
                ],
                also=[Output(ITEMS_COMMANDS, item_key_of(item_id), cmd)],
            )
            ev = await asyncio.wait_for(waiter, timeout=5)
        except TimeoutError:
            return JSONResponse(
                {"status": "pending", "command_id": cmd.command_id}, status_code=202
            )
        finally:
            outcomes.forget(cmd.command_id)
        if ev["type"] == "rejected":
            return JSONResponse(
                {"status": "rejected", "reason": ev["data"].get("reason"), "event": ev},
                status_code=409,
            )
        return JSONResponse({"status": "applied", "event": ev})

    def validate_payload(type_: str, payload: dict[str, Any], item: dict[str, Any]) -> None:
        """Catch obvious mistakes here with a clear 422; assign still has the last word."""
        if type_ in ("reply", "note"):
            text = payload.get("text")
            if not isinstance(text, str) or not text.strip():
                raise HTTPException(422, f"{type_} needs a text")
            if len(text) > 20_000:
                raise HTTPException(422, "text is too long")
            if type_ == "reply":
                check_length(item["platform"], text)
        if type_ == "regrade" and payload.get("priority") not in {p.value for p in Priority}:
            raise HTTPException(422, "regrade needs priority P1, P2, P3 or P4")
        if type_ == "recategorise":
            if "intent" in payload and payload["intent"] not in {i.value for i in Intent}:
                raise HTTPException(422, f"unknown intent {payload['intent']!r}")
            bad = [f for f in payload.get("flags", []) if f not in {f.value for f in Flag}]
            if bad:
                raise HTTPException(422, f"unknown flag(s) {bad}")
        if type_ == "resolve" and payload.get("outcome") not in {o.value for o in Outcome}:
            raise HTTPException(422, "resolve needs an outcome")
        if type_ == "transfer" and payload.get("force", item["force"]) not in config.forces:
            raise HTTPException(422, "unknown force")

    def session_cookie(resp: Response, token: str) -> None:
        resp.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            max_age=settings.session_max_age_s,
        )
        # The cookie may outlive a browser session; the server-side session decides.

    async def signed_in_response(request: Request, identity: Identity, via: str) -> Response:
        try:
            token, user = await sessions.issue(identity, auth=via)
        except SessionUnavailable:
            return login_page_response(request, "Sign-in is unavailable; try again shortly", 503)
        online = presence_record(user, "online")
        await audit.write(
            [audit_event(user, request, "signed_in", "session", None, via=via)],
            also=[online] if online else None,
        )
        resp = RedirectResponse("/inbox", status_code=303)
        session_cookie(resp, token)
        resp.delete_cookie(LOGIN_CSRF)
        resp.delete_cookie(OIDC_COOKIE)
        return resp

    def login_page_response(
        request: Request,
        error: str | None,
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> Response:
        token = secrets.token_urlsafe(24)
        resp = templates.TemplateResponse(
            request,
            "login.html",
            {
                "csrf": token,
                "error": error,
                "user": None,
                "oidc": oidc is not None,
                "local": bool(users),
            },
            status_code=status,
            headers=headers,
        )
        resp.set_cookie(
            LOGIN_CSRF, token, httponly=True, samesite="strict", secure=settings.cookie_secure
        )
        return resp

    # ---- sign-in -------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse, tags=["sign-in"])
    async def login_page(request: Request) -> Response:
        return login_page_response(request, None)

    @app.post("/login", tags=["sign-in"])
    async def login(
        request: Request,
        username: Annotated[str, Form(max_length=200)],
        password: Annotated[str, Form(max_length=500)],
        csrf: Annotated[str, Form(max_length=200)],
    ) -> Response:
        """Local accounts (development and demos only)."""
        expected = request.cookies.get(LOGIN_CSRF)
        if not expected or not secrets.compare_digest(expected, csrf):
            raise HTTPException(403, "form expired or forged (CSRF check failed); reload and retry")
        # The same steps, in the same order, for a known and an unknown username: the
        # answer and its timing say nothing about which usernames exist.
        address = client_ip(request) or "unknown"
        acct_key, addr_key = guards.key("account", username), guards.key("address", address)
        try:
            state = await guards.read([acct_key, addr_key])
        except Exception:
            return login_page_response(request, "Sign-in is unavailable; try again shortly", 503)
        now = time.time()
        wait = max(locked_for(state.get(acct_key), now), locked_for(state.get(addr_key), now))
        user = users.get(username)
        if wait > 0:
            await audit.write([login_audit(request, username, user, "sign_in.throttled")])
            return login_page_response(
                request,
                f"Too many failed sign-ins. Try again in {math.ceil(wait)} seconds.",
                429,
                headers={"Retry-After": str(math.ceil(wait))},
            )
        async with hashing:
            ok = await asyncio.to_thread(
                verify_password, password, user.password_hash if user else unknown_user_hash
            )
        if user is None or not ok:
            try:
                await asyncio.gather(
                    guards.fail(acct_key, ACCOUNT, "account"),
                    guards.fail(addr_key, ADDRESS, "address"),
                )
            except Exception:
                return login_page_response(
                    request, "Sign-in is unavailable; try again shortly", 503
                )
            await audit.write([login_audit(request, username, user, "sign_in.failed")])
            return login_page_response(request, "Unknown user or wrong password", 401)
        try:
            await guards.clear(acct_key)
        except Exception:
            return login_page_response(request, "Sign-in is unavailable; try again shortly", 503)
        return await signed_in_response(request, user, "local")

    @app.get("/login/oidc", tags=["sign-in"])
    async def login_oidc(request: Request) -> Response:
        """Start the authorization code flow (PKCE) at the force's identity provider."""
        if oidc is None:
            raise HTTPException(404, "single sign-on is not configured")
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier, challenge = pkce_pair()
        try:
            url = await oidc.authorization_url(state, nonce, challenge)
        except OidcError as exc:
            return login_page_response(request, str(exc), 503)
        resp = RedirectResponse(url, status_code=303)
        resp.set_cookie(
            OIDC_COOKIE,
            flow_signer.dumps({"s": state, "n": nonce, "v": verifier}),
            httponly=True,
            samesite="lax",  # the issuer's redirect back is a cross-site top-level GET
            secure=settings.cookie_secure,
            max_age=600,
        )
        return resp

    @app.get("/auth/callback", tags=["sign-in"])
    async def oidc_callback(
        request: Request,
        code: Annotated[str | None, Query(max_length=2000)] = None,
        state: Annotated[str | None, Query(max_length=200)] = None,
        error: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        """The identity provider sends the browser back here with a code."""
        if oidc is None:
            raise HTTPException(404, "single sign-on is not configured")
        try:
            flow = flow_signer.loads(request.cookies.get(OIDC_COOKIE) or "", max_age=600)
        except BadSignature:
            return login_page_response(request, "Sign-in expired; start again", 401)
        if error or not code or not state or not secrets.compare_digest(state, flow["s"]):
            return login_page_response(
                request, f"Sign-in refused: {error or 'state mismatch'}", 401
            )
        try:
            token = await oidc.exchange(code, flow["v"])
            claims = await oidc.validate(token, flow["n"])
            identity = map_claims(claims, claim_mapping, config)
        except OidcError as exc:
            log.warning("oidc sign-in refused", extra={"why": str(exc)})
            return login_page_response(request, f"Sign-in refused: {exc}", 401)
        return await signed_in_response(request, identity, "oidc")

    @app.post("/logout", tags=["sign-in"])
    async def logout(
        request: Request,
        user: ApiUser,
        csrf: Annotated[str, Form(max_length=200)],
        everywhere: Annotated[bool, Form()] = False,
    ) -> Response:
        """Sign out: the session is ended on the server, so a copy of its cookie is
        refused by every replica. With `everywhere`, every session of this user is."""
        if not secrets.compare_digest(user.csrf, csrf):
            raise HTTPException(403, "CSRF check failed")
        try:
            await (sessions.end_everywhere(user) if everywhere else sessions.end(user))
        except SessionUnavailable as exc:
            raise HTTPException(503, "could not sign out right now; try again") from exc
        offline = presence_record(user, "offline")
        await audit.write(
            [
                audit_event(
                    user,
                    request,
                    "signed_out_everywhere" if everywhere else "signed_out",
                    "session",
                    None,
                )
            ],
            also=[offline] if offline else None,
        )
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    # ---- pages ---------------------------------------------------------------------
    page = ctx.page

    def taxonomy() -> dict[str, list[str]]:
        return {
            "priorities": [p.value for p in Priority],
            "intents": [i.value for i in Intent],
            "flags": [f.value for f in Flag],
            "platforms": [p.value for p in Platform],
            "outcomes": [o.value for o in Outcome],
        }

    def inbox_filters(
        priority: str | None,
        intent: str | None,
        flag: str | None,
        platform: str | None,
        team: str | None,
    ) -> dict[str, str]:
        raw = {
            "priority": priority,
            "intent": intent,
            "flags": flag,
            "platform": platform,
            "team": team,
        }
        return {k: v for k, v in raw.items() if v}

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/inbox", status_code=303)

    @app.get("/inbox", response_class=HTMLResponse, tags=["pages"])
    async def inbox_page(
        request: Request,
        user: PageUser,
        view: str = "all_open",
        priority: Annotated[str | None, Query(max_length=10)] = None,
        intent: Annotated[str | None, Query(max_length=40)] = None,
        flag: Annotated[str | None, Query(max_length=40)] = None,
        platform: Annotated[str | None, Query(max_length=40)] = None,
        team: Annotated[str | None, Query(max_length=60)] = None,
    ) -> Response:
        filters = inbox_filters(priority, intent, flag, platform, team)
        # The audit record is written while the queries run: the page still waits for
        # Kafka's acknowledgement, but not one round trip after the other.
        async with waiting_on():
            (items, total, counters), _ = await asyncio.gather(
                list_items(user, view, filters, 100),
                audit.write(
                    [audit_event(user, request, "inbox.viewed", "inbox", view, filters=filters)]
                ),
            )
        teams = (
            sorted({t.id for t in config.forces[user.force].teams})
            if user.force in config.forces
            else []
        )
        return page(
            request,
            "inbox.html",
            user,
            items=items,
            total=total,
            view=view,
            views=VIEWS,
            counts=counters,
            filters=filters,
            teams=teams,
            **taxonomy(),
        )

    @app.get("/items/{item_id}", response_class=HTMLResponse, tags=["pages"])
    async def item_page(request: Request, item_id: str, user: PageUser) -> Response:
        # The item by id (about 1 ms), then everything else at once: its SLA clocks, the
        # author's history, the timeline, the deliveries and the audit write.
        async with waiting_on():
            item = await fetch_item(user, item_id)
            _, hist, events, sent, _ = await asyncio.gather(
                attach_sla([item]),
                history(user, item),
                timeline(user, item),
                deliveries(item),
                audit.write(
                    [audit_event(user, request, "item.opened", "item", item_id, via="page")]
                ),
            )
        fc = config.forces.get(item.get("force") or "")
        return page(
            request,
            "item.html",
            user,
            item=item,
            history=hist,
            timeline=events,
            deliveries=sent,
            item_force_name=(
                force_name(item["force"]) if item.get("force") else config.national.duty_queue.name
            ),
            templates_list=[e.model_dump() for e in catalogue.entries(item.get("force"))],
            default_language=default_language(item),
            limit=PLATFORM_LIMITS.get(item["platform"], PLATFORM_LIMITS["other"]),
            teams=[t.id for t in fc.teams] if fc else [],
            forces=sorted(config.forces),
            **taxonomy(),
        )

    @app.get("/search", response_class=HTMLResponse, tags=["pages"])
    async def search_page(
        request: Request,
        user: PageUser,
        filters: SearchFilters,
        q: Annotated[str | None, Query(max_length=500)] = None,
        after: Annotated[str | None, Query(max_length=2000)] = None,
    ) -> Response:
        result = (
            await run_search(request, user, q, filters, after, SEARCH_PAGE)
            if (q or filters)
            else None
        )
        return page(
            request, "search.html", user, q=q or "", filters=filters, result=result, **taxonomy()
        )

    @app.get("/audit", response_class=HTMLResponse, tags=["pages"])
    async def audit_page(
        request: Request,
        user: AdminPageUser,
        actor_id: Annotated[str | None, Query(max_length=200)] = None,
        action: Annotated[str | None, Query(max_length=100)] = None,
        target_id: Annotated[str | None, Query(max_length=200)] = None,
        after: Annotated[str | None, Query(max_length=2000)] = None,
    ) -> Response:
        filters = {
            k: v
            for k, v in {"actor_id": actor_id, "action": action, "target_id": target_id}.items()
            if v
        }
        result = await run_audit(request, user, filters, after, 100)
        return page(request, "audit.html", user, filters=filters, result=result)

    # ---- JSON API ------------------------------------------------------------------
    @app.get("/api/me", tags=["api"])
    async def me(user: ApiUser) -> dict[str, Any]:
        """Who is signed in, and the CSRF token to send as X-CSRF-Token."""
        return {
            "username": user.username,
            "display_name": user.display_name,
            "force": user.force,
            "role": user.role,
            "teams": list(user.teams),
            "csrf": user.csrf,
            "auth": user.auth,
        }

    @app.get("/api/items", tags=["api"])
    async def api_items(
        request: Request,
        user: ApiUser,
        view: str = "all_open",
        priority: Annotated[str | None, Query(pattern="^P[1-4]$")] = None,
        intent: Annotated[str | None, Query(max_length=40)] = None,
        flag: Annotated[str | None, Query(max_length=40)] = None,
        platform: Annotated[str | None, Query(max_length=40)] = None,
        team: Annotated[str | None, Query(max_length=60)] = None,
        size: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        """One inbox view of the user's force, P1 on top, then by SLA due time, with the
        open-item counter of every view."""
        filters = inbox_filters(priority, intent, flag, platform, team)
        (items, total, counters), _ = await asyncio.gather(
            list_items(user, view, filters, size),
            audit.write(
                [audit_event(user, request, "items.listed", "inbox", view, filters=filters)]
            ),
        )
        return {"total": total, "view": view, "items": items, "counts": counters}

    @app.get("/api/counts", tags=["api"])
    async def api_counts(user: ApiUser) -> dict[str, int]:
        """Open items per view (no item data, so no audit record)."""
        return await counts(user, {})

    @app.get("/api/items/{item_id}", tags=["api"])
    async def api_item(request: Request, item_id: str, user: ApiUser) -> dict[str, Any]:
        item = await get_item(user, item_id)
        await audit.write([audit_event(user, request, "item.opened", "item", item_id, via="api")])
        item["viewers"] = outcomes.viewers(item_id)
        return item

    @app.get("/api/items/{item_id}/history", tags=["api"])
    async def api_history(request: Request, item_id: str, user: ApiUser) -> dict[str, Any]:
        """The author's other items, newest first."""
        item = await get_item(user, item_id)
        hist = await history(user, item)
        await audit.write(
            [audit_event(user, request, "author.history_viewed", "item", item_id, count=len(hist))]
        )
        return {"author_id": item["author_id"], "items": hist}

    @app.get("/api/items/{item_id}/timeline", tags=["api"])
    async def api_timeline(request: Request, item_id: str, user: ApiUser) -> dict[str, Any]:
        """Who did what when: the item's events (rejections included) and reply deliveries."""
        item = await get_item(user, item_id)
        events, sent = await asyncio.gather(timeline(user, item), deliveries(item))
        await audit.write([audit_event(user, request, "item.timeline_viewed", "item", item_id)])
        return {"events": events, "deliveries": sent}

    @app.get("/api/items/{item_id}/viewers", tags=["api"])
    async def api_viewers(item_id: str, user: ApiUser) -> dict[str, Any]:
        """Who else has this item open now (collision warning)."""
        await get_item(user, item_id)
        return {"viewers": outcomes.viewers(item_id)}

    @app.post("/api/items/{item_id}/commands", tags=["api"])
    async def api_command(
        request: Request, item_id: str, body: CommandRequest, user: ActingUser
    ) -> JSONResponse:
        """Claim, release, note, re-grade, re-categorise, transfer, await public, resolve,
        reopen (and reply, though /reply adds template checks): 200 applied, 409
        rejected with the reason, 202 if the outcome is still pending after 5 s."""
        if body.type in SUPERVISOR_COMMANDS and user.role not in ("supervisor", "force_admin"):
            raise HTTPException(403, f"only a supervisor can {body.type}")
        item = await get_item(user, item_id)  # 404 for another force's item
        validate_payload(body.type, body.payload, item)
        return await send_command(
            request, user, item_id, body.type, dict(body.payload), body.expected_seq
        )

    @app.get("/api/items/{item_id}/templates", tags=["api"])
    async def api_templates(item_id: str, user: ApiUser) -> dict[str, Any]:
        """The reply templates for this item's force, and the language to answer in."""
        item = await get_item(user, item_id)
        return {
            "default_language": default_language(item),
            "limit": PLATFORM_LIMITS.get(item["platform"], PLATFORM_LIMITS["other"]),
            "templates": [e.model_dump() for e in catalogue.entries(item.get("force"))],
        }

    @app.post("/api/items/{item_id}/replies/preview", tags=["api"])
    async def api_preview(item_id: str, body: PreviewRequest, user: ActingUser) -> dict[str, Any]:
        """Render a template (or an edited one) with this item's variables, in a worker
        process with a time and output limit. Nothing is sent; any template error is a
        422 naming the problem. Only roles that can reply may preview, so many a minute
        per user (429 past that, on every replica together)."""
        item = await get_item(user, item_id)
        await limit_previews(user)
        variables = variables_for(user, item, body.variables)
        if body.source is not None:
            source = body.source
        elif body.template_id:
            force = item.get("force")
            source = catalogue.source(force, catalogue.find(force, body.template_id, body.language))
        else:
            raise HTTPException(422, "give template_id or source")
        text = await renderer.render(source, variables)
        limit = PLATFORM_LIMITS.get(item["platform"], PLATFORM_LIMITS["other"])
        return {"text": text, "length": len(text), "limit": limit, "fits": len(text) <= limit}

    @app.post("/api/items/{item_id}/reply", tags=["api"])
    async def api_reply(
        request: Request, item_id: str, body: ReplyRequest, user: ActingUser
    ) -> JSONResponse:
        """Send a reply (as previewed and edited). Too long for the platform: 422 and
        nothing is sent. Delivery to the platform follows (see publish.py)."""
        item = await get_item(user, item_id)
        text = body.text.strip()
        check_length(item["platform"], text)
        return await send_command(
            request,
            user,
            item_id,
            "reply",
            {"text": text},
            body.expected_seq,
            {"template_id": body.template_id, "language": body.language, "length": len(text)},
        )

    async def run_search(
        request: Request,
        user: User,
        q: str | None,
        filters: dict[str, str],
        after: str | None,
        size: int,
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "index": items_index,
            "query": search_query(user, q, filters),
            "sort": SEARCH_SORT,
            "size": size,
            "track_total_hits": True,
            "source_excludes": ["messages", "mention_ids"],
        }
        if q:
            kwargs["highlight"] = {
                "fields": {"text": {"number_of_fragments": 2, "fragment_size": 160}},
                "pre_tags": [HL_PRE],
                "post_tags": [HL_POST],
            }
        if after:
            kwargs["search_after"] = decode_cursor(after)
        resp = await search(**kwargs)
        hits = []
        for h in resp["hits"]["hits"]:
            src = h["_source"]
            frags = (h.get("highlight") or {}).get("text") or []
            # noida-db returns no highlight for some queries: fall back to the text.
            segments = [highlight_segments(f) for f in frags] or [
                [{"text": (src.get("text") or "")[:200], "hit": False}]
            ]
            hits.append({"item": src, "highlight": segments, "sort": h.get("sort")})
        nxt = encode_cursor(hits[-1]["sort"]) if len(hits) == size and hits[-1]["sort"] else None
        total = resp["hits"]["total"]["value"]
        await audit.write(
            [
                audit_event(
                    user,
                    request,
                    "items.searched",
                    "search",
                    None,
                    q=q,
                    filters=filters,
                    count=total,
                )
            ]
        )
        return {"total": total, "hits": hits, "next": nxt}

    @app.get("/api/search", tags=["api"])
    async def api_search(
        request: Request,
        user: ApiUser,
        filters: SearchFilters,
        q: Annotated[str | None, Query(max_length=500)] = None,
        after: Annotated[
            str | None, Query(max_length=2000, description="`next` of the previous page")
        ] = None,
        size: Annotated[int, Query(ge=1, le=100)] = SEARCH_PAGE,
    ) -> dict[str, Any]:
        """Full text over every item the user may see, newest first, with highlights
        (segments marked `hit`) and search_after paging."""
        return await run_search(request, user, q, filters, after, size)

    @app.get("/api/search/export", tags=["api"])
    async def api_export(
        request: Request,
        user: ApiUser,
        filters: SearchFilters,
        q: Annotated[str | None, Query(max_length=500)] = None,
    ) -> Response:
        """Up to 1,000 matching items as CSV (the search's filters); a disclosure, so
        audited as an export."""
        resp = await search(
            index=items_index,
            query=search_query(user, q, filters),
            sort=SEARCH_SORT,
            size=1000,
            source_includes=[
                "id",
                "force",
                "team",
                "priority",
                "intent",
                "status",
                "outcome",
                "created_at",
                "platform",
            ],
        )
        rows = [h["_source"] for h in resp["hits"]["hits"]]
        await audit.write(
            [
                audit_event(
                    user,
                    request,
                    "items.exported",
                    "search",
                    None,
                    q=q,
                    filters=filters,
                    count=len(rows),
                )
            ]
        )
        buf = io.StringIO()
        cols = [
            "id",
            "force",
            "team",
            "priority",
            "intent",
            "status",
            "outcome",
            "created_at",
            "platform",
        ]
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
        return Response(
            buf.getvalue(),
            media_type="text/csv",
            headers={"Content-Disposition": 'attachment; filename="socialdesk-export.csv"'},
        )

    async def run_audit(
        request: Request, user: User, filters: dict[str, str], after: str | None, size: int
    ) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "index": audit_index,
            "query": audit_query(user, filters),
            "sort": AUDIT_SORT,
            "size": size,
            "track_total_hits": True,
        }
        if after:
            kwargs["search_after"] = decode_cursor(after)
        resp = await search(**kwargs)
        hits = resp["hits"]["hits"]
        records = [h["_source"] for h in hits]
        nxt = (
            encode_cursor(hits[-1]["sort"]) if len(hits) == size and hits[-1].get("sort") else None
        )
        await audit.write(
            [audit_event(user, request, "audit.viewed", "audit", None, filters=filters)]
        )
        return {"total": resp["hits"]["total"]["value"], "records": records, "next": nxt}

    @app.get("/api/audit", tags=["api"])
    async def api_audit(
        request: Request,
        user: AdminUser,
        actor_id: Annotated[str | None, Query(max_length=200)] = None,
        action: Annotated[str | None, Query(max_length=100)] = None,
        target_id: Annotated[str | None, Query(max_length=200)] = None,
        target_type: Annotated[str | None, Query(max_length=100)] = None,
        date_from: When = None,
        date_to: When = None,
        after: Annotated[str | None, Query(max_length=2000)] = None,
        size: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        """The force's audit trail (force administrators only), newest first."""
        filters = {
            k: v
            for k, v in {
                "actor_id": actor_id,
                "action": action,
                "target_id": target_id,
                "target_type": target_type,
                "date_from": date_from,
                "date_to": date_to,
            }.items()
            if v
        }
        return await run_audit(request, user, filters, after, size)

    @app.post("/api/presence", tags=["api"])
    async def api_presence(
        request: Request, body: PresenceRequest, user: CsrfUser
    ) -> dict[str, str]:
        """Online, busy or offline: only online operators are given new items."""
        rec = presence_record(user, body.status)
        if rec is None:
            raise HTTPException(403, f"role {user.role} takes no items")
        await audit.write(
            [audit_event(user, request, "presence", "operator", user.username, status=body.status)],
            also=[rec],
        )
        return {"status": body.status}

    @app.get("/api/stream", tags=["api"])
    async def api_stream(
        request: Request,
        user: ApiUser,
        item: Annotated[
            str | None, Query(max_length=200, description="the item open on this page")
        ] = None,
    ) -> StreamingResponse:
        """Server-sent events: every change to an item the user may see (event `item`),
        and, with `item`, who else has that item open (event `viewers`)."""
        if item is not None:
            await get_item(user, item)
        await audit.write([audit_event(user, request, "inbox.live_opened", "inbox", item)])
        viewer = (item, user.username, user.display_name) if item else None
        queue = outcomes.subscribe(user.force, user.national, viewer, duty=user.duty)
        return stream_response(request, queue, lambda: outcomes.unsubscribe(queue))

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
