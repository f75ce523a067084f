"""An operator's presence: online, busy or offline (only online operators get new items)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from socialdesk.events import OperatorPresence, utcnow
from socialdesk.kafka import Output
from socialdesk.topics import OPERATORS_PRESENCE
from socialdesk_console.audit import audit_event
from socialdesk_console.auth import User
from socialdesk_console.deps import CsrfUser, Ctx

router = APIRouter(tags=["api"])


class PresenceRequest(BaseModel):
    status: Literal["online", "busy", "offline"]


def presence_record(user: User, status: str) -> Output | None:
    """The operator's presence for assign's auto-assignment and alerts (national viewers
    have none; a national duty officer's has no force)."""
    if not user.can_act or (user.force is None and not user.duty):
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


@router.post("/api/presence")
async def api_presence(
    request: Request, body: PresenceRequest, user: CsrfUser, ctx: Ctx
) -> dict[str, str]:
    """Online, busy or offline: only online operators are given new items."""
    rec = presence_record(user, body.status)
    if rec is None:
        raise HTTPException(403, f"role {user.role} takes no items")
    await ctx.audit.write(
        [audit_event(user, request, "presence", "operator", user.username, status=body.status)],
        also=[rec],
    )
    return {"status": body.status}
