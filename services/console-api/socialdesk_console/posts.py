"""Reading the force's posts from the `posts` index and sending PostCommands to
posts.commands (keyed by post id) with their audit records, then waiting a few seconds
for outbound's answer on posts.events, as items.py does for item commands."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from elasticsearch import NotFoundError
from fastapi import HTTPException
from pydantic import ValidationError

from socialdesk import indices
from socialdesk.events import AuditEvent
from socialdesk.kafka import Output
from socialdesk.publishing import OPEN_POST_STATUSES, Post, PostCommand, PostEventType, PostStatus
from socialdesk.topics import POSTS_COMMANDS
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.i18n import N_
from socialdesk_console.outcomes import PostOutcomes
from socialdesk_console.pub_labels import refusal
from socialdesk_console.timing import waiting_on

log = logging.getLogger(__name__)
OUTCOME_WAIT_S = 5
DESK_SIZE = 200  # finished posts on the desk: the most recent
OPEN_SIZE = 2000  # open posts (drafts to scheduled): all of a force's, in practice


def post_of(src: dict[str, Any]) -> Post:
    """The Post in an index document (the indexer adds flat copies to filter on)."""
    return Post.model_validate({k: v for k, v in src.items() if k in Post.model_fields})


def parse_posts(hits: list[dict[str, Any]], force: str) -> list[Post]:
    """The force's posts among the hits (another force's never, whatever the index says);
    a document that is not a Post is skipped and logged, not shown half-read."""
    out = []
    for h in hits:
        src = h.get("_source") or {}
        if src.get("force") != force:
            continue
        try:
            out.append(post_of(src))
        except ValidationError:
            log.warning("post document not readable", extra={"post_id": str(h.get("_id"))})
    return out


async def list_posts(ctx: ConsoleContext, force: str) -> list[Post]:
    """The force's open work (drafts to scheduled, every one of them: a campaign scheduled
    months ahead must stay on the desk to be changed or cancelled), then its most recent
    finished posts."""
    force_term = {"term": {"force": force}}
    open_statuses = [s.value for s in OPEN_POST_STATUSES | {PostStatus.publishing}]
    recent = [{"updated_at": {"order": "desc", "unmapped_type": "date"}}]
    open_work, finished = await asyncio.gather(
        ctx.search(
            index=ctx.index(indices.POSTS),
            query={"bool": {"filter": [force_term, {"terms": {"status": open_statuses}}]}},
            sort=recent,
            size=OPEN_SIZE,
        ),
        ctx.search(
            index=ctx.index(indices.POSTS),
            query={
                "bool": {
                    "filter": [force_term],
                    "must_not": [{"terms": {"status": open_statuses}}],
                }
            },
            sort=recent,
            size=DESK_SIZE,
        ),
    )
    return parse_posts(open_work["hits"]["hits"] + finished["hits"]["hits"], force)


async def published_posts(ctx: ConsoleContext, force: str | None, since: str) -> list[Post]:
    """Posts published from `since` (an ISO date), of one force or (None) every force."""
    filters: list[dict[str, Any]] = [{"range": {"updated_at": {"gte": since}}}]
    if force is not None:
        filters.append({"term": {"force": force}})
    resp = await ctx.search(
        index=ctx.index(indices.POSTS), query={"bool": {"filter": filters}}, size=5000
    )
    posts = []
    for h in resp["hits"]["hits"]:
        src = h.get("_source") or {}
        if force is not None and src.get("force") != force:
            continue
        try:
            posts.append(post_of(src))
        except ValidationError:
            continue
    return posts


async def get_post(ctx: ConsoleContext, user: User, post_id: str) -> Post:
    """By id, then the force rule: another force's post answers exactly like a missing one."""
    if len(post_id) > 200:
        raise HTTPException(404, N_("no such post"))
    doc: Any
    try:
        async with waiting_on("es"):
            doc = await ctx.es.get(index=ctx.index(indices.POSTS), id=post_id)
    except NotFoundError:
        doc = {"found": False}
    except Exception as exc:
        raise HTTPException(503, N_("search is unavailable; try again shortly")) from exc
    src: dict[str, Any] = doc.get("_source") or {}
    if not doc.get("found") or src.get("id") != post_id or src.get("force") != user.force:
        raise HTTPException(404, N_("no such post"))
    try:
        return post_of(src)
    except ValidationError as exc:
        raise HTTPException(404, N_("no such post")) from exc


async def send(
    ctx: ConsoleContext, outcomes: PostOutcomes, cmds: list[PostCommand], audit: list[AuditEvent]
) -> dict[str, Any] | None:
    """Send the commands (in order, one key) with their audit records, and wait for the
    last one's outcome (None: still pending after OUTCOME_WAIT_S)."""
    last = cmds[-1].command_id
    waiter = outcomes.expect(last)
    try:
        await ctx.audit.write(audit, also=[Output(POSTS_COMMANDS, c.post_id, c) for c in cmds])
        ev: dict[str, Any] = await asyncio.wait_for(waiter, timeout=OUTCOME_WAIT_S)
    except TimeoutError:
        return None
    finally:
        outcomes.forget(last)
    return ev


def rejected(ev: dict[str, Any] | None) -> str | None:
    """Why outbound refused the command (in the page's language), if it did."""
    if ev is not None and ev.get("type") == PostEventType.rejected:
        return refusal(ev.get("reason_code"), str(ev.get("reason") or "refused"))
    return None


async def thread_mentions(ctx: ConsoleContext, ids: list[str]) -> dict[str, int]:
    """Mentions in each of these items (the threads the posts started) that exist."""
    if not ids:
        return {}
    resp: Any
    try:
        async with waiting_on("es"):
            resp = await ctx.es.mget(
                index=ctx.index(indices.ITEMS), ids=ids, source_includes=["mention_ids"]
            )
    except Exception as exc:
        raise HTTPException(503, N_("search is unavailable; try again shortly")) from exc
    return {
        d["_id"]: len((d.get("_source") or {}).get("mention_ids") or [])
        for d in resp["docs"]
        if d.get("found")
    }
