"""The console: Jinja2 pages and the JSON API they use. HTTP only; queries are built by
plain functions in queries.py, and every consultation is written to audit.events."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any, Literal

from aiokafka import AIOKafkaProducer
from elasticsearch import AsyncElasticsearch, NotFoundError
from fastapi import FastAPI, Form, Header, HTTPException, Query, Request
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
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from socialdesk import __version__
from socialdesk.config import DemoUser, PlatformConfig
from socialdesk.es import alias
from socialdesk.events import (
    Actor,
    AuditEvent,
    ItemCommand,
    OperatorPresence,
    item_key_of,
    utcnow,
)
from socialdesk.kafka import Output, make_producer, produce_and_wait
from socialdesk.runtime import add_ops_routes
from socialdesk.settings import ConsoleSettings
from socialdesk.topics import AUDIT_EVENTS, ITEMS_COMMANDS, OPERATORS_PRESENCE
from socialdesk_console.auth import Sessions, User, verify_password
from socialdesk_console.deps import COOKIE, ApiUser, NotSignedIn, PageUser
from socialdesk_console.outcomes import OutcomeWatcher
from socialdesk_console.queries import INBOX_SORT, VIEWS, inbox_query, scope_filter

log = logging.getLogger(__name__)
HERE = Path(__file__).parent
ACTING_ROLES = {"operator", "supervisor", "force_admin"}
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


class PresenceRequest(BaseModel):
    status: Literal["online", "busy", "offline"]


class CommandRequest(BaseModel):
    type: CommandType
    payload: dict[str, Any] = Field(default_factory=dict)
    expected_seq: int | None = Field(default=None, ge=0)


LOGIN_CSRF = "sd_login_csrf"


class AuditWriter:
    """Writes audit events and waits for Kafka: a consultation that cannot be logged is
    refused (503) rather than served unrecorded."""

    def __init__(self, settings: ConsoleSettings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None
        self.lock = asyncio.Lock()

    async def _get(self) -> AIOKafkaProducer:
        async with self.lock:
            if self.producer is None:
                producer = make_producer(self.settings, "console-api")
                try:
                    await asyncio.wait_for(producer.start(), timeout=10)
                except BaseException:
                    await producer.stop()
                    raise
                self.producer = producer
            return self.producer

    async def write(self, events: list[AuditEvent], also: list[Output] | None = None) -> None:
        """Write audit events (and any other records, e.g. a command) and wait for Kafka."""
        try:
            producer = await self._get()
            await asyncio.wait_for(
                produce_and_wait(
                    producer,
                    self.settings.topic_prefix,
                    [Output(AUDIT_EVENTS, e.actor.id, e) for e in events] + (also or []),
                ),
                timeout=15,
            )
        except Exception as exc:
            await self.close()
            raise HTTPException(503, "Kafka unavailable; nothing was changed, try again") from exc

    async def close(self) -> None:
        async with self.lock:
            if self.producer is not None:
                try:
                    await self.producer.stop()
                finally:
                    self.producer = None


def audit_event(
    user: User,
    request: Request,
    action: str,
    target_type: str,
    target_id: str | None,
    **details: Any,
) -> AuditEvent:
    return AuditEvent(
        event_id=str(uuid.uuid4()),
        at=utcnow(),
        actor=Actor(kind="operator", id=user.username, force=user.force),
        role=user.role,
        action=action,
        target_type=target_type,
        target_id=target_id,
        force=user.force,
        source_ip=request.client.host if request.client else None,
        details=details,
    )


def presence_record(user: User, status: str) -> Output | None:
    """The operator's presence for assign's auto-assignment (national viewers have none)."""
    if user.force is None or user.role not in ACTING_ROLES:
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


def create_app(
    settings: ConsoleSettings,
    config: PlatformConfig,
    users: dict[str, DemoUser],
    es: AsyncElasticsearch,
) -> FastAPI:
    app = FastAPI(title="socialdesk console", version=__version__)
    app.state.sessions = Sessions(
        settings.session_secret.get_secret_value(), settings.session_max_age_s
    )
    audit = AuditWriter(settings)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    items_index = alias(settings, "items")
    sla_index = alias(settings, "sla")

    async def ready() -> dict[str, bool]:
        try:
            es_ok = bool(await es.ping())
        except Exception:
            es_ok = False
        return {"elasticsearch": es_ok}

    add_ops_routes(app, ready)

    outcomes = OutcomeWatcher(settings)

    @app.on_event("startup")
    async def _start() -> None:
        outcomes.start()

    @app.on_event("shutdown")
    async def _close() -> None:
        await outcomes.stop()
        await audit.close()

    @app.exception_handler(NotSignedIn)
    async def _to_login(request: Request, exc: NotSignedIn) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or request.method != "GET":
            return JSONResponse({"error": exc.detail}, status_code=exc.status_code)
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": exc.status_code, "detail": exc.detail},
            status_code=exc.status_code,
        )

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()
        ]
        return JSONResponse({"error": "invalid request", "details": errors}, status_code=422)

    def force_name(force: str | None) -> str:
        if force is None:
            return "all forces"
        fc = config.forces.get(force)
        return fc.name if fc else force

    async def list_items(
        user: User, view: str, filters: dict[str, str], size: int
    ) -> tuple[list[dict[str, Any]], int]:
        if view not in VIEWS:
            raise HTTPException(400, f"unknown view {view!r}; use one of {', '.join(VIEWS)}")
        try:
            resp = await es.search(
                index=items_index,
                query=inbox_query(user, view, filters),
                sort=INBOX_SORT,
                size=size,
                track_total_hits=True,
                source_excludes=["messages"],
            )
        except NotFoundError:
            return [], 0
        except Exception as exc:
            raise HTTPException(503, "search is unavailable; try again shortly") from exc
        hits = [h["_source"] for h in resp["hits"]["hits"]]
        total = resp["hits"]["total"]["value"]
        await attach_sla(hits)
        return hits, total

    async def attach_sla(items: list[dict[str, Any]]) -> None:
        if not items:
            return
        ids = [f"{i['id']}:first_response" for i in items]
        try:
            resp = await es.mget(index=sla_index, ids=ids)
        except Exception:
            return
        by_item = {d["_source"]["item_id"]: d["_source"] for d in resp["docs"] if d.get("found")}
        for item in items:
            sla = by_item.get(item["id"])
            item["sla_first_response"] = (
                {"deadline": sla["deadline"], "state": sla["state"]} if sla else None
            )

    async def get_item(user: User, item_id: str) -> dict[str, Any]:
        resp: Any
        try:
            resp = await es.search(
                index=items_index,
                query={"bool": {"filter": [*scope_filter(user), {"term": {"id": item_id}}]}},
                size=1,
            )
        except NotFoundError:
            resp = {"hits": {"hits": []}}
        except Exception as exc:
            raise HTTPException(503, "search is unavailable; try again shortly") from exc
        hits = resp["hits"]["hits"]
        if not hits:
            raise HTTPException(404, "no such item")  # another force's item looks the same
        item: dict[str, Any] = hits[0]["_source"]
        await attach_sla([item])
        return item

    # ---- sign-in -------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    async def login_page(request: Request, error: str | None = None) -> Response:
        token = secrets.token_urlsafe(24)
        resp = templates.TemplateResponse(
            request, "login.html", {"csrf": token, "error": error, "user": None}
        )
        resp.set_cookie(
            LOGIN_CSRF, token, httponly=True, samesite="strict", secure=settings.cookie_secure
        )
        return resp

    @app.post("/login")
    async def login(
        request: Request,
        username: Annotated[str, Form(max_length=200)],
        password: Annotated[str, Form(max_length=500)],
        csrf: Annotated[str, Form(max_length=200)],
    ) -> Response:
        expected = request.cookies.get(LOGIN_CSRF)
        if not expected or not secrets.compare_digest(expected, csrf):
            raise HTTPException(403, "form expired or forged (CSRF check failed); reload and retry")
        user = users.get(username)
        if user is None or not verify_password(password, user.password_hash):
            return templates.TemplateResponse(
                request,
                "login.html",
                {"csrf": expected, "error": "Unknown user or wrong password", "user": None},
                status_code=401,
            )
        token = app.state.sessions.issue(user)
        signed_in = app.state.sessions.read(token)
        online = presence_record(signed_in, "online")
        await audit.write(
            [audit_event(signed_in, request, "signed_in", "session", None)],
            also=[online] if online else None,
        )
        resp = RedirectResponse("/inbox", status_code=303)
        resp.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="lax",
            secure=settings.cookie_secure,
            max_age=settings.session_max_age_s,
        )
        resp.delete_cookie(LOGIN_CSRF)
        return resp

    @app.post("/logout")
    async def logout(
        request: Request, user: ApiUser, csrf: Annotated[str, Form(max_length=200)]
    ) -> Response:
        if not secrets.compare_digest(user.csrf, csrf):
            raise HTTPException(403, "CSRF check failed")
        offline = presence_record(user, "offline")
        await audit.write(
            [audit_event(user, request, "signed_out", "session", None)],
            also=[offline] if offline else None,
        )
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE)
        return resp

    # ---- pages ---------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/inbox", status_code=303)

    @app.get("/inbox", response_class=HTMLResponse)
    async def inbox_page(request: Request, user: PageUser, view: str = "all_open") -> Response:
        items, total = await list_items(user, view, {}, 100)
        await audit.write([audit_event(user, request, "inbox.viewed", "inbox", view, count=total)])
        return templates.TemplateResponse(
            request,
            "inbox.html",
            {
                "user": user,
                "items": items,
                "total": total,
                "view": view,
                "views": VIEWS,
                "force_name": force_name(user.force),
            },
        )

    @app.get("/items/{item_id}", response_class=HTMLResponse)
    async def item_page(request: Request, item_id: str, user: PageUser) -> Response:
        item = await get_item(user, item_id)
        await audit.write([audit_event(user, request, "item.opened", "item", item_id)])
        return templates.TemplateResponse(
            request,
            "item.html",
            {"user": user, "item": item, "force_name": force_name(item["force"])},
        )

    # ---- JSON API ------------------------------------------------------------------
    @app.get("/api/items")
    async def api_items(
        request: Request,
        user: ApiUser,
        view: str = "all_open",
        priority: Annotated[str | None, Query(pattern="^P[1-4]$")] = None,
        intent: str | None = None,
        flag: str | None = None,
        platform: str | None = None,
        team: str | None = None,
        size: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> dict[str, Any]:
        """The user's force's items for one inbox view, P1 first, newest first."""
        filters = {
            k: v
            for k, v in {
                "priority": priority,
                "intent": intent,
                "flags": flag,
                "platform": platform,
                "team": team,
            }.items()
            if v
        }
        items, total = await list_items(user, view, filters, size)
        await audit.write(
            [
                audit_event(
                    user, request, "items.listed", "inbox", view, count=total, filters=filters
                )
            ]
        )
        return {"total": total, "view": view, "items": items}

    @app.get("/api/items/{item_id}")
    async def api_item(request: Request, item_id: str, user: ApiUser) -> dict[str, Any]:
        item = await get_item(user, item_id)
        await audit.write([audit_event(user, request, "item.opened", "item", item_id)])
        return item

    @app.post("/api/items/{item_id}/commands")
    async def api_command(
        request: Request,
        item_id: str,
        body: CommandRequest,
        user: ApiUser,
        x_csrf_token: Annotated[str | None, Header()] = None,
    ) -> JSONResponse:
        """Send an action to the item's owner service and wait (up to 5 s) for its outcome:
        200 applied, 409 rejected with the reason, 202 if still pending."""
        if not x_csrf_token or not secrets.compare_digest(x_csrf_token, user.csrf):
            raise HTTPException(403, "CSRF check failed: send the X-CSRF-Token header")
        if user.role not in ACTING_ROLES:
            raise HTTPException(403, f"role {user.role} cannot change items")
        await get_item(user, item_id)  # 404 for another force's item
        payload = dict(body.payload)
        payload["role"] = user.role
        cmd = ItemCommand(
            command_id=str(uuid.uuid4()),
            item_id=item_id,
            type=body.type,
            actor=Actor(kind="operator", id=user.username, force=user.force),
            issued_at=utcnow(),
            expected_seq=body.expected_seq,
            payload=payload,
        )
        waiter = outcomes.expect(cmd.command_id)
        try:
            await audit.write(
                [audit_event(user, request, f"item.{body.type}", "item", item_id)],
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

    @app.post("/api/presence")
    async def api_presence(
        request: Request,
        body: PresenceRequest,
        user: ApiUser,
        x_csrf_token: Annotated[str | None, Header()] = None,
    ) -> dict[str, str]:
        """Online, busy or offline: only online operators are given new items."""
        if not x_csrf_token or not secrets.compare_digest(x_csrf_token, user.csrf):
            raise HTTPException(403, "CSRF check failed: send the X-CSRF-Token header")
        rec = presence_record(user, body.status)
        if rec is None:
            raise HTTPException(403, f"role {user.role} takes no items")
        await audit.write(
            [audit_event(user, request, "presence", "operator", user.username, status=body.status)],
            also=[rec],
        )
        return {"status": body.status}

    @app.get("/api/stream")
    async def api_stream(request: Request, user: ApiUser) -> StreamingResponse:
        """Server-sent events: every change to an item the user may see, as it happens."""
        await audit.write([audit_event(user, request, "inbox.live_opened", "inbox", None)])
        queue = outcomes.subscribe(user.force, user.national)

        async def events() -> AsyncIterator[str]:
            try:
                yield "retry: 2000\n\n"
                while not await request.is_disconnected():
                    try:
                        change = await asyncio.wait_for(queue.get(), timeout=15)
                    except TimeoutError:
                        yield ": keep-alive\n\n"
                        continue
                    yield f"event: item\ndata: {json.dumps(change)}\n\n"
            finally:
                outcomes.unsubscribe(queue)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @app.get("/api/me")
    async def me(user: ApiUser) -> dict[str, Any]:
        return {
            "username": user.username,
            "display_name": user.display_name,
            "force": user.force,
            "role": user.role,
            "teams": list(user.teams),
            "csrf": user.csrf,
        }

    return app


def main() -> None:
    import uvicorn

    from socialdesk.config import load_config, load_demo_users
    from socialdesk.es import make_es
    from socialdesk.logs import setup_logging

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
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port or 8080,
        log_config=None,
        access_log=False,
    )
