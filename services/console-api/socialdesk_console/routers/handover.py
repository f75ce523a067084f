"""Handover to the force control room, console side (docs/control-room.md).

- POST /api/items/{id}/handover: an operator hands an item over. The console checks
  what it can (the item is the operator's force's, the force has a control room) and
  sends a `hand_over` command to the item's one writer, assign; notify then sends the
  versioned payload to the control room, signed and retried.
- POST /control-room/callback: the control room returns its incident number and status.
  Machine to machine: no session, the HMAC signature over timestamp and body is the
  credential (the force's own key). Unsigned, badly signed or stale (more than 5 minutes
  off) -> 401; not JSON -> 400; not a v1 callback -> 422; an item the index does not hold
  for that force -> 404; a replayed or older callback, or an unknown handover -> 409
  (assign refuses it and records why). Each of these changes nothing. Accepted callbacks
  are audited and become a `control_room_update` command, whose outcome the answer
  reports (200 applied, 409 refused, 202 not yet known).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from elasticsearch import NotFoundError
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError

from socialdesk import indices
from socialdesk.events import (
    Actor,
    AuditEvent,
    CommandType,
    HandoverCallback,
    ItemCommand,
    ItemEventType,
    utcnow,
)
from socialdesk.settings import secret_from_env
from socialdesk.signing import HEADER, SignatureProblem, verify
from socialdesk_console.audit import audit_event, client_ip
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import ActingUser, Ctx
from socialdesk_console.i18n import N_
from socialdesk_console.items import command_outcome, operator_command
from socialdesk_console.queries import visible

MAX_CALLBACK_BYTES = 64 * 1024
log = logging.getLogger(__name__)
router = APIRouter()


class HandoverRequest(BaseModel):
    reason: str | None = Field(default=None, max_length=2000)
    expected_seq: int | None = Field(default=None, ge=0)


def _error(status: int, error: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": error, **extra}, status_code=status)


def outcome_answer(ev: dict[str, Any] | None, cmd: ItemCommand) -> tuple[int, dict[str, Any]]:
    """Assign's outcome as (status, body): 200 applied, 409 refused, 202 pending."""
    if ev is None:
        return 202, {"status": "pending", "command_id": cmd.command_id}
    if ev["type"] == ItemEventType.rejected:
        return 409, {"error": ev["data"].get("reason"), "status": "rejected", "event": ev}
    return 200, {"status": "applied", "event": ev}


async def item_doc(ctx: ConsoleContext, item_id: str) -> dict[str, Any] | None:
    """The item by id whatever its force (the caller applies its own rule), or None."""
    if len(item_id) > 200:
        return None
    try:
        doc: Any = await ctx.es.get(index=ctx.index(indices.ITEMS), id=item_id)
    except NotFoundError:
        return None
    except Exception as exc:
        raise HTTPException(503, N_("search is unavailable; try again shortly")) from exc
    source: dict[str, Any] = doc.get("_source") or {}
    return source if doc.get("found") and source.get("id") == item_id else None


@router.post("/api/items/{item_id}/handover", tags=["api"])
async def hand_over(
    request: Request, item_id: str, body: HandoverRequest, user: ActingUser, ctx: Ctx
) -> JSONResponse:
    """Hand an item over to the force control room: 200 applied (the handover is on
    its way), 409 refused with the reason (already handed over), 202 pending."""
    if user.role == "national_viewer":
        raise HTTPException(403, N_("a national viewer cannot hand items over"))
    item = await item_doc(ctx, item_id)
    if item is None or not visible(user, item):
        raise HTTPException(404, N_("no such item"))
    fc = ctx.config.forces.get(item.get("force") or "")
    if fc is None or fc.control_room is None:
        raise HTTPException(
            422, "this item's force has no control room configured: ring it through"
        )
    cmd = operator_command(
        user, item_id, CommandType.hand_over, {"reason": body.reason}, body.expected_seq
    )
    audit = audit_event(user, request, "item.hand_over", "item", item_id, command_id=cmd.command_id)
    status, answer = outcome_answer(await command_outcome(ctx, cmd, [audit]), cmd)
    return JSONResponse(answer, status_code=status)


@router.post("/control-room/callback", tags=["control room"])
async def callback(request: Request, ctx: Ctx) -> JSONResponse:
    """The control room's incident number and status for a handover (signed)."""
    raw = await request.body()
    if len(raw) > MAX_CALLBACK_BYTES:
        return _error(413, f"body over {MAX_CALLBACK_BYTES} bytes")
    header = request.headers.get(HEADER)
    if not header:
        return _error(401, f"unsigned: the {HEADER} header is missing; nothing was changed")
    try:
        data = json.loads(raw)
    except ValueError:
        return _error(400, "body is not JSON; nothing was changed")
    try:
        cb = HandoverCallback.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(body)"
        return _error(422, f"not a v1 handover callback: {where}: {first['msg']}")
    fc = ctx.config.forces.get(cb.force)
    if fc is None or fc.control_room is None:
        return _error(401, f"no control room is configured for force {cb.force!r}")
    try:
        secret = secret_from_env(fc.control_room.secret_env, ctx.settings.environment)
    except ValueError:
        log.error("control-room key missing", extra={"force": cb.force})
        return _error(401, f"no key is configured for {cb.force}'s control room")
    try:
        verify(secret, raw, header, time.time())
    except SignatureProblem as exc:
        return _error(401, f"{exc}; nothing was changed")
    item = await item_doc(ctx, cb.item_id)
    if item is None or item.get("force") != cb.force:
        return _error(404, f"unknown item {cb.item_id!r} for {cb.force}; nothing was changed")
    actor = Actor(kind="system", id=f"control-room:{cb.force}", force=cb.force)
    cmd = ItemCommand(
        command_id=str(uuid.uuid4()),
        item_id=cb.item_id,
        type="control_room_update",
        actor=actor,
        issued_at=utcnow(),
        payload={
            "source": "callback",
            "callback_id": cb.callback_id,
            "handover_id": cb.handover_id,
            "incident_number": cb.incident_number,
            "status": cb.status,
            "note": cb.note,
            "sent_at": cb.sent_at.isoformat(),
        },
    )
    audit = AuditEvent(
        event_id=str(uuid.uuid4()),
        at=utcnow(),
        actor=actor,
        action="control_room.callback",
        target_type="item",
        target_id=cb.item_id,
        force=cb.force,
        source_ip=client_ip(request),
        details={
            "callback_id": cb.callback_id,
            "handover_id": cb.handover_id,
            "incident_number": cb.incident_number,
            "status": cb.status,
            "command_id": cmd.command_id,
        },
    )
    status, answer = outcome_answer(await command_outcome(ctx, cmd, [audit]), cmd)
    if status == 200:
        answer = {"status": "applied", "item_id": cb.item_id, "callback_id": cb.callback_id}
    elif status == 409:
        answer = {"error": f"{answer['error']}; nothing was changed", "status": "rejected"}
    return JSONResponse(answer, status_code=status)
