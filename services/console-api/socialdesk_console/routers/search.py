"""Full-text search over the items a user may see: the page, the API and the CSV export."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from socialdesk import indices
from socialdesk_console.audit import audit_event
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext, taxonomy
from socialdesk_console.deps import ApiUser, Ctx, PageUser, SearchFilters
from socialdesk_console.i18n import N_, both
from socialdesk_console.protection import drop_restricted
from socialdesk_console.queries import (
    EXPORT_COLUMNS,
    SEARCH_PAGE,
    SEARCH_SORT,
    highlight_segments,
    next_cursor,
    search_query,
    search_request,
)

router = APIRouter()
Text = Annotated[str | None, Query(max_length=500)]


async def run_search(
    ctx: ConsoleContext,
    request: Request,
    user: User,
    q: str | None,
    filters: dict[str, str],
    after: str | None,
    size: int,
) -> dict[str, Any]:
    """One page of hits with highlight segments and the next page's cursor (audited)."""
    resp = await ctx.search(
        index=ctx.index(indices.ITEMS), **search_request(user, q, filters, after, size)
    )
    hits = []
    sources = [h["_source"] for h in resp["hits"]["hits"]]
    shown = {id(d) for d in await drop_restricted(ctx, user, sources)}
    for h in resp["hits"]["hits"]:
        src = h["_source"]
        if id(src) not in shown:
            continue
        frags = (h.get("highlight") or {}).get("text") or []
        # noida-db returns no highlight for some queries: fall back to the text.
        segments = [highlight_segments(f) for f in frags] or [
            [{"text": (src.get("text") or "")[:200], "hit": False}]
        ]
        hits.append({"item": src, "highlight": segments, "sort": h.get("sort")})
    total = resp["hits"]["total"]["value"]
    await ctx.audit.write(
        [
            audit_event(
                user, request, "items.searched", "search", None, q=q, filters=filters, count=total
            )
        ]
    )
    return {"total": total, "hits": hits, "next": next_cursor(hits, size)}


@router.get("/search", response_class=HTMLResponse, tags=["pages"])
async def search_page(
    request: Request,
    user: PageUser,
    filters: SearchFilters,
    ctx: Ctx,
    q: Text = None,
    after: Annotated[str | None, Query(max_length=2000)] = None,
) -> Response:
    result = (
        await run_search(ctx, request, user, q, filters, after, SEARCH_PAGE)
        if (q or filters)
        else None
    )
    return ctx.page(
        request, "search.html", user, q=q or "", filters=filters, result=result, **taxonomy()
    )


@router.get("/api/search", tags=["api"])
async def api_search(
    request: Request,
    user: ApiUser,
    filters: SearchFilters,
    ctx: Ctx,
    q: Text = None,
    after: Annotated[
        str | None, Query(max_length=2000, description="`next` of the previous page")
    ] = None,
    size: Annotated[int, Query(ge=1, le=100)] = SEARCH_PAGE,
) -> dict[str, Any]:
    """Full text over every item the user may see, newest first, with highlights
    (segments marked `hit`) and search_after paging."""
    return await run_search(ctx, request, user, q, filters, after, size)


# The export's column headings for a Welsh force (Welsh / English); others keep the codes.
EXPORT_HEADINGS = {
    "id": N_("item"),
    "force": N_("force"),
    "team": N_("team"),
    "priority": N_("grade"),
    "intent": N_("intent"),
    "status": N_("status"),
    "outcome": N_("outcome"),
    "created_at": N_("received"),
    "platform": N_("platform"),
}


def export_header(ctx: ConsoleContext, user: User) -> list[str]:
    """The CSV's first row: bilingual where the user's force is under the Standards."""
    fc = ctx.config.forces.get(user.force) if user.force else None
    if fc and fc.welsh_language_standards:
        return [both(EXPORT_HEADINGS[c]) for c in EXPORT_COLUMNS]
    return list(EXPORT_COLUMNS)


@router.get("/api/search/export", tags=["api"])
async def api_export(
    request: Request, user: ApiUser, filters: SearchFilters, ctx: Ctx, q: Text = None
) -> Response:
    """Up to 1,000 matching items as CSV (the search's filters); a disclosure, so
    audited as an export."""
    resp = await ctx.search(
        index=ctx.index(indices.ITEMS),
        query=search_query(user, q, filters),
        sort=SEARCH_SORT,
        size=1000,
        source_includes=EXPORT_COLUMNS,
    )
    rows = [h["_source"] for h in resp["hits"]["hits"]]
    await ctx.audit.write(
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
    csv.writer(buf).writerow(export_header(ctx, user))
    w = csv.DictWriter(buf, fieldnames=EXPORT_COLUMNS, extrasaction="ignore")
    w.writerows(rows)
    return Response(
        buf.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="socialdesk-export.csv"'},
    )
