"""The language switch on every page, the accessibility statement, and the "stay signed
in" answer to the warning before the idle sign-out."""

from __future__ import annotations

import re
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from socialdesk_console import i18n
from socialdesk_console.auth import SessionUnavailable
from socialdesk_console.deps import CsrfUser, Ctx, current_user_or_none
from socialdesk_console.routers.auth import LOGIN_CSRF
from socialdesk_console.statement import statement_html

router = APIRouter()
YEAR_S = 365 * 24 * 3600
# Only a path on this site: never another host (//evil, /\evil) after the switch.
SAFE_NEXT = re.compile(r"^/(?![/\\])[^\s]*$")


@router.post("/language", tags=["pages"])
async def choose_language(
    request: Request,
    ctx: Ctx,
    # Optional here so a forged post is a 403 before any check of its fields.
    lang: Annotated[str | None, Form(max_length=2)] = None,
    csrf: Annotated[str | None, Form(max_length=200)] = None,
    next_: Annotated[str, Form(alias="next", max_length=2000)] = "/inbox",
) -> Response:
    """Remember the language chosen (a cookie for a year) and go back to the page. The
    CSRF token is the session's, or the sign-in form's before signing in."""
    user = await current_user_or_none(request)
    expected = user.csrf if user else request.cookies.get(LOGIN_CSRF)
    if not expected or not csrf or not secrets.compare_digest(expected, csrf):
        raise HTTPException(403, "form expired or forged (CSRF check failed); reload and retry")
    if lang not in i18n.LANGUAGES:
        raise HTTPException(422, f"lang must be one of {', '.join(i18n.LANGUAGES)}")
    resp = RedirectResponse(next_ if SAFE_NEXT.match(next_) else "/inbox", status_code=303)
    resp.set_cookie(
        i18n.COOKIE,
        lang,
        max_age=YEAR_S,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.cookie_secure,
    )
    return resp


@router.get("/accessibility", response_class=HTMLResponse, tags=["pages"])
async def accessibility(request: Request, ctx: Ctx) -> Response:
    """The accessibility statement (docs/accessibility.md), linked from every footer and
    readable before signing in."""
    user = await current_user_or_none(request)
    ctx.use_language(request, user)
    return ctx.templates.TemplateResponse(
        request,
        "accessibility.html",
        {"user": user, "force_name": "", "statement": statement_html()},
    )


@router.post("/api/session/extend", tags=["api"])
async def extend_session(user: CsrfUser, ctx: Ctx) -> dict[str, Any]:
    """Stay signed in: the idle clock starts again (WCAG 2.2.1, timing adjustable)."""
    try:
        await ctx.sessions.touch(user)
    except SessionUnavailable as exc:
        raise HTTPException(503, "sessions cannot be checked right now; try again shortly") from exc
    return {"idle_s": ctx.settings.session_idle_s}
