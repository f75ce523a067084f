"""What each command does to an item: one function per command type, each given the
command's typed payload (socialdesk.commands) and returning the changed item, the event
type and the event's data, or raising Rejected with the reason the operator is shown."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from socialdesk.commands import (
    AbsorbPayload,
    AssignPayload,
    ControlRoomUpdatePayload,
    HandOverPayload,
    MergePayload,
    Payload,
    PayloadError,
    RecategorisePayload,
    RegradePayload,
    ResolvePayload,
    SentByHandPayload,
    TextPayload,
    TransferPayload,
    parse_payload,
)
from socialdesk.config import PlatformConfig
from socialdesk.events import (
    CommandType,
    ControlRoomLink,
    Item,
    ItemCommand,
    ItemEventType,
    ItemMessage,
)
from socialdesk.taxonomy import ItemStatus, Outcome, Priority
from socialdesk_assign.routing import Roster

Transition = tuple[Item, ItemEventType, dict[str, Any]]
P = TypeVar("P", bound=Payload)
DELIVERY_STATUSES = ("delivered", "undeliverable")


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Ctx:
    """One command being applied to one item."""

    item: Item
    cmd: ItemCommand
    config: PlatformConfig
    now: datetime
    roster: Roster | None


def bump(item: Item, at: datetime, **changes: Any) -> Item:
    return item.model_copy(update={**changes, "seq": item.seq + 1, "updated_at": at})


def rank(p: Priority) -> int:
    return int(p.value[1])


def payload(cmd: ItemCommand, model: type[P]) -> P:
    """The command's payload as the model its type has: one validation, or Rejected."""
    try:
        parsed = parse_payload(cmd)
    except PayloadError as exc:
        raise Rejected(str(exc)) from None
    assert isinstance(parsed, model), (cmd.type, model)
    return parsed


def transition(
    item: Item, cmd: ItemCommand, config: PlatformConfig, now: datetime, roster: Roster | None
) -> Transition:
    """Checks every command passes, then the command's own function."""
    actor = cmd.actor
    if actor.kind == "operator" and actor.force != item.force:
        raise Rejected("operator of another force")
    if cmd.expected_seq is not None and cmd.expected_seq != item.seq:
        raise Rejected(
            f"stale command: item is at seq {item.seq}, command expected {cmd.expected_seq}"
        )
    ctx = Ctx(item, cmd, config, now, roster)
    if cmd.type == CommandType.absorb:
        return _absorb(ctx)
    if cmd.type == CommandType.control_room_update:
        return _control_room_update(ctx)
    closed = item.status in (ItemStatus.resolved, ItemStatus.closed)
    if closed and cmd.type not in (CommandType.reopen, CommandType.note):
        raise Rejected(f"item is {item.status.value}; reopen it first")
    handler = HANDLERS.get(cmd.type)
    if handler is None:
        raise Rejected(f"unknown command {cmd.type}")
    return handler(ctx)


def _claim(c: Ctx) -> Transition:
    item, actor = c.item, c.cmd.actor
    if item.owner == actor.id:
        raise Rejected("already yours")
    if item.owner is not None:
        raise Rejected(f"already claimed by {item.owner}")
    return bump(item, c.now, owner=actor.id, status=ItemStatus.assigned), ItemEventType.claimed, {}


def _release(c: Ctx) -> Transition:
    item = c.item
    if item.owner is None:
        raise Rejected("item has no owner")
    role = payload(c.cmd, Payload).role
    if item.owner != c.cmd.actor.id and role not in ("supervisor", "force_admin"):
        raise Rejected(f"owned by {item.owner}; only they or a supervisor can release it")
    return bump(item, c.now, owner=None, status=ItemStatus.new), ItemEventType.released, {}


def _assign(c: Ctx) -> Transition:
    item, operator = c.item, payload(c.cmd, AssignPayload).operator
    if c.roster is not None:
        known = c.roster.operators.get(operator)
        if known is None:
            raise Rejected(f"unknown operator {operator}")
        if known.force != item.force:
            raise Rejected(f"{operator} belongs to another force")
    return (
        bump(item, c.now, owner=operator, status=ItemStatus.assigned),
        ItemEventType.assigned,
        {"operator": operator},
    )


def _reply_or_note(c: Ctx) -> Transition:
    item, actor, p = c.item, c.cmd.actor, payload(c.cmd, TextPayload)
    reply = c.cmd.type == CommandType.reply
    if reply and item.owner not in (None, actor.id):
        raise Rejected(f"owned by {item.owner}; claim it before replying")
    msg = ItemMessage(
        direction="outbound" if reply else "internal",
        author=actor.id,
        text=p.text,
        at=c.now,
        language=p.language,
    )
    changes: dict[str, Any] = {"messages": [*item.messages, msg]}
    if reply:
        changes |= {"owner": item.owner or actor.id, "status": ItemStatus.in_progress}
    event = ItemEventType.replied if reply else ItemEventType.noted
    return bump(item, c.now, **changes), event, {}


def _sent_by_hand(c: Ctx) -> Transition:
    """An operator posted, by hand, a reply outbound could not send: recorded on the
    item (its timeline) against the reply's event id."""
    item, actor, p = c.item, c.cmd.actor, payload(c.cmd, SentByHandPayload)
    if item.owner not in (None, actor.id):
        raise Rejected(f"owned by {item.owner}; claim it first")
    ref, _, seq = p.reply_event_id.rpartition(":")
    if ref != item.id or not seq.isdigit() or not 0 < int(seq) <= item.seq:
        raise Rejected(f"{p.reply_event_id} is not a reply on this item")
    if not any(m.direction == "outbound" for m in item.messages):
        raise Rejected("this item has no reply to send by hand")
    data = {"reply_event_id": p.reply_event_id}
    return bump(item, c.now, owner=item.owner or actor.id), ItemEventType.sent_by_hand, data


def _await_public(c: Ctx) -> Transition:
    item = c.item
    if item.status not in (ItemStatus.assigned, ItemStatus.in_progress):
        raise Rejected(f"cannot wait on the public from {item.status.value}")
    return (
        bump(item, c.now, status=ItemStatus.awaiting_public),
        ItemEventType.awaiting_public,
        {},
    )


def _regrade(c: Ctx) -> Transition:
    item, p = c.item, payload(c.cmd, RegradePayload)
    if p.priority == item.priority:
        raise Rejected(f"already {p.priority.value}")
    return (
        bump(item, c.now, priority=p.priority),
        ItemEventType.regraded,
        {"from": item.priority.value, "to": p.priority.value, "reason": p.reason},
    )


def _recategorise(c: Ctx) -> Transition:
    item, p = c.item, payload(c.cmd, RecategorisePayload)
    intent = p.intent if p.intent is not None else item.intent
    flags = p.flags if p.flags is not None else list(item.flags)
    return (
        bump(item, c.now, intent=intent, flags=flags),
        ItemEventType.recategorised,
        {"intent": intent.value, "flags": [f.value for f in flags]},
    )


def _transfer(c: Ctx) -> Transition:
    item, p = c.item, payload(c.cmd, TransferPayload)
    force = p.force if "force" in p.model_fields_set else item.force
    team = p.team
    if force not in c.config.forces:
        raise Rejected(f"unknown force {force!r}")
    if team not in {t.id for t in c.config.forces[force].teams}:
        raise Rejected(f"force {force} has no team {team!r}")
    moved = bump(
        item,
        c.now,
        force=force,
        team=team,
        owner=None,
        status=ItemStatus.new,
        suggested_force=None,
    )
    data = {"from_force": item.force, "from_team": item.team, "force": force, "team": team}
    return moved, ItemEventType.transferred, data


def _resolve(c: Ctx) -> Transition:
    item, p = c.item, payload(c.cmd, ResolvePayload)
    ref = p.crime_reference
    if p.outcome == Outcome.crime_recorded and not ref:
        raise Rejected("crime_recorded needs payload.crime_reference")
    return (
        bump(item, c.now, status=ItemStatus.resolved, outcome=p.outcome, crime_reference=ref),
        ItemEventType.resolved,
        {"outcome": p.outcome.value, "crime_reference": ref},
    )


def _merge(c: Ctx) -> Transition:
    item, into = c.item, payload(c.cmd, MergePayload).into
    if into == item.id:
        raise Rejected(MergePayload.needs)
    merged = bump(
        item, c.now, status=ItemStatus.resolved, outcome=Outcome.duplicate, merged_into=into
    )
    return merged, ItemEventType.merged, {"into": into}


def _hand_over(c: Ctx) -> Transition:
    item, actor = c.item, c.cmd.actor
    fc = c.config.forces.get(item.force or "")
    if fc is None or fc.control_room is None:
        raise Rejected(
            f"{fc.name if fc else 'the national duty queue'} has no control room "
            "configured: transfer the item or ring it through"
        )
    link = item.control_room
    if link is not None and link.status != "undeliverable":
        raise Rejected(f"already handed over ({link.handover_id}, {link.status})")
    p = payload(c.cmd, HandOverPayload)
    handover_id = "ho_" + hashlib.sha256(f"{item.id}|{c.cmd.command_id}".encode()).hexdigest()[:16]
    requested_by = actor.id if actor.kind == "operator" else f"rule:{','.join(p.rule)}"
    new_link = ControlRoomLink(
        handover_id=handover_id,
        status="requested",
        requested_at=c.now,
        requested_by=requested_by,
        updated_at=c.now,
    )
    return (
        bump(item, c.now, control_room=new_link),
        ItemEventType.handed_over,
        {
            "handover_id": handover_id,
            "reason": p.reason[:2000] if p.reason else None,
            "requested_by": requested_by,
        },
    )


def _reopen(c: Ctx) -> Transition:
    item = c.item
    if item.status != ItemStatus.resolved:
        raise Rejected(f"only a resolved item can be reopened (it is {item.status.value})")
    status = ItemStatus.assigned if item.owner else ItemStatus.new
    return bump(item, c.now, status=status, outcome=None), ItemEventType.reopened, {}


def _absorb(c: Ctx) -> Transition:
    """Another item was merged into this one: it takes the higher grade, the union of the
    flags and, when the grade rises, the earlier first contact (the SLA clocks then run
    from the older report: docs/sla.md). A resolved item is reopened: an open report
    must never be merged out of sight."""
    item, now = c.item, c.now
    if c.cmd.actor.kind != "system":
        raise Rejected("absorb follows a merge; it is not an operator's command")
    p = payload(c.cmd, AbsorbPayload)
    if item.status == ItemStatus.closed:
        raise Rejected("item is closed; the merged report stays on its own item")
    higher = rank(p.priority) < rank(item.priority)
    reopened = item.status == ItemStatus.resolved
    note = ItemMessage(
        direction="internal", author=p.by or "assign", text=f"merged in: {p.from_}", at=now
    )
    changes: dict[str, Any] = {
        "flags": sorted(set(item.flags) | set(p.flags), key=lambda f: f.value),
        "urgency": max(item.urgency, p.urgency or 0.0),
        "messages": [*item.messages, note],
    }
    if higher:
        changes["priority"] = p.priority
    if reopened:
        changes |= {
            "status": ItemStatus.assigned if item.owner else ItemStatus.new,
            "outcome": None,
        }
    earlier = higher and p.first_contact_at < item.created_at
    return (
        bump(item, now, **changes),
        ItemEventType.absorbed,
        {
            "from": p.from_,
            "regraded_to": p.priority.value if higher else None,
            "first_contact_at": p.first_contact_at.isoformat() if earlier else None,
            "reopened": reopened,
        },
    )


def _control_room_update(c: Ctx) -> Transition:
    """What came back about a handover: the dispatcher's delivery outcome, or the control
    room's callback (incident number, status). A callback is applied once: its id is
    remembered and one older than the last applied is refused (a replay or a late
    retry must not turn 'dispatched' back into 'received')."""
    item, now = c.item, c.now
    if c.cmd.actor.kind != "system":
        raise Rejected("control-room updates come from the control room, not an operator")
    p = payload(c.cmd, ControlRoomUpdatePayload)
    link = item.control_room
    if link is None or p.handover_id != link.handover_id:
        raise Rejected(f"unknown handover {p.handover_id!r} for this item")
    status = p.status or ""
    if not status:
        raise Rejected("control_room_update needs payload.status")
    if p.source == "delivery":
        if status not in DELIVERY_STATUSES:
            raise Rejected(f"delivery status is one of {', '.join(DELIVERY_STATUSES)}")
        if link.status != "requested":
            raise Rejected(f"the control room has already answered ({link.status})")
        new = link.model_copy(update={"status": status, "updated_at": now})
        data = {
            "handover_id": link.handover_id,
            "status": status,
            "source": "delivery",
            "error": p.error,
        }
        return bump(item, now, control_room=new), ItemEventType.control_room_updated, data
    callback_id = p.callback_id or ""
    if not callback_id:
        raise Rejected("a callback needs payload.callback_id")
    if callback_id in link.callback_ids:
        raise Rejected(f"replayed callback {callback_id}: already applied")
    sent_at = p.sent_at
    if sent_at is None:
        raise Rejected("a callback needs payload.sent_at")
    if link.last_callback_at is not None and sent_at <= link.last_callback_at:
        raise Rejected(
            f"stale callback: sent {sent_at.isoformat()}, the last applied was sent "
            f"{link.last_callback_at.isoformat()}"
        )
    incident = p.incident_number or link.incident_number
    new = link.model_copy(
        update={
            "status": status,
            "incident_number": incident,
            "updated_at": now,
            "callback_ids": [*link.callback_ids, callback_id][-50:],
            "last_callback_at": sent_at,
        }
    )
    data = {
        "handover_id": link.handover_id,
        "status": status,
        "incident_number": incident,
        "callback_id": callback_id,
        "note": p.note,
        "source": "callback",
    }
    return bump(item, now, control_room=new), ItemEventType.control_room_updated, data


HANDLERS: dict[CommandType, Callable[[Ctx], Transition]] = {
    CommandType.claim: _claim,
    CommandType.release: _release,
    CommandType.assign: _assign,
    CommandType.reply: _reply_or_note,
    CommandType.note: _reply_or_note,
    CommandType.await_public: _await_public,
    CommandType.regrade: _regrade,
    CommandType.recategorise: _recategorise,
    CommandType.transfer: _transfer,
    CommandType.resolve: _resolve,
    CommandType.merge: _merge,
    CommandType.hand_over: _hand_over,
    CommandType.reopen: _reopen,
    CommandType.sent_by_hand: _sent_by_hand,
}
