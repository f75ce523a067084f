"""The inbox item aggregate: a plain state machine. Input (a triaged mention or a
command) and the thread's current state in; the new state and events out.

One thread (conversation) maps to one item key and so to one partition and one writer.
A thread holds its items: normally one, more when someone writes again long after the
last item was resolved. Every event carries the item's per-item sequence number, so
consumers can drop duplicates and keep order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from socialdesk.config import PlatformConfig
from socialdesk.events import (
    Actor,
    ControlRoomLink,
    Item,
    ItemCommand,
    ItemEvent,
    ItemMessage,
    TriagedMention,
)
from socialdesk.taxonomy import Flag, Intent, ItemStatus, Outcome, Priority
from socialdesk_assign.routing import (
    Gazetteer,
    Roster,
    choose_operator,
    duty_officers_on_duty,
    route_team,
    supervisors_on_duty,
)

REOPEN_WINDOW = timedelta(days=7)
RECENT_COMMANDS = 200
SYSTEM = Actor(kind="system", id="assign")
OPEN = {ItemStatus.new, ItemStatus.assigned, ItemStatus.in_progress, ItemStatus.awaiting_public}
ACTIVE_COMMANDS = {"claim", "release", "assign", "reply", "await_public", "transfer", "resolve"}


class ThreadState(BaseModel):
    """Everything assign keeps for one thread (the state store's value)."""

    key: str
    thread_key: str
    items: dict[str, Item] = Field(default_factory=dict)
    current: str | None = None
    recent_commands: list[str] = Field(default_factory=list)

    def current_item(self) -> Item | None:
        return self.items.get(self.current) if self.current else None


@dataclass
class Applied:
    state: ThreadState
    events: list[ItemEvent]
    # Commands for other items (a merge tells the item it went into): sent to items.commands.
    commands: list[ItemCommand] = field(default_factory=list)


class Rejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _event(
    item: Item,
    type_: str,
    actor: Actor,
    at: datetime,
    command_id: str | None = None,
    data: dict[str, Any] | None = None,
) -> ItemEvent:
    return ItemEvent(
        event_id=f"{item.id}:{item.seq}",
        item_id=item.id,
        seq=item.seq,
        type=type_,
        actor=actor,
        at=at,
        command_id=command_id,
        data=data or {},
        item=item,
    )


def _bump(item: Item, at: datetime, **changes: Any) -> Item:
    return item.model_copy(update={**changes, "seq": item.seq + 1, "updated_at": at})


def apply_mention(
    state: ThreadState | None,
    tm: TriagedMention,
    config: PlatformConfig,
    now: datetime,
    roster: Roster | None = None,
    gazetteer: Gazetteer | None = None,
) -> Applied:
    """A new message on a thread: a new item, a follow-up on the open one, or a reopen."""
    m, t = tm.mention, tm.triage
    state = state or ThreadState(key=tm.item_key, thread_key=m.thread_key())
    for item in state.items.values():
        if m.id in item.mention_ids:
            return Applied(state, [])  # the same platform message again: ignore
    public = Actor(kind="public", id=m.author.id)
    message = ItemMessage(
        mention_id=m.id,
        direction="inbound",
        author=m.author.handle or m.author.id,
        text=m.text,
        at=m.posted_at,
    )
    current = state.current_item()
    events: list[ItemEvent] = []
    if current is not None and (
        current.status in OPEN
        or (current.status == ItemStatus.resolved and now - current.updated_at <= REOPEN_WINDOW)
    ):
        item = current
        if item.status == ItemStatus.resolved:
            item = _bump(
                item,
                now,
                status=ItemStatus.assigned if item.owner else ItemStatus.new,
                outcome=None,
            )
            events.append(
                _event(item, "reopened", SYSTEM, now, data={"reason": "public wrote again"})
            )
        higher = _rank(t.priority) < _rank(item.priority)
        new_status = (
            ItemStatus.in_progress if item.status == ItemStatus.awaiting_public else item.status
        )
        item = _bump(
            item,
            now,
            status=new_status,
            mention_ids=[*item.mention_ids, m.id],
            messages=[*item.messages, message],
            priority=t.priority if higher else item.priority,
            flags=sorted(set(item.flags) | set(t.flags), key=lambda f: f.value),
            urgency=max(item.urgency, t.urgency),
            reasons=[*item.reasons, *t.reasons] if higher else item.reasons,
        )
        events.append(
            _event(
                item,
                "public_replied",
                public,
                now,
                data={"mention_id": m.id, "regraded_to": t.priority.value if higher else None},
            )
        )
        if higher and t.priority == Priority.P1 and roster is not None:
            item, alert = _p1_alert(config, item, roster, now, "a follow-up made it P1")
            events += alert
    else:
        n = len(state.items)
        item_id = state.key if n == 0 else f"{state.key}.{n + 1}"
        force, suggested, place = tm.force, None, None
        for place_name, place_force in gazetteer.find(m.text) if gazetteer else []:
            if place_force != force:
                place = place_name
                if force is None:
                    force = place_force  # unknown account: the place decides
                else:
                    suggested = place_force  # another force's area: flag for transfer
                break
        team = route_team(config, force, t.intent, t.flags)
        item = Item(
            id=item_id,
            key=state.key,
            force=force,
            team=team,
            status=ItemStatus.new,
            priority=t.priority,
            intent=t.intent,
            flags=t.flags,
            urgency=t.urgency,
            reasons=t.reasons,
            owner=None,
            platform=m.platform,
            channel=m.channel,
            author=m.author,
            thread_key=state.thread_key,
            mention_ids=[m.id],
            messages=[message],
            language=t.language,
            suggested_force=suggested,
            created_at=now,
            updated_at=now,
            first_mention_at=m.posted_at,
            seq=1,
        )
        if tm.force:
            how = "account reached"
        elif force:
            how = f"unknown account; text names {place} ({force})"
        else:
            how = "unknown account and no place named: national duty queue"
        events.append(
            _event(
                item,
                "created",
                SYSTEM,
                now,
                data={"mention_id": m.id, "force": force, "team": team, "routing": how},
            )
        )
        notify = supervisors_on_duty(roster, force) if roster and t.priority == Priority.P1 else []
        if force is None:
            # Nobody's force: every such item alerts the national duty officers on duty
            # (none signed in: the routed event still says so, and the queue is on the
            # national board).
            duty = config.national.duty_queue
            officers = duty_officers_on_duty(roster, duty.role) if roster else []
            item = _bump(item, now)
            events.append(
                _event(
                    item,
                    "routed",
                    SYSTEM,
                    now,
                    data={
                        "suggested_force": None,
                        "place": None,
                        "queue": "national",
                        "notify_supervisors": [],
                        "notify_duty_officers": officers,
                        "reason": (
                            f"no force could be determined: {duty.name}; "
                            + (
                                f"{len(officers)} duty officer(s) alerted"
                                if officers
                                else "no duty officer signed in"
                            )
                        ),
                    },
                )
            )
        elif suggested or notify:
            item = _bump(item, now)
            events.append(
                _event(
                    item,
                    "routed",
                    SYSTEM,
                    now,
                    data={
                        "suggested_force": suggested,
                        "place": place,
                        "notify_supervisors": notify,
                        "reason": (
                            f"text names {place}, in {suggested}'s area: consider a transfer"
                            if suggested
                            else "P1: supervisors on duty alerted"
                        ),
                    },
                )
            )
        if roster is not None:
            chosen = choose_operator(config, item, roster)
            if chosen is not None:
                item = _bump(item, now, owner=chosen, status=ItemStatus.assigned)
                events.append(
                    _event(item, "assigned", SYSTEM, now, data={"operator": chosen, "auto": True})
                )
    new_items = dict(state.items)
    new_items[item.id] = item
    return Applied(state.model_copy(update={"items": new_items, "current": item.id}), events)


def _p1_alert(
    config: PlatformConfig, item: Item, roster: Roster, now: datetime, why: str
) -> tuple[Item, list[ItemEvent]]:
    """An item that is now P1 by another way than arriving as one (a follow-up, a
    re-grade, a merge, a transfer): the same `routed` alert as a new P1, to the force's
    supervisors on duty, or the duty officers for the national duty queue. Nobody on
    duty: no event (the SLA clocks still escalate at the breach)."""
    if item.force is None:
        officers = duty_officers_on_duty(roster, config.national.duty_queue.role)
        supervisors: list[str] = []
    else:
        officers, supervisors = [], supervisors_on_duty(roster, item.force)
    if not (officers or supervisors):
        return item, []
    item = _bump(item, now)
    data: dict[str, Any] = {
        "suggested_force": None,
        "place": None,
        "notify_supervisors": supervisors,
        "reason": f"{why}: {'duty officers' if officers else 'supervisors'} on duty alerted",
    }
    if officers:
        data |= {"queue": "national", "notify_duty_officers": officers}
    return item, [_event(item, "routed", SYSTEM, now, data=data)]


def _rank(p: Priority) -> int:
    return int(p.value[1])


def apply_command(
    state: ThreadState | None,
    cmd: ItemCommand,
    config: PlatformConfig,
    now: datetime,
    roster: Roster | None = None,
) -> Applied:
    """Apply one command; an illegal one yields a `rejected` event and no change."""
    if state is not None and cmd.command_id in state.recent_commands:
        return Applied(state, [])  # a redelivered command: already applied
    item = state.items.get(cmd.item_id) if state else None
    try:
        if state is None or item is None:
            raise Rejected(f"unknown item {cmd.item_id}")
        new_item, type_, data = _transition(item, cmd, config, now, roster)
    except Rejected as exc:
        rejected = ItemEvent(
            event_id=f"{cmd.item_id}:rejected:{cmd.command_id}",
            item_id=cmd.item_id,
            seq=item.seq if item else 0,
            type="rejected",
            actor=cmd.actor,
            at=now,
            command_id=cmd.command_id,
            data={"command": cmd.type, "reason": exc.reason},
            item=item,
        )
        if state is None:
            return Applied(ThreadState(key="", thread_key=""), [rejected])
        recent = [*state.recent_commands, cmd.command_id][-RECENT_COMMANDS:]
        return Applied(state.model_copy(update={"recent_commands": recent}), [rejected])
    events = [_event(new_item, type_, cmd.actor, now, cmd.command_id, data)]
    became_p1 = new_item.priority == Priority.P1 and item.priority != Priority.P1
    if roster is not None and (
        (type_ == "transferred" and new_item.priority == Priority.P1)
        or (type_ in ("regraded", "absorbed") and became_p1)
    ):
        why = {
            "transferred": (
                f"P1 transferred from {data.get('from_force') or 'the national duty queue'}"
            ),
            "regraded": f"re-graded to P1 by {cmd.actor.id}",
            "absorbed": f"P1 report {data.get('from')} merged in",
        }[type_]
        new_item, alert = _p1_alert(config, new_item, roster, now, why)
        events += alert
    if type_ == "transferred" and roster is not None:
        chosen = choose_operator(config, new_item, roster)
        if chosen is not None:
            new_item = _bump(new_item, now, owner=chosen, status=ItemStatus.assigned)
            events.append(
                _event(new_item, "assigned", SYSTEM, now, data={"operator": chosen, "auto": True})
            )
    commands = [absorb_command(item, cmd, now)] if type_ == "merged" else []
    items = dict(state.items)
    items[new_item.id] = new_item
    recent = [*state.recent_commands, cmd.command_id][-RECENT_COMMANDS:]
    return Applied(
        state.model_copy(update={"items": items, "recent_commands": recent}), events, commands
    )


def absorb_command(merged: Item, cmd: ItemCommand, now: datetime) -> ItemCommand:
    """What a merge tells the item it went into (which may live on another partition):
    the merged report's grade, flags and first contact, so an emergency merged into a
    routine item makes that item an emergency. Its id derives from the merge command's,
    so a replayed merge is applied once."""
    return ItemCommand(
        command_id=f"absorb:{cmd.command_id}"[:100],
        item_id=str(cmd.payload["into"]),
        type="absorb",
        actor=SYSTEM,
        issued_at=now,
        payload={
            "from": merged.id,
            "priority": merged.priority.value,
            "flags": [f.value for f in merged.flags],
            "urgency": merged.urgency,
            "first_contact_at": merged.created_at.isoformat(),
            "by": cmd.actor.id,
        },
    )


def _absorb(item: Item, cmd: ItemCommand, now: datetime) -> tuple[Item, str, dict[str, Any]]:
    """Another item was merged into this one: it takes the higher grade, the union of the
    flags and, when the grade rises, the earlier first contact (the SLA clocks then run
    from the older report: docs/sla.md). A resolved item is reopened: an open report
    must never be merged out of sight."""
    p = cmd.payload
    if cmd.actor.kind != "system":
        raise Rejected("absorb follows a merge; it is not an operator's command")
    try:
        pr = Priority(str(p.get("priority")))
        flags = {Flag(f) for f in p.get("flags", [])}
        since = datetime.fromisoformat(str(p.get("first_contact_at")))
    except ValueError as exc:
        raise Rejected(f"absorb needs payload.priority, flags and first_contact_at: {exc}") from exc
    if item.status == ItemStatus.closed:
        raise Rejected("item is closed; the merged report stays on its own item")
    higher = _rank(pr) < _rank(item.priority)
    reopened = item.status == ItemStatus.resolved
    changes: dict[str, Any] = {
        "flags": sorted(set(item.flags) | flags, key=lambda f: f.value),
        "urgency": max(item.urgency, float(p.get("urgency") or 0.0)),
        "messages": [
            *item.messages,
            ItemMessage(
                direction="internal",
                author=str(p.get("by") or "assign"),
                text=f"merged in: {p.get('from')}",
                at=now,
            ),
        ],
    }
    if higher:
        changes["priority"] = pr
    if reopened:
        changes |= {
            "status": ItemStatus.assigned if item.owner else ItemStatus.new,
            "outcome": None,
        }
    earlier = higher and since < item.created_at
    return (
        _bump(item, now, **changes),
        "absorbed",
        {
            "from": p.get("from"),
            "regraded_to": pr.value if higher else None,
            "first_contact_at": since.isoformat() if earlier else None,
            "reopened": reopened,
        },
    )


DELIVERY_STATUSES = ("delivered", "undeliverable")


def _control_room_update(
    item: Item, cmd: ItemCommand, now: datetime
) -> tuple[Item, str, dict[str, Any]]:
    """What came back about a handover: the dispatcher's delivery outcome, or the control
    room's callback (incident number, status). A callback is applied once: its id is
    remembered and one older than the last applied is refused (a replay or a late
    retry must not turn 'dispatched' back into 'received')."""
    p = cmd.payload
    if cmd.actor.kind != "system":
        raise Rejected("control-room updates come from the control room, not an operator")
    link = item.control_room
    if link is None or p.get("handover_id") != link.handover_id:
        raise Rejected(f"unknown handover {p.get('handover_id')!r} for this item")
    status = str(p.get("status") or "")
    if not status:
        raise Rejected("control_room_update needs payload.status")
    if p.get("source") == "delivery":
        if status not in DELIVERY_STATUSES:
            raise Rejected(f"delivery status is one of {', '.join(DELIVERY_STATUSES)}")
        if link.status != "requested":
            raise Rejected(f"the control room has already answered ({link.status})")
        new = link.model_copy(update={"status": status, "updated_at": now})
        return (
            _bump(item, now, control_room=new),
            "control_room_updated",
            {
                "handover_id": link.handover_id,
                "status": status,
                "source": "delivery",
                "error": p.get("error"),
            },
        )
    callback_id = str(p.get("callback_id") or "")
    if not callback_id:
        raise Rejected("a callback needs payload.callback_id")
    if callback_id in link.callback_ids:
        raise Rejected(f"replayed callback {callback_id}: already applied")
    try:
        sent_at = datetime.fromisoformat(str(p.get("sent_at")))
    except ValueError as exc:
        raise Rejected("a callback needs payload.sent_at") from exc
    if link.last_callback_at is not None and sent_at <= link.last_callback_at:
        raise Rejected(
            f"stale callback: sent {sent_at.isoformat()}, the last applied was sent "
            f"{link.last_callback_at.isoformat()}"
        )
    incident = p.get("incident_number") or link.incident_number
    new = link.model_copy(
        update={
            "status": status,
            "incident_number": incident,
            "updated_at": now,
            "callback_ids": [*link.callback_ids, callback_id][-50:],
            "last_callback_at": sent_at,
        }
    )
    return (
        _bump(item, now, control_room=new),
        "control_room_updated",
        {
            "handover_id": link.handover_id,
            "status": status,
            "incident_number": incident,
            "callback_id": callback_id,
            "note": p.get("note"),
            "source": "callback",
        },
    )


def _transition(
    item: Item, cmd: ItemCommand, config: PlatformConfig, now: datetime, roster: Roster | None
) -> tuple[Item, str, dict[str, Any]]:
    actor, p = cmd.actor, cmd.payload
    if actor.kind == "operator" and actor.force != item.force:
        raise Rejected("operator of another force")
    if cmd.expected_seq is not None and cmd.expected_seq != item.seq:
        raise Rejected(
            f"stale command: item is at seq {item.seq}, command expected {cmd.expected_seq}"
        )
    if cmd.type == "absorb":
        return _absorb(item, cmd, now)
    if cmd.type == "control_room_update":
        return _control_room_update(item, cmd, now)
    closed = item.status in (ItemStatus.resolved, ItemStatus.closed)
    if closed and cmd.type not in ("reopen", "note"):
        raise Rejected(f"item is {item.status.value}; reopen it first")
    match cmd.type:
        case "claim":
            if item.owner == actor.id:
                raise Rejected("already yours")
            if item.owner is not None:
                raise Rejected(f"already claimed by {item.owner}")
            return _bump(item, now, owner=actor.id, status=ItemStatus.assigned), "claimed", {}
        case "release":
            if item.owner is None:
                raise Rejected("item has no owner")
            if item.owner != actor.id and p.get("role") not in ("supervisor", "force_admin"):
                raise Rejected(f"owned by {item.owner}; only they or a supervisor can release it")
            return _bump(item, now, owner=None, status=ItemStatus.new), "released", {}
        case "assign":
            operator = p.get("operator")
            if not isinstance(operator, str) or not operator:
                raise Rejected("assign needs payload.operator")
            if roster is not None:
                known = roster.operators.get(operator)
                if known is None:
                    raise Rejected(f"unknown operator {operator}")
                if known.force != item.force:
                    raise Rejected(f"{operator} belongs to another force")
            return (
                _bump(item, now, owner=operator, status=ItemStatus.assigned),
                "assigned",
                {"operator": operator},
            )
        case "reply" | "note":
            text = p.get("text")
            if not isinstance(text, str) or not text.strip():
                raise Rejected(f"{cmd.type} needs payload.text")
            if cmd.type == "reply" and item.owner not in (None, actor.id):
                raise Rejected(f"owned by {item.owner}; claim it before replying")
            direction = "outbound" if cmd.type == "reply" else "internal"
            msg = ItemMessage(direction=direction, author=actor.id, text=text, at=now)
            changes: dict[str, Any] = {"messages": [*item.messages, msg]}
            if cmd.type == "reply":
                changes |= {"owner": item.owner or actor.id, "status": ItemStatus.in_progress}
            return _bump(item, now, **changes), "replied" if cmd.type == "reply" else "noted", {}
        case "await_public":
            if item.status not in (ItemStatus.assigned, ItemStatus.in_progress):
                raise Rejected(f"cannot wait on the public from {item.status.value}")
            return _bump(item, now, status=ItemStatus.awaiting_public), "awaiting_public", {}
        case "regrade":
            try:
                pr = Priority(str(p.get("priority")))
            except ValueError as exc:
                raise Rejected("regrade needs payload.priority P1-P4") from exc
            if pr == item.priority:
                raise Rejected(f"already {pr.value}")
            return (
                _bump(item, now, priority=pr),
                "regraded",
                {"from": item.priority.value, "to": pr.value, "reason": p.get("reason")},
            )
        case "recategorise":
            try:
                intent = Intent(p.get("intent", item.intent.value))
                flags = [Flag(f) for f in p.get("flags", [f.value for f in item.flags])]
            except ValueError as exc:
                raise Rejected(f"unknown intent or flag: {exc}") from exc
            return (
                _bump(item, now, intent=intent, flags=flags),
                "recategorised",
                {"intent": intent.value, "flags": [f.value for f in flags]},
            )
        case "transfer":
            force = p.get("force", item.force)
            team = p.get("team", "digital-desk")
            if force not in config.forces:
                raise Rejected(f"unknown force {force!r}")
            if team not in {t.id for t in config.forces[force].teams}:
                raise Rejected(f"force {force} has no team {team!r}")
            return (
                _bump(
                    item,
                    now,
                    force=force,
                    team=team,
                    owner=None,
                    status=ItemStatus.new,
                    suggested_force=None,
                ),
                "transferred",
                {"from_force": item.force, "from_team": item.team, "force": force, "team": team},
            )
        case "resolve":
            try:
                outcome = Outcome(str(p.get("outcome")))
            except ValueError as exc:
                raise Rejected(
                    f"resolve needs an outcome: {', '.join(o.value for o in Outcome)}"
                ) from exc
            ref = p.get("crime_reference")
            if outcome == Outcome.crime_recorded and not ref:
                raise Rejected("crime_recorded needs payload.crime_reference")
            return (
                _bump(item, now, status=ItemStatus.resolved, outcome=outcome, crime_reference=ref),
                "resolved",
                {"outcome": outcome.value, "crime_reference": ref},
            )
        case "merge":
            into = p.get("into")
            if not isinstance(into, str) or not into or into == item.id:
                raise Rejected("merge needs payload.into, another item's id")
            return (
                _bump(
                    item,
                    now,
                    status=ItemStatus.resolved,
                    outcome=Outcome.duplicate,
                    merged_into=into,
                ),
                "merged",
                {"into": into},
            )
        case "hand_over":
            fc = config.forces.get(item.force or "")
            if fc is None or fc.control_room is None:
                raise Rejected(
                    f"{fc.name if fc else 'the national duty queue'} has no control room "
                    "configured: transfer the item or ring it through"
                )
            link = item.control_room
            if link is not None and link.status != "undeliverable":
                raise Rejected(f"already handed over ({link.handover_id}, {link.status})")
            handover_id = (
                "ho_" + hashlib.sha256(f"{item.id}|{cmd.command_id}".encode()).hexdigest()[:16]
            )
            reason = p.get("reason")
            requested_by = (
                actor.id if actor.kind == "operator" else f"rule:{','.join(p.get('rule') or [])}"
            )
            new_link = ControlRoomLink(
                handover_id=handover_id,
                status="requested",
                requested_at=now,
                requested_by=requested_by,
                updated_at=now,
            )
            return (
                _bump(item, now, control_room=new_link),
                "handed_over",
                {
                    "handover_id": handover_id,
                    "reason": str(reason)[:2000] if reason else None,
                    "requested_by": requested_by,
                },
            )
        case "reopen":
            if item.status != ItemStatus.resolved:
                raise Rejected(f"only a resolved item can be reopened (it is {item.status.value})")
            status = ItemStatus.assigned if item.owner else ItemStatus.new
            return _bump(item, now, status=status, outcome=None), "reopened", {}
    raise Rejected(f"unknown command {cmd.type}")
