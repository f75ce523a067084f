"""Reading items the user may see and sending commands to their owner service: what the
inbox, item, reply and stream routes share (HTTP errors only, no routes)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from elasticsearch import NotFoundError
from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse

from socialdesk import indices
from socialdesk.authors import AUTHOR_DAYS
from socialdesk.commands import Payload, PayloadError, TextPayload, TransferPayload, payload_of
from socialdesk.events import (
    Actor,
    AuditEvent,
    CommandType,
    ItemCommand,
    ItemEventType,
    item_key_of,
    utcnow,
)
from socialdesk.kafka import Output
from socialdesk.kafka.sealing import sealer_for
from socialdesk.personal import author_key
from socialdesk.retention import DataClass, periods_for
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import ITEMS_COMMANDS
from socialdesk_console.audit import audit_event
from socialdesk_console.auth import User
from socialdesk_console.context import ConsoleContext
from socialdesk_console.i18n import N_
from socialdesk_console.protection import drop_restricted, hide_restricted
from socialdesk_console.queries import (
    HISTORY_SOURCE,
    VIEWS,
    counters_of,
    counters_query,
    deliveries_request,
    history_docs,
    history_ids,
    inbox_request,
    sla_due,
    sla_ids,
    sort_by_due,
    timeline_request,
    visible,
)
from socialdesk_console.replies import check_length
from socialdesk_console.timing import waiting_on

OUTCOME_WAIT_S = 5


async def attach_sla(ctx: ConsoleContext, items: list[dict[str, Any]]) -> None:
    """Each item's SLA clocks and earliest running deadline (none if the index fails)."""
    if not items:
        return
    resp: Any
    try:
        async with waiting_on("es"):
            resp = await ctx.es.mget(
                index=ctx.index(indices.SLA), ids=sla_ids([i["id"] for i in items])
            )
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


async def counts(ctx: ConsoleContext, user: User, filters: dict[str, str]) -> dict[str, int]:
    """Open items per view, without the items."""
    query, aggs = counters_query(user, filters)
    query = await hide_restricted(ctx, user, query)
    return counters_of(
        await ctx.search(index=ctx.index(indices.OPEN), query=query, aggs=aggs, size=0)
    )


async def list_items(
    ctx: ConsoleContext, user: User, view: str, filters: dict[str, str], size: int
) -> tuple[list[dict[str, Any]], int, dict[str, int]]:
    """One inbox view sorted by grade and SLA due time, its total and every counter."""
    if view not in VIEWS:
        raise HTTPException(400, f"unknown view {view!r}; use one of {', '.join(VIEWS)}")
    req = inbox_request(user, view, filters, size)
    req["query"] = await hide_restricted(ctx, user, req["query"])  # the counters too
    resp = await ctx.search(index=ctx.index(indices.OPEN), **req)  # open work only
    hits = await drop_restricted(ctx, user, [h["_source"] for h in resp["hits"]["hits"]])
    await attach_sla(ctx, hits)
    counters = counters_of(resp)
    return sort_by_due(hits), counters[view], counters


async def fetch_item(ctx: ConsoleContext, user: User, item_id: str) -> dict[str, Any]:
    """By id (the document id is the item id), then the scope rule: another force's
    item answers exactly like a missing one. Without its SLA clocks (get_item)."""
    if len(item_id) > 200:
        raise HTTPException(404, N_("no such item"))
    doc: Any
    try:
        async with waiting_on("es"):
            doc = await ctx.es.get(index=ctx.index(indices.ITEMS), id=item_id)
    except NotFoundError:
        doc = {"found": False}
    except Exception as exc:
        raise HTTPException(503, N_("search is unavailable; try again shortly")) from exc
    item: dict[str, Any] = doc.get("_source") or {}
    if not doc.get("found") or item.get("id") != item_id or not visible(user, item):
        raise HTTPException(404, N_("no such item"))
    return item


async def get_item(ctx: ConsoleContext, user: User, item_id: str) -> dict[str, Any]:
    """The item (404 unless the user may see it) with its SLA clocks."""
    item = await fetch_item(ctx, user, item_id)
    await attach_sla(ctx, [item])
    return item


async def _mget(ctx: ConsoleContext, **kwargs: Any) -> Any:
    """A multi-get; a backend that cannot answer is a 503, as for a search."""
    try:
        async with waiting_on("es"):
            return await ctx.es.mget(**kwargs)
    except Exception as exc:
        raise HTTPException(503, N_("search is unavailable; try again shortly")) from exc


def history_days(ctx: ConsoleContext) -> int:
    """The author history kept (the retention policy's, as the indexer keeps it)."""
    if ctx.config.retention is None:
        return ctx.settings.author_history_days
    return periods_for(ctx.config, None)[DataClass.author_history].days


async def history(ctx: ConsoleContext, user: User, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The author's latest other items the user may see, over the author history kept:
    two multi-gets by id (their day summaries, then those items), never a search of
    every item; older ones are a search of the archive away (the page links it)."""
    docs = history_docs(ctx.index(AUTHOR_DAYS), item, utcnow(), history_days(ctx))
    if not docs:
        return []
    days = await _mget(ctx, docs=docs)
    ids = history_ids(user, [d["_source"] for d in days["docs"] if d.get("found")], item["id"])
    if not ids:
        return []
    got = await _mget(ctx, index=ctx.index(indices.ITEMS), ids=ids, source_includes=HISTORY_SOURCE)
    found = [d["_source"] for d in got["docs"] if d.get("found") and visible(user, d["_source"])]
    return await drop_restricted(ctx, user, found)


async def timeline(ctx: ConsoleContext, user: User, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The whole history of an item the user may see (fetched by fetch_item)."""
    resp = await ctx.search(
        index=ctx.index(indices.EVENTS), **timeline_request(user, item["id"], item)
    )
    return [h["_source"] for h in resp["hits"]["hits"]]


async def deliveries(ctx: ConsoleContext, item: dict[str, Any]) -> list[dict[str, Any]]:
    """Replies and notifications delivered (or not) for the item, newest first."""
    resp = await ctx.search(index=ctx.index(indices.AUDIT), **deliveries_request(item))
    return [h["_source"] for h in resp["hits"]["hits"]]


async def command_outcome(
    ctx: ConsoleContext, cmd: ItemCommand, audit: list[AuditEvent]
) -> dict[str, Any] | None:
    """Send the command with its audit record and wait for the owner service's outcome
    event (None: still pending after OUTCOME_WAIT_S)."""
    waiter = ctx.outcomes.expect(cmd.command_id)
    try:
        try:
            record = await sealed_command(ctx.settings, cmd, await command_subject(ctx, cmd))
        except Exception as exc:  # the item's author or their key not found: nothing sent
            raise HTTPException(503, N_("search is unavailable; try again shortly")) from exc
        await ctx.audit.write(audit, also=[record])
        ev: dict[str, Any] = await asyncio.wait_for(waiter, timeout=OUTCOME_WAIT_S)
    except TimeoutError:
        return None
    finally:
        ctx.outcomes.forget(cmd.command_id)
    return ev


async def command_subject(ctx: ConsoleContext, cmd: ItemCommand) -> str | None:
    """The author key of the person the commanded item is about (its replies and notes
    are their personal data), looked up only when sealing is on."""
    if not ctx.settings.sealing:
        return None
    try:
        async with waiting_on("es"):
            doc = await ctx.es.get(
                index=ctx.index(indices.ITEMS),
                id=cmd.item_id,
                source_includes=["platform", "author_id"],
            )
    except NotFoundError:
        return None  # sent in clear and counted (socialdesk_kafka_unsealed_personal_total)
    src = doc.get("_source") or {}
    if not src.get("platform") or not src.get("author_id"):
        return None
    return author_key(str(src["platform"]), str(src["author_id"]))


async def sealed_command(
    settings: BaseServiceSettings, cmd: ItemCommand, subject: str | None
) -> Output:
    """The command as items.commands carries it: with sealing on, sealed under the
    subject's key, so erasing them leaves their replies and notes unreadable there too."""
    out = Output(ITEMS_COMMANDS, item_key_of(cmd.item_id), cmd, subject=subject)
    sealer = sealer_for(settings)
    if sealer is None:
        return out
    (sealed,) = await sealer.seal([out])
    return sealed


def operator_command(
    user: User,
    item_id: str,
    type_: CommandType,
    payload: dict[str, Any],
    expected_seq: int | None,
) -> ItemCommand:
    """A command from this operator (their role goes with it: assign checks it)."""
    return ItemCommand(
        command_id=str(uuid.uuid4()),
        item_id=item_id,
        type=type_,
        actor=Actor(kind="operator", id=user.username, force=user.force),
        issued_at=utcnow(),
        expected_seq=expected_seq,
        payload={**payload, "role": user.role},
    )


async def send_command(
    ctx: ConsoleContext,
    request: Request,
    user: User,
    item_id: str,
    type_: CommandType,
    payload: dict[str, Any],
    expected_seq: int | None,
    audit_details: dict[str, Any] | None = None,
) -> JSONResponse:
    """Send an action to the item's owner service and wait (up to 5 s) for its outcome:
    200 applied, 409 rejected with the reason, 202 if still pending."""
    cmd = operator_command(user, item_id, type_, payload, expected_seq)
    audit = audit_event(
        user,
        request,
        f"item.{type_}",
        "item",
        item_id,
        command_id=cmd.command_id,
        **(audit_details or {}),
    )
    ev = await command_outcome(ctx, cmd, [audit])
    if ev is None:
        return JSONResponse({"status": "pending", "command_id": cmd.command_id}, status_code=202)
    if ev["type"] == ItemEventType.rejected:
        return JSONResponse(
            {"status": "rejected", "reason": ev["data"].get("reason"), "event": ev},
            status_code=409,
        )
    return JSONResponse({"status": "applied", "event": ev})


MAX_TEXT = 20_000


def validate_payload(
    ctx: ConsoleContext, type_: CommandType, payload: dict[str, Any], item: dict[str, Any]
) -> Payload:
    """The payload as its command's model (the check assign makes too), plus what only
    the console knows: text and platform limits and the forces that exist. A 422 says
    what is wrong; assign still has the last word."""
    try:
        parsed = payload_of(type_, payload)
    except PayloadError as exc:
        raise HTTPException(422, str(exc)) from None
    if isinstance(parsed, TextPayload):
        if len(parsed.text) > MAX_TEXT:
            raise HTTPException(422, "text is too long")
        if type_ is CommandType.reply:
            check_length(item["platform"], parsed.text)
    if (
        isinstance(parsed, TransferPayload)
        and (parsed.force or item["force"]) not in ctx.config.forces
    ):
        raise HTTPException(422, "unknown force")
    return parsed
