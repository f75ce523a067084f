"""FastAPI dependency aliases: the console context, who is asking, and checks every route
shares."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request
from pydantic import AfterValidator

from socialdesk_console.auth import COOKIE, SessionUnavailable, User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.i18n import N_


def console_context(request: Request) -> ConsoleContext:
    """The context create_app built, so routers need no closure over it."""
    ctx: ConsoleContext = request.app.state.ctx
    return ctx


class NotSignedIn(Exception):
    """Raised for a page request without a valid session: redirect to sign-in."""


async def current_user_or_none(request: Request) -> User | None:
    """The session's user, looked up in the shared session store on every request (so a
    sign-out on one replica holds on all); 503 if the store is down, never a guess."""
    try:
        user: User | None = await request.app.state.sessions.read(request.cookies.get(COOKIE))
    except SessionUnavailable as exc:
        raise HTTPException(
            503, N_("sessions cannot be checked right now; try again shortly")
        ) from exc
    return user


async def api_user(request: Request) -> User:
    user = await current_user_or_none(request)
    if user is None:
        detail = (
            "session expired or not valid; sign in again"
            if request.cookies.get(COOKIE)
            else "sign in first"
        )
        raise HTTPException(status_code=401, detail=detail)
    return user


async def page_user(request: Request) -> User:
    user = await current_user_or_none(request)
    if user is None:
        raise NotSignedIn()
    # Async, so the language set here holds in the handler and its template.
    console_context(request).use_language(request, user)
    return user


def csrf_user(
    user: Annotated[User, Depends(api_user)],
    x_csrf_token: Annotated[str | None, Header()] = None,
) -> User:
    """Every state-changing API call carries the session's CSRF token in a header: a
    cross-site page can make the browser send the cookie, never read the token."""
    if not x_csrf_token or not secrets.compare_digest(x_csrf_token, user.csrf):
        raise HTTPException(403, N_("CSRF check failed: send the X-CSRF-Token header from /api/me"))
    return user


def acting_user(user: Annotated[User, Depends(csrf_user)]) -> User:
    """A user who may change items: national viewers (and users of no force) read only."""
    if not user.can_act:
        raise HTTPException(403, f"role {user.role} cannot change items")
    return user


def admin_user(user: Annotated[User, Depends(api_user)]) -> User:
    if not user.is_admin or user.force is None:
        raise HTTPException(403, N_("only a force administrator can read the audit trail"))
    return user


def admin_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    if not user.is_admin or user.force is None:
        raise HTTPException(403, N_("only a force administrator can read the audit trail"))
    return user


def supervisor_user(user: Annotated[User, Depends(api_user)]) -> User:
    """The live SLA board and reassignment: supervisors and force administrators."""
    if user.role not in ("supervisor", "force_admin") or user.force is None:
        raise HTTPException(403, N_("the SLA board is for supervisors"))
    return user


def supervisor_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    return supervisor_user(user)


def report_user(user: Annotated[User, Depends(api_user)]) -> User:
    """Reports: supervisors and administrators of a force, and national viewers."""
    if user.role not in ("supervisor", "force_admin", "national_viewer"):
        raise HTTPException(
            403, N_("reports are for supervisors, force administrators and national viewers")
        )
    return user


def report_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    return report_user(user)


def national_user(user: Annotated[User, Depends(api_user)]) -> User:
    if not user.national:
        raise HTTPException(403, N_("the national comparison needs the national viewer role"))
    return user


def national_page_user(user: Annotated[User, Depends(page_user)]) -> User:
    return national_user(user)


def duty_queue_user(user: Annotated[User, Depends(api_user)]) -> User:
    """The national duty queue's board: national viewers and national duty officers."""
    if not (user.national or user.duty):
        raise HTTPException(403, N_("the national duty queue is for national roles"))
    return user


def check_when(value: str | None) -> str | None:
    """A date or date-time filter must be one, so a typo is a 422 naming the field and
    never reaches Elasticsearch (whose refusal would look like an outage)."""
    if value:
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("not a date: use YYYY-MM-DD or an ISO 8601 date-time") from None
    return value


When = Annotated[
    str | None,
    Query(max_length=40, description="YYYY-MM-DD or ISO 8601 date-time"),
    AfterValidator(check_when),
]


def search_filters(
    priority: Annotated[str | None, Query(pattern="^(P[1-4])?$")] = None,  # "" = any
    intent: Annotated[str | None, Query(max_length=40)] = None,
    flag: Annotated[str | None, Query(max_length=40)] = None,
    team: Annotated[str | None, Query(max_length=60)] = None,
    outcome: Annotated[str | None, Query(max_length=40)] = None,
    status: Annotated[str | None, Query(max_length=40)] = None,
    author: Annotated[str | None, Query(max_length=200, description="id or @handle")] = None,
    date_from: When = None,
    date_to: When = None,
) -> dict[str, str]:
    """The search and export filters (the same on the search page, the search API and
    the CSV export), as the dict queries.search_query takes: only the ones given."""
    raw = {
        "priority": priority,
        "intent": intent,
        "flags": flag,
        "team": team,
        "outcome": outcome,
        "status": status,
        "author": author,
        "date_from": date_from,
        "date_to": date_to,
    }
    return {k: v for k, v in raw.items() if v}


Ctx = Annotated[ConsoleContext, Depends(console_context)]
ApiUser = Annotated[User, Depends(api_user)]
PageUser = Annotated[User, Depends(page_user)]
CsrfUser = Annotated[User, Depends(csrf_user)]
ActingUser = Annotated[User, Depends(acting_user)]
AdminUser = Annotated[User, Depends(admin_user)]
AdminPageUser = Annotated[User, Depends(admin_page_user)]
SearchFilters = Annotated[dict[str, str], Depends(search_filters)]
SupervisorUser = Annotated[User, Depends(supervisor_user)]
SupervisorPageUser = Annotated[User, Depends(supervisor_page_user)]
ReportUser = Annotated[User, Depends(report_user)]
ReportPageUser = Annotated[User, Depends(report_page_user)]
NationalUser = Annotated[User, Depends(national_user)]
NationalPageUser = Annotated[User, Depends(national_page_user)]
DutyQueueUser = Annotated[User, Depends(duty_queue_user)]
