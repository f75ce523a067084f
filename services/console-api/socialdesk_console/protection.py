"""What data protection changes on an item's page: the legal holds that keep it, and
whether its author is restricted (GDPR Art. 18), in which case only the data protection
officer may see it (docs/data-protection.md)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import HTTPException

from socialdesk import indices
from socialdesk.access import SummaryLanguage
from socialdesk.erasing import holds_on, is_restricted
from socialdesk.erasure import DPO_ROLE, HOLD_ROLES
from socialdesk.events import utcnow
from socialdesk_console import i18n
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.i18n import N_
from socialdesk_console.timing import waiting_on


async def item_protection(ctx: ConsoleContext, user: User, item: dict[str, Any]) -> dict[str, Any]:
    """The item page's holds and restriction; 403 for a restricted author's item unless
    the user is the DPO (a restriction means no further processing by operators)."""
    restricted = await refuse_restricted(ctx, user, item)
    async with waiting_on("es"):
        holds = await holds_on(ctx.es, ctx.settings, item, utcnow())
    return {
        "holds": [h.document() for h in holds],
        "restricted": restricted,
        "may_hold": user.role in HOLD_ROLES and user.force is not None,
    }


async def refuse_restricted(ctx: ConsoleContext, user: User, item: dict[str, Any]) -> bool:
    """403 for anyone but the DPO when the item's author is restricted (the item page,
    its attachments); returns whether they are, for the DPO's page to say so."""
    async with waiting_on("es"):
        restricted = await is_restricted(
            ctx.es, ctx.settings, str(item.get("platform")), str(item.get("author_id"))
        )
    if restricted and user.role != DPO_ROLE:
        raise HTTPException(
            403, N_("this person's data is restricted: only the data protection officer")
        )
    return restricted


def restricted_clause(hidden: frozenset[tuple[str, str]]) -> list[dict[str, Any]]:
    """An Elasticsearch must_not matching the restricted people's items, so a count
    made by aggregation leaves them out as the lists do."""
    return [
        {"bool": {"filter": [{"term": {"platform": p}}, {"term": {"author_id": a}}]}}
        for p, a in sorted(hidden)
    ]


async def hide_restricted(ctx: ConsoleContext, user: User, query: dict[str, Any]) -> dict[str, Any]:
    """The query without restricted people's items, unless the user is the DPO."""
    if user.role == DPO_ROLE:
        return query
    hidden = await restricted_authors(ctx)
    if not hidden:
        return query
    return {"bool": {"filter": [query], "must_not": restricted_clause(hidden)}}


RESTRICTED_TTL_S = 5.0  # how long a list may still show a newly restricted person's rows
_restricted: dict[int, tuple[float, frozenset[tuple[str, str]]]] = {}


async def restricted_authors(ctx: ConsoleContext) -> frozenset[tuple[str, str]]:
    """(platform, author id) of every restricted person, read at most every few seconds
    (a small index: one document per restriction)."""
    now = time.monotonic()
    cached = _restricted.get(id(ctx))
    if cached is not None and now - cached[0] < RESTRICTED_TTL_S:
        return cached[1]
    resp = await ctx.search(
        index=ctx.index(indices.RESTRICTIONS),
        query={"match_all": {}},
        size=10_000,
        source=["platform", "author_id"],
    )
    found = frozenset(
        (str(h["_source"].get("platform")), str(h["_source"].get("author_id")))
        for h in resp["hits"]["hits"]
    )
    _restricted[id(ctx)] = (now, found)
    return found


async def drop_restricted(
    ctx: ConsoleContext, user: User, docs: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Item documents without those of restricted people, unless the user is the DPO."""
    if user.role == DPO_ROLE:
        return docs
    hidden = await restricted_authors(ctx)
    if not hidden:
        return docs
    return [d for d in docs if (str(d.get("platform")), str(d.get("author_id"))) not in hidden]


def summary_language(ctx: ConsoleContext, user: User) -> SummaryLanguage:
    """A subject access summary's language: both for a force under the Welsh Language
    Standards, else the DPO's own (the language switch on every page)."""
    fc = ctx.config.forces.get(user.force) if user.force else None
    if fc is not None and fc.welsh_language_standards:
        return SummaryLanguage.bilingual
    return SummaryLanguage.cy if i18n.current() == "cy" else SummaryLanguage.en
