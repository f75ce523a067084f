"""Sign-in (local accounts for development, OIDC for production), sign-out and /api/me."""

from __future__ import annotations

import asyncio
import logging
import math
import secrets
import time
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature

from socialdesk.config import DemoUser
from socialdesk.events import Actor, AuditEvent, utcnow
from socialdesk_console.audit import audit_event, client_ip
from socialdesk_console.auth import COOKIE, Identity, SessionUnavailable, verify_password
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import ApiUser, Ctx
from socialdesk_console.guards import ACCOUNT, ADDRESS, locked_for
from socialdesk_console.i18n import N_, _
from socialdesk_console.oidc import OidcError, map_claims, pkce_pair
from socialdesk_console.routers.presence import presence_record

log = logging.getLogger(__name__)
router = APIRouter()
LOGIN_CSRF = "sd_login_csrf"
OIDC_COOKIE = "sd_oidc"
UNAVAILABLE = N_("Sign-in is unavailable; try again shortly")


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


def login_page_response(
    ctx: ConsoleContext,
    request: Request,
    error: str | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """The sign-in form, with a fresh CSRF token in the form and in a strict cookie."""
    ctx.use_language(request, None)
    token = secrets.token_urlsafe(24)
    resp = ctx.templates.TemplateResponse(
        request,
        "login.html",
        {
            "csrf": token,
            "error": error,
            "user": None,
            "oidc": ctx.sign_in.oidc is not None,
            "local": bool(ctx.sign_in.users),
        },
        status_code=status,
        headers=headers,
    )
    resp.set_cookie(
        LOGIN_CSRF, token, httponly=True, samesite="strict", secure=ctx.settings.cookie_secure
    )
    return resp


async def signed_in_response(
    ctx: ConsoleContext, request: Request, identity: Identity, via: str
) -> Response:
    """A new session (audited, the operator online) and its cookie; on to the inbox."""
    try:
        token, user = await ctx.sessions.issue(identity, auth=via)
    except SessionUnavailable:
        return login_page_response(ctx, request, UNAVAILABLE, 503)
    online = presence_record(user, "online")
    await ctx.audit.write(
        [audit_event(user, request, "signed_in", "session", None, via=via)],
        also=[online] if online else None,
    )
    resp = RedirectResponse("/inbox", status_code=303)
    # The cookie may outlive a browser session; the server-side session decides.
    resp.set_cookie(
        COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.cookie_secure,
        max_age=ctx.settings.session_max_age_s,
    )
    resp.delete_cookie(LOGIN_CSRF)
    resp.delete_cookie(OIDC_COOKIE)
    return resp


@router.get("/login", response_class=HTMLResponse, tags=["sign-in"])
async def login_page(request: Request, ctx: Ctx) -> Response:
    return login_page_response(ctx, request, None)


@router.post("/login", tags=["sign-in"])
async def login(
    request: Request,
    username: Annotated[str, Form(max_length=200)],
    password: Annotated[str, Form(max_length=500)],
    csrf: Annotated[str, Form(max_length=200)],
    ctx: Ctx,
) -> Response:
    """Local accounts (development and demos only)."""
    expected = request.cookies.get(LOGIN_CSRF)
    if not expected or not secrets.compare_digest(expected, csrf):
        raise HTTPException(403, "form expired or forged (CSRF check failed); reload and retry")
    ctx.use_language(request, None)
    # The same steps, in the same order, for a known and an unknown username: the
    # answer and its timing say nothing about which usernames exist.
    guards, sign_in = ctx.guards, ctx.sign_in
    address = client_ip(request) or "unknown"
    acct_key, addr_key = guards.key("account", username), guards.key("address", address)
    try:
        state = await guards.read([acct_key, addr_key])
    except Exception:
        return login_page_response(ctx, request, UNAVAILABLE, 503)
    now = time.time()
    wait = max(locked_for(state.get(acct_key), now), locked_for(state.get(addr_key), now))
    user = sign_in.users.get(username)
    if wait > 0:
        await ctx.audit.write([login_audit(request, username, user, "sign_in.throttled")])
        return login_page_response(
            ctx,
            request,
            _("Too many failed sign-ins. Try again in %(n)s seconds.") % {"n": math.ceil(wait)},
            429,
            headers={"Retry-After": str(math.ceil(wait))},
        )
    async with sign_in.hashing:
        ok = await asyncio.to_thread(
            verify_password, password, user.password_hash if user else sign_in.unknown_user_hash
        )
    if user is None or not ok:
        try:
            await asyncio.gather(
                guards.fail(acct_key, ACCOUNT, "account"),
                guards.fail(addr_key, ADDRESS, "address"),
            )
        except Exception:
            return login_page_response(ctx, request, UNAVAILABLE, 503)
        await ctx.audit.write([login_audit(request, username, user, "sign_in.failed")])
        return login_page_response(ctx, request, N_("Unknown user or wrong password"), 401)
    try:
        await guards.clear(acct_key)
    except Exception:
        return login_page_response(ctx, request, UNAVAILABLE, 503)
    return await signed_in_response(ctx, request, user, "local")


@router.get("/login/oidc", tags=["sign-in"])
async def login_oidc(request: Request, ctx: Ctx) -> Response:
    """Start the authorization code flow (PKCE) at the force's identity provider."""
    oidc = ctx.sign_in.oidc
    if oidc is None:
        raise HTTPException(404, "single sign-on is not configured")
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    verifier, challenge = pkce_pair()
    try:
        url = await oidc.authorization_url(state, nonce, challenge)
    except OidcError as exc:
        return login_page_response(ctx, request, str(exc), 503)
    resp = RedirectResponse(url, status_code=303)
    resp.set_cookie(
        OIDC_COOKIE,
        ctx.sign_in.flow_signer.dumps({"s": state, "n": nonce, "v": verifier}),
        httponly=True,
        samesite="lax",  # the issuer's redirect back is a cross-site top-level GET
        secure=ctx.settings.cookie_secure,
        max_age=600,
    )
    return resp


@router.get("/auth/callback", tags=["sign-in"])
async def oidc_callback(
    request: Request,
    ctx: Ctx,
    code: Annotated[str | None, Query(max_length=2000)] = None,
    state: Annotated[str | None, Query(max_length=200)] = None,
    error: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    """The identity provider sends the browser back here with a code."""
    oidc = ctx.sign_in.oidc
    if oidc is None:
        raise HTTPException(404, "single sign-on is not configured")
    try:
        flow = ctx.sign_in.flow_signer.loads(request.cookies.get(OIDC_COOKIE) or "", max_age=600)
    except BadSignature:
        return login_page_response(ctx, request, N_("Sign-in expired; start again"), 401)
    if error or not code or not state or not secrets.compare_digest(state, flow["s"]):
        return login_page_response(
            ctx, request, f"Sign-in refused: {error or 'state mismatch'}", 401
        )
    try:
        token = await oidc.exchange(code, flow["v"])
        claims = await oidc.validate(token, flow["n"])
        identity = map_claims(claims, ctx.sign_in.claim_mapping, ctx.config)
    except OidcError as exc:
        log.warning("oidc sign-in refused", extra={"why": str(exc)})
        return login_page_response(ctx, request, f"Sign-in refused: {exc}", 401)
    return await signed_in_response(ctx, request, identity, "oidc")


@router.post("/logout", tags=["sign-in"])
async def logout(
    request: Request,
    user: ApiUser,
    csrf: Annotated[str, Form(max_length=200)],
    ctx: Ctx,
    everywhere: Annotated[bool, Form()] = False,
) -> Response:
    """Sign out: the session is ended on the server, so a copy of its cookie is
    refused by every replica. With `everywhere`, every session of this user is."""
    if not secrets.compare_digest(user.csrf, csrf):
        raise HTTPException(403, "CSRF check failed")
    try:
        await (ctx.sessions.end_everywhere(user) if everywhere else ctx.sessions.end(user))
    except SessionUnavailable as exc:
        raise HTTPException(503, "could not sign out right now; try again") from exc
    offline = presence_record(user, "offline")
    action = "signed_out_everywhere" if everywhere else "signed_out"
    await ctx.audit.write(
        [audit_event(user, request, action, "session", None)],
        also=[offline] if offline else None,
    )
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE)
    return resp


@router.get("/api/me", tags=["api"])
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
