"""Who is told about an item, and when: plain Python, no Kafka, SMTP or HTTP.

The unclaimed-P1 ladder (docs/notifications.md): a P1 that nobody owns is watched from
the moment it became an unowned P1; after the force's `unclaimed.after_minutes` (2 by
default) the supervisors on duty are told on every channel the force wired for them,
then, `inspector_after_minutes` later, the duty inspector. A claim (or an assignment, a
resolution, a re-grade below P1, an operator's handover) stops the ladder; if the item
becomes an unowned P1 again, a new episode starts. Every notification's id names the
item, the episode, the step and the channel: the dispatcher sends each id at most once.

A handover (`handed_over` item event) becomes one notification to the force's control
room carrying the versioned payload (docs/control-room.md). A force rule can hand a P1
over by itself: a P1 with any of `control_room.auto_handover_flags` gets a `hand_over`
command (once per item, from the system actor `notify`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from socialdesk.config import NotifyChannel, PlatformConfig
from socialdesk.events import (
    Actor,
    CommandType,
    ControlRoomItem,
    HandoverPayload,
    ItemCommand,
    ItemEvent,
    ItemEventType,
    Notification,
    NotifyTarget,
)
from socialdesk.taxonomy import OPEN_STATUSES, Priority

SYSTEM = Actor(kind="system", id="notify")
STEPS = {1: "supervisors", 2: "duty_inspector"}


@dataclass(slots=True)
class Watch:
    """notify's state for one item (the planner's store value)."""

    item_id: str
    force: str | None
    team: str
    priority: str
    intent: str
    flags: list[str]
    platform: str
    channel: str
    created_at: str
    owner: str | None = None
    status: str = "new"
    last_seq: int = 0
    unclaimed_since: float | None = None
    episode: int = 0
    steps_done: int = 0
    auto_handover: bool = False
    handovers: list[str] = field(default_factory=list)
    updated: float = 0.0  # the last item event's time: finished items are forgotten later

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Watch:
        return cls(**json.loads(raw))

    def copy(self) -> Watch:
        return Watch.from_json(self.to_json())


def _ts(d: datetime) -> float:
    return d.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def step_due_at(config: PlatformConfig, st: Watch, step: int) -> float | None:
    """When a step of the ladder is due for the current episode (None: not watching)."""
    if st.unclaimed_since is None:
        return None
    ladder = config.unclaimed(st.force)
    after = ladder.after_minutes * 60
    if step == 2:
        after += ladder.inspector_after_minutes * 60
    return st.unclaimed_since + after


def next_due(config: PlatformConfig, st: Watch) -> float | None:
    if st.unclaimed_since is None or st.steps_done >= len(STEPS):
        return None
    return step_due_at(config, st, st.steps_done + 1)


def on_item_event(
    config: PlatformConfig, st: Watch | None, ev: ItemEvent, console_url: str, callback_url: str
) -> tuple[Watch | None, list[Notification], list[ItemCommand]]:
    """Follow one item event; replayed or older events change nothing."""
    item = ev.item
    if item is None or ev.type == ItemEventType.rejected:
        return st, [], []
    if st is not None and ev.seq <= st.last_seq:
        return st, [], []
    if st is None:
        st = Watch(
            item_id=item.id,
            force=item.force,
            team=item.team,
            priority=item.priority.value,
            intent=item.intent.value,
            flags=[f.value for f in item.flags],
            platform=item.platform.value,
            channel=item.channel.value,
            created_at=item.created_at.isoformat(),
        )
    else:
        st = st.copy()
    st.last_seq = ev.seq
    st.updated = _ts(ev.at)
    st.force, st.team, st.owner = item.force, item.team, item.owner
    st.priority, st.intent = item.priority.value, item.intent.value
    st.flags = [f.value for f in item.flags]
    st.status = item.status.value
    # An operator who hands the item over has acted on it: the ladder stops (a force
    # rule's automatic handover does not count: nobody has seen the item yet).
    acted = item.control_room is not None and not item.control_room.requested_by.startswith("rule:")
    unowned_p1 = (
        item.priority == Priority.P1
        and item.owner is None
        and item.status in OPEN_STATUSES
        and not acted
    )
    if unowned_p1 and st.unclaimed_since is None:
        st.unclaimed_since = _ts(ev.at)
        st.episode += 1
        st.steps_done = 0
    elif not unowned_p1:
        st.unclaimed_since = None  # claimed, assigned, resolved or no longer P1: stop
    notes: list[Notification] = []
    commands: list[ItemCommand] = []
    if ev.type == ItemEventType.handed_over and item.control_room is not None:
        hid = item.control_room.handover_id
        if hid not in st.handovers:
            st.handovers = [*st.handovers, hid][-20:]
            note = handover_notification(config, ev, console_url, callback_url)
            if note is not None:
                notes.append(note)
    fc = config.forces.get(item.force or "")
    rule = fc.control_room if fc is not None else None
    if (
        rule is not None
        and not st.auto_handover
        and item.control_room is None
        and item.priority == Priority.P1
        and item.status in OPEN_STATUSES
    ):
        hit = sorted({f.value for f in item.flags} & {f.value for f in rule.auto_handover_flags})
        if hit:
            st.auto_handover = True
            commands.append(
                ItemCommand(
                    command_id=f"auto-handover:{item.id}"[:100],
                    item_id=item.id,
                    type=CommandType.hand_over,
                    actor=SYSTEM,
                    issued_at=ev.at,
                    payload={"reason": f"force rule: P1 with {', '.join(hit)}", "rule": hit},
                )
            )
    return st, notes, commands


def who(config: PlatformConfig, force: str | None, step: int) -> tuple[str, str]:
    """(channel role, notify entry) for a step: the force's supervisors, then its duty
    inspector; an item of no force tells the national duty officers at both steps."""
    if force is None:
        duty: str = config.national.duty_queue.role
        return duty, f"{duty}:national"
    return STEPS[step], f"{STEPS[step]}:{force}"


def due_notifications(
    config: PlatformConfig, st: Watch, now: float, console_url: str
) -> list[Notification]:
    """The ladder's steps whose time has come (never early). Mutates `st`."""
    out: list[Notification] = []
    while st.unclaimed_since is not None and st.steps_done < len(STEPS):
        step = st.steps_done + 1
        due = step_due_at(config, st, step)
        if due is None or now < due:
            break
        st.steps_done = step
        out.extend(_ladder_step(config, st, step, now, console_url))
    return out


def _ladder_step(
    config: PlatformConfig, st: Watch, step: int, now: float, console_url: str
) -> list[Notification]:
    role, entry = who(config, st.force, step)
    since = st.unclaimed_since or now
    minutes = (now - since) / 60
    place = config.forces[st.force].name if st.force in config.forces else "National duty queue"
    url = f"{console_url.rstrip('/')}/items/{st.item_id}"
    subject = f"P1 unclaimed for {minutes:.0f} min: {place}, {st.team} ({st.item_id})"
    lines = [
        f"A P1 ({st.intent}{', ' + ', '.join(st.flags) if st.flags else ''}) on {st.platform}",
        f"has had no owner since {_dt(since).strftime('%H:%M:%S UTC')}.",
        "Step 1: the supervisors on duty." if step == 1 else "Step 2: the duty inspector.",
        f"Open it: {url}",
    ]
    body = {
        "schema_version": 1,
        "kind": "unclaimed_p1",
        "step": step,
        "notify": [entry],
        "item": {
            "id": st.item_id,
            "url": url,
            "force": st.force,
            "team": st.team,
            "priority": st.priority,
            "intent": st.intent,
            "flags": st.flags,
            "platform": st.platform,
            "channel": st.channel,
            "created_at": st.created_at,
            "unclaimed_since": _dt(since).isoformat(),
        },
        "subject": subject,
    }
    out = []
    for ch in channels_for(config, st.force, role):
        nid = f"{st.item_id}:unclaimed:{st.episode}:{step}:{ch.id}"
        out.append(
            Notification(
                notification_id=nid,
                item_id=st.item_id,
                kind="unclaimed_p1",
                step=step,
                notify=[entry],
                force=st.force,
                priority=Priority(st.priority),
                target=_target(ch),
                subject=subject,
                text="\n".join(lines),
                payload={**body, "notification_id": nid},
                created_at=_dt(now),
            )
        )
    return out


def channels_for(config: PlatformConfig, force: str | None, role: str) -> list[NotifyChannel]:
    return [c for c in config.channels(force) if role in c.roles]


def _target(ch: NotifyChannel) -> NotifyTarget:
    if ch.type == "email":
        return NotifyTarget(type="email", channel=ch.id, to=list(ch.to))
    return NotifyTarget(type="webhook", channel=ch.id, url=ch.url)


def handover_payload(
    config: PlatformConfig, ev: ItemEvent, console_url: str, callback_url: str
) -> HandoverPayload | None:
    item = ev.item
    if item is None or item.control_room is None or item.force not in config.forces:
        return None
    link = item.control_room
    return HandoverPayload(
        handover_id=link.handover_id,
        force=item.force,
        force_name=config.forces[item.force].name,
        requested_at=link.requested_at,
        requested_by=link.requested_by,
        reason=ev.data.get("reason"),
        item=ControlRoomItem(
            id=item.id,
            url=f"{console_url.rstrip('/')}/items/{item.id}",
            priority=item.priority,
            intent=item.intent,
            flags=item.flags,
            platform=item.platform,
            channel=item.channel,
            language=item.language,
            created_at=item.created_at,
            first_contact_at=item.first_mention_at,
            author=item.author,
            messages=[m for m in item.messages if m.direction != "internal"],
            reasons=item.reasons,
        ),
        callback_url=callback_url,
    )


def handover_notification(
    config: PlatformConfig, ev: ItemEvent, console_url: str, callback_url: str
) -> Notification | None:
    """The handover as a notification to the force's control room (None: the force has
    no control room configured; assign refuses the handover before that)."""
    item = ev.item
    payload = handover_payload(config, ev, console_url, callback_url)
    fc = config.forces.get(item.force or "") if item is not None else None
    if item is None or payload is None or fc is None or fc.control_room is None:
        return None
    return Notification(
        notification_id=f"{item.id}:handover:{payload.handover_id}",
        item_id=item.id,
        kind="handover",
        step=1,
        notify=[f"control_room:{item.force}"],
        force=item.force,
        priority=item.priority,
        target=NotifyTarget(type="control_room", channel="control-room", url=fc.control_room.url),
        subject=f"Handover {payload.handover_id}: {item.priority.value} {item.intent.value}",
        text=f"Item {item.id} handed over to {fc.name}'s control room.",
        payload=payload.to_json_dict(),
        created_at=ev.at,
    )


FORGET_AFTER_S = 8 * 86400  # past the 7-day reopen window, as sla does


def forgettable(st: Watch, now: float) -> bool:
    """A finished item nothing more can happen to: its state can leave the store (a later
    replay plans the same notification ids again, and the dispatcher's record holds)."""
    return st.status not in OPEN_STATUSES and now - st.updated > FORGET_AFTER_S
