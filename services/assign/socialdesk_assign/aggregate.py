"""The inbox item aggregate: a plain state machine. Input (a triaged mention or a
command) and the thread's current state in; the new state and events out.

One thread (conversation) maps to one item key and so to one partition and one writer.
A thread holds its items: normally one, more when someone writes again long after the
last item was resolved. Every event carries the item's per-item sequence number, so
consumers can drop duplicates and keep order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from socialdesk.config import PlatformConfig
from socialdesk.events import (
    Actor,
    CommandType,
    Item,
    ItemCommand,
    ItemEvent,
    ItemEventType,
    ItemMessage,
    TriagedMention,
)
from socialdesk.personal import author_key
from socialdesk.taxonomy import OPEN_STATUSES, ItemStatus, Priority
from socialdesk_assign.routing import (
    Gazetteer,
    Roster,
    choose_operator,
    duty_officers_on_duty,
    route_team,
    supervisors_on_duty,
)
from socialdesk_assign.transitions import Rejected, bump, rank, transition

REOPEN_WINDOW = timedelta(days=7)
RECENT_COMMANDS = 200
SYSTEM = Actor(kind="system", id="assign")


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


def _event(
    item: Item,
    type_: ItemEventType,
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


def apply_mention(
    state: ThreadState | None,
    tm: TriagedMention,
    config: PlatformConfig,
    now: datetime,
    roster: Roster | None = None,
    gazetteer: Gazetteer | None = None,
) -> Applied:
    """A new message on a thread: a new item, a follow-up on the open one, or a reopen."""
    m = tm.mention
    state = state or ThreadState(key=tm.item_key, thread_key=m.thread_key())
    for item in state.items.values():
        if m.id in item.mention_ids:
            return Applied(state, [])  # the same platform message again: ignore
    message = ItemMessage(
        mention_id=m.id,
        direction="inbound",
        author=m.author.handle or m.author.id,
        text=m.text,
        at=m.posted_at,
        language=tm.triage.language or m.language,
        account=m.force_account.handle,
        media=m.media,
        author_id=m.author.id,
        author_key=author_key(m.platform.value, m.author.id),
    )
    current = state.current_item()
    if current is not None and (
        current.status in OPEN_STATUSES
        or (current.status == ItemStatus.resolved and now - current.updated_at <= REOPEN_WINDOW)
    ):
        item, events = _follow_up(current, tm, message, config, now, roster)
    else:
        item, events = _new_item(state, tm, message, config, now, roster, gazetteer)
    new_items = dict(state.items)
    new_items[item.id] = item
    return Applied(state.model_copy(update={"items": new_items, "current": item.id}), events)


def _follow_up(
    item: Item,
    tm: TriagedMention,
    message: ItemMessage,
    config: PlatformConfig,
    now: datetime,
    roster: Roster | None,
) -> tuple[Item, list[ItemEvent]]:
    """The public wrote again on an open (or lately resolved, then reopened) item: the
    message joins it, and a higher grade raises the item's."""
    m, t = tm.mention, tm.triage
    events: list[ItemEvent] = []
    if item.status == ItemStatus.resolved:
        status = ItemStatus.assigned if item.owner else ItemStatus.new
        item = bump(item, now, status=status, outcome=None)
        data = {"reason": "public wrote again"}
        events.append(_event(item, ItemEventType.reopened, SYSTEM, now, data=data))
    higher = rank(t.priority) < rank(item.priority)
    new_status = (
        ItemStatus.in_progress if item.status == ItemStatus.awaiting_public else item.status
    )
    item = bump(
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
    # the person by their author key, not the platform's id (sealed as theirs on Kafka)
    public = Actor(kind="public", id=author_key(m.platform.value, m.author.id))
    replied = {"mention_id": m.id, "regraded_to": t.priority.value if higher else None}
    events.append(_event(item, ItemEventType.public_replied, public, now, data=replied))
    if higher and t.priority == Priority.P1 and roster is not None:
        item, alert = _p1_alert(config, item, roster, now, "a follow-up made it P1")
        events += alert
    return item, events


@dataclass(frozen=True)
class Route:
    """Whose item a new message is: the force of the account it reached, else of the
    place its text names; another force's place only suggests a transfer."""

    force: str | None
    suggested: str | None
    place: str | None

    def how(self, account_force: str | None) -> str:
        if account_force:
            return "account reached"
        if self.force:
            return f"unknown account; text names {self.place} ({self.force})"
        return "unknown account and no place named: national duty queue"


def route(tm: TriagedMention, gazetteer: Gazetteer | None) -> Route:
    """The one place an item's force is decided."""
    force = tm.force
    for place, place_force in gazetteer.find(tm.mention.text) if gazetteer else []:
        if place_force != force:
            if force is None:
                return Route(place_force, None, place)  # unknown account: the place decides
            return Route(force, place_force, place)  # another force's area: flag for transfer
    return Route(force, None, None)


def _new_item(
    state: ThreadState,
    tm: TriagedMention,
    message: ItemMessage,
    config: PlatformConfig,
    now: datetime,
    roster: Roster | None,
    gazetteer: Gazetteer | None,
) -> tuple[Item, list[ItemEvent]]:
    """A new item on the thread: routed to a force and team, its alerts raised, and given
    to an operator when one is free."""
    m, t = tm.mention, tm.triage
    n = len(state.items)
    where = route(tm, gazetteer)
    force = where.force
    team = route_team(config, force, t.intent, t.flags)
    item = Item(
        id=state.key if n == 0 else f"{state.key}.{n + 1}",
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
        suggested_force=where.suggested,
        created_at=now,
        updated_at=now,
        first_mention_at=m.posted_at,
        seq=1,
    )
    data = {"mention_id": m.id, "force": force, "team": team, "routing": where.how(tm.force)}
    events = [_event(item, ItemEventType.created, SYSTEM, now, data=data)]
    routed = _routed_data(config, where, t.priority, roster)
    if routed is not None:
        item = bump(item, now)
        events.append(_event(item, ItemEventType.routed, SYSTEM, now, data=routed))
    if roster is not None:
        chosen = choose_operator(config, item, roster)
        if chosen is not None:
            item = bump(item, now, owner=chosen, status=ItemStatus.assigned)
            auto = {"operator": chosen, "auto": True}
            events.append(_event(item, ItemEventType.assigned, SYSTEM, now, data=auto))
    return item, events


def _routed_data(
    config: PlatformConfig, where: Route, priority: Priority, roster: Roster | None
) -> dict[str, Any] | None:
    """The `routed` event of a new item, if it has one: the national duty queue's alert,
    a suggested transfer, or a P1's supervisors on duty."""
    if where.force is None:
        # Nobody's force: every such item alerts the national duty officers on duty (none
        # signed in: the routed event still says so, and the queue is on the national board).
        duty = config.national.duty_queue
        officers = duty_officers_on_duty(roster, duty.role) if roster else []
        alerted = (
            f"{len(officers)} duty officer(s) alerted" if officers else "no duty officer signed in"
        )
        return {
            "suggested_force": None,
            "place": None,
            "queue": "national",
            "notify_supervisors": [],
            "notify_duty_officers": officers,
            "reason": f"no force could be determined: {duty.name}; {alerted}",
        }
    p1 = roster is not None and priority == Priority.P1
    notify = supervisors_on_duty(roster, where.force) if roster and p1 else []
    if not (where.suggested or notify):
        return None
    return {
        "suggested_force": where.suggested,
        "place": where.place,
        "notify_supervisors": notify,
        "reason": (
            f"text names {where.place}, in {where.suggested}'s area: consider a transfer"
            if where.suggested
            else "P1: supervisors on duty alerted"
        ),
    }


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
    item = bump(item, now)
    data: dict[str, Any] = {
        "suggested_force": None,
        "place": None,
        "notify_supervisors": supervisors,
        "reason": f"{why}: {'duty officers' if officers else 'supervisors'} on duty alerted",
    }
    if officers:
        data |= {"queue": "national", "notify_duty_officers": officers}
    return item, [_event(item, ItemEventType.routed, SYSTEM, now, data=data)]


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
        new_item, type_, data = transition(item, cmd, config, now, roster)
    except Rejected as exc:
        rejected = ItemEvent(
            event_id=f"{cmd.item_id}:rejected:{cmd.command_id}",
            item_id=cmd.item_id,
            seq=item.seq if item else 0,
            type=ItemEventType.rejected,
            actor=cmd.actor,
            at=now,
            command_id=cmd.command_id,
            data={"command": cmd.type.value, "reason": exc.reason},
            item=item,
        )
        if state is None:
            return Applied(ThreadState(key="", thread_key=""), [rejected])
        recent = [*state.recent_commands, cmd.command_id][-RECENT_COMMANDS:]
        return Applied(state.model_copy(update={"recent_commands": recent}), [rejected])
    events = [_event(new_item, type_, cmd.actor, now, cmd.command_id, data)]
    became_p1 = new_item.priority == Priority.P1 and item.priority != Priority.P1
    if roster is not None and (
        (type_ == ItemEventType.transferred and new_item.priority == Priority.P1)
        or (type_ in (ItemEventType.regraded, ItemEventType.absorbed) and became_p1)
    ):
        why = {
            ItemEventType.transferred: (
                f"P1 transferred from {data.get('from_force') or 'the national duty queue'}"
            ),
            ItemEventType.regraded: f"re-graded to P1 by {cmd.actor.id}",
            ItemEventType.absorbed: f"P1 report {data.get('from')} merged in",
        }[type_]
        new_item, alert = _p1_alert(config, new_item, roster, now, why)
        events += alert
    if type_ == ItemEventType.transferred and roster is not None:
        chosen = choose_operator(config, new_item, roster)
        if chosen is not None:
            new_item = bump(new_item, now, owner=chosen, status=ItemStatus.assigned)
            events.append(
                _event(
                    new_item,
                    ItemEventType.assigned,
                    SYSTEM,
                    now,
                    data={"operator": chosen, "auto": True},
                )
            )
    merged = type_ == ItemEventType.merged
    commands = [absorb_command(item, str(data["into"]), cmd, now)] if merged else []
    items = dict(state.items)
    items[new_item.id] = new_item
    recent = [*state.recent_commands, cmd.command_id][-RECENT_COMMANDS:]
    return Applied(
        state.model_copy(update={"items": items, "recent_commands": recent}), events, commands
    )


def absorb_command(merged: Item, into: str, cmd: ItemCommand, now: datetime) -> ItemCommand:
    """What a merge tells the item it went into (which may live on another partition):
    the merged report's grade, flags and first contact, so an emergency merged into a
    routine item makes that item an emergency. Its id derives from the merge command's,
    so a replayed merge is applied once."""
    return ItemCommand(
        command_id=f"absorb:{cmd.command_id}"[:100],
        item_id=into,
        type=CommandType.absorb,
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
