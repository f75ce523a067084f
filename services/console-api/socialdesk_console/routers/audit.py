"""The force's audit trail, for force administrators: the page and the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from socialdesk import indices
from socialdesk_console.audit import audit_event
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import AdminPageUser, AdminUser, Ctx, When
from socialdesk_console.queries import audit_request, next_cursor

router = APIRouter()
After = Annotated[str | None, Query(max_length=2000)]


async def run_audit(
    ctx: ConsoleContext,
    request: Request,
    user: User,
    filters: dict[str, str],
    after: str | None,
    size: int,
) -> dict[str, Any]:
    """One page of records, newest first, and the next page's cursor (itself audited)."""
    resp = await ctx.search(
        index=ctx.index(indices.AUDIT), **audit_request(user, filters, after, size)
    )
    hits = resp["hits"]["hits"]
    await ctx.audit.write(
        [audit_event(user, request, "audit.viewed", "audit", None, filters=filters)]
    )
    return {
        "total": resp["hits"]["total"]["value"],
        "records": [h["_source"] for h in hits],
        "next": next_cursor(hits, size),
    }


def given(**filters: str | None) -> dict[str, str]:
    """Only the filters the request gave."""
    return {k: v for k, v in filters.items() if v}


@router.get("/audit", response_class=HTMLResponse, tags=["pages"])
async def audit_page(
    request: Request,
    user: AdminPageUser,
    ctx: Ctx,
    actor_id: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    after: After = None,
) -> Response:
    filters = given(actor_id=actor_id, action=action, target_id=target_id)
    result = await run_audit(ctx, request, user, filters, after, 100)
    return ctx.page(request, "audit.html", user, filters=filters, result=result)


@router.get("/api/audit", tags=["api"])
async def api_audit(
    request: Request,
    user: AdminUser,
    ctx: Ctx,
    actor_id: Annotated[str | None, Query(max_length=200)] = None,
    action: Annotated[str | None, Query(max_length=100)] = None,
    target_id: Annotated[str | None, Query(max_length=200)] = None,
    target_type: Annotated[str | None, Query(max_length=100)] = None,
    date_from: When = None,
    date_to: When = None,
    after: After = None,
    size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The force's audit trail (force administrators only), newest first."""
    filters = given(
        actor_id=actor_id,
        action=action,
        target_id=target_id,
        target_type=target_type,
        date_from=date_from,
        date_to=date_to,
    )
    return await run_audit(ctx, request, user, filters, after, size)
