"""Event models, one per topic payload. They match the JSON Schemas in schemas/ (a test
validates every example against both and round-trips it)."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from socialdesk.taxonomy import Channel, Flag, Intent, ItemStatus, Outcome, Platform, Priority


def utcnow() -> datetime:
    return datetime.now(UTC)


class Model(BaseModel):
    """Strict about unknown fields so a producer's typo is caught, not silently dropped.
    A validation error never quotes the input: a traceback or log line would otherwise
    carry a member of the public's message (or name) with it."""

    model_config = ConfigDict(extra="forbid", use_enum_values=False, hide_input_in_errors=True)

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=False)


class Author(Model):
    id: str = Field(min_length=1, max_length=200)
    handle: str | None = Field(default=None, max_length=200)
    display_name: str | None = Field(default=None, max_length=400)


class ForceAccount(Model):
    platform: Platform
    handle: str = Field(min_length=1, max_length=200)


class MediaRef(Model):
    type: str = Field(max_length=40)
    url: str = Field(max_length=2000)
    # What the platform (or the sender) says the picture shows, for the console's alt text.
    alt_text: str | None = Field(default=None, max_length=2000)


class Mention(Model):
    """A normalised social media message that reached a force account (mentions.raw)."""

    schema_version: Literal[1] = 1
    id: str = Field(min_length=3, max_length=300, pattern=r"^[a-z_]+:.+$")
    platform: Platform
    native_id: str = Field(min_length=1, max_length=256)
    channel: Channel
    author: Author
    text: str = Field(max_length=100_000)
    language: str | None = Field(default=None, max_length=16)
    posted_at: AwareDatetime
    received_at: AwareDatetime
    force_account: ForceAccount
    conversation_id: str | None = Field(default=None, max_length=256)
    in_reply_to_id: str | None = Field(default=None, max_length=256)
    media: list[MediaRef] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    raw: dict[str, Any] = Field(default_factory=dict)

    def thread_key(self) -> str:
        """The conversation a mention belongs to: replies and DMs join their thread."""
        if self.channel == Channel.direct_message:
            return f"{self.platform.value}:dm:{self.force_account.handle.lower()}:{self.author.id}"
        root = self.conversation_id or self.native_id
        return f"{self.platform.value}:thread:{root}"


class OutboundPost(Model):
    """What a force itself published (posts.outbound), keyed by post id: kept apart from
    the public's mentions so the force's own posts never become inbox items, while the
    balance of broadcasting and responding can still be measured."""

    schema_version: Literal[1] = 1
    id: str = Field(min_length=3, max_length=300, pattern=r"^[a-z_]+:.+$")
    platform: Platform
    native_id: str = Field(min_length=1, max_length=256)
    kind: Literal["post", "reply", "comment", "direct_message"]
    force_account: ForceAccount
    recipient: Author | None = Field(
        default=None, description="the member of the public a direct message went to"
    )
    text: str = Field(max_length=100_000)
    posted_at: AwareDatetime
    received_at: AwareDatetime
    conversation_id: str | None = Field(default=None, max_length=256)
    in_reply_to_id: str | None = Field(default=None, max_length=256)
    media: list[MediaRef] = Field(default_factory=list)
    links: list[str] = Field(default_factory=list)
    raw: dict[str, Any] = Field(default_factory=dict)
    objective: str | None = Field(
        default=None, max_length=40, description="publishing.Objective, for posts made here"
    )
    post_id: str | None = Field(
        default=None, max_length=200, description="the publishing desk's post, if made here"
    )

    def thread_key(self) -> str:
        """The thread this post answers, as Mention.thread_key() names it."""
        if self.kind == "direct_message" and self.recipient is not None:
            force = self.force_account.handle.lower()
            return f"{self.platform.value}:dm:{force}:{self.recipient.id}"
        root = self.conversation_id or self.native_id
        return f"{self.platform.value}:thread:{root}"


class Triage(Model):
    priority: Priority
    intent: Intent
    flags: list[Flag] = Field(default_factory=list)
    urgency: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)
    language: str | None = None
    reasons: list[str] = Field(default_factory=list)
    model_version: str
    scored_at: AwareDatetime


class TriagedMention(Model):
    """A mention with its grade (mentions.triaged), keyed by its item key."""

    schema_version: Literal[1] = 1
    mention: Mention
    triage: Triage
    force: str | None = Field(description="force id resolved from the account reached")
    item_key: str


class Actor(Model):
    kind: Literal["operator", "system", "public"]
    id: str = Field(min_length=1, max_length=200)
    force: str | None = None


# StrEnums, so they compare and serialise as the plain strings they have always been.
class CommandType(StrEnum):
    """What an item command asks of assign, the item's one writer."""

    claim = "claim"
    release = "release"
    assign = "assign"
    note = "note"
    reply = "reply"
    regrade = "regrade"
    recategorise = "recategorise"
    transfer = "transfer"
    await_public = "await_public"
    resolve = "resolve"
    reopen = "reopen"
    merge = "merge"
    absorb = "absorb"
    hand_over = "hand_over"
    control_room_update = "control_room_update"
    sent_by_hand = "sent_by_hand"  # an operator posted a reply outbound could not send


class ItemEventType(StrEnum):
    """What happened to an item; `rejected` repeats the item unchanged."""

    created = "created"
    routed = "routed"
    assigned = "assigned"
    claimed = "claimed"
    released = "released"
    replied = "replied"
    noted = "noted"
    regraded = "regraded"
    recategorised = "recategorised"
    transferred = "transferred"
    awaiting_public = "awaiting_public"
    public_replied = "public_replied"
    resolved = "resolved"
    reopened = "reopened"
    merged = "merged"
    absorbed = "absorbed"
    handed_over = "handed_over"
    control_room_updated = "control_room_updated"
    sent_by_hand = "sent_by_hand"
    rejected = "rejected"


class ItemCommand(Model):
    """An instruction to the item's one writer (items.commands), keyed by item key."""

    schema_version: Literal[1] = 1
    command_id: str = Field(min_length=1, max_length=100)
    item_id: str = Field(min_length=1, max_length=200)
    type: CommandType
    actor: Actor
    issued_at: AwareDatetime
    expected_seq: int | None = Field(default=None, ge=0)
    payload: dict[str, Any] = Field(default_factory=dict)


class ItemMessage(Model):
    """A message in an item's thread: from the public or an operator's reply."""

    mention_id: str | None = None
    direction: Literal["inbound", "outbound", "internal"]
    author: str
    text: str
    at: AwareDatetime
    # What the text is written in (detected, or the reply template's), so a page can mark
    # a Welsh message lang="cy" (WCAG 3.1.2); None on messages written before it was kept.
    language: str | None = Field(default=None, max_length=16)
    # The force account an inbound message reached (its handle), so a reply goes out from
    # that account with its own token; None on outbound/internal and older messages.
    account: str | None = Field(default=None, max_length=200)
    # Attachments sent with an inbound message, as the platform named them: the media
    # service keeps them as evidence (docs/media.md); empty on other and older messages.
    media: list[MediaRef] = Field(default_factory=list)
    # The sender's platform id: in a public thread a reply may come from someone other
    # than the item's author, and their attachments are filed (and erased) under them.
    author_id: str | None = Field(default=None, max_length=200)
    # Who wrote an inbound message (socialdesk.personal.author_key): on Kafka a message
    # by someone other than the item's author is sealed under their own key.
    author_key: str | None = Field(default=None, max_length=64)


class ControlRoomLink(Model):
    """An item handed over to the force control room (docs/control-room.md): the
    handover's id, and what the control room has told us back."""

    handover_id: str = Field(min_length=1, max_length=100)
    status: str = Field(
        max_length=40,
        description="requested, delivered, undeliverable, or the control room's own status "
        "(received, dispatched, resourced, closed, ...)",
    )
    incident_number: str | None = Field(default=None, max_length=100)
    requested_at: AwareDatetime
    requested_by: str
    updated_at: AwareDatetime
    callback_ids: list[str] = Field(
        default_factory=list, description="the control room's callbacks applied (last 50)"
    )
    last_callback_at: AwareDatetime | None = None


class Item(Model):
    """The inbox item aggregate's state, carried whole on every item event."""

    id: str
    key: str
    force: str | None
    team: str
    status: ItemStatus
    priority: Priority
    intent: Intent
    flags: list[Flag] = Field(default_factory=list)
    urgency: float = 0.0
    reasons: list[str] = Field(default_factory=list)
    owner: str | None = None
    platform: Platform
    channel: Channel
    author: Author
    thread_key: str
    mention_ids: list[str] = Field(default_factory=list)
    messages: list[ItemMessage] = Field(default_factory=list)
    language: str | None = None
    outcome: Outcome | None = None
    crime_reference: str | None = None
    suggested_force: str | None = Field(
        default=None, description="another force whose area the text names: transfer?"
    )
    merged_into: str | None = None
    control_room: ControlRoomLink | None = None
    created_at: AwareDatetime
    updated_at: AwareDatetime
    first_mention_at: AwareDatetime
    seq: int = Field(ge=1)


class ItemEvent(Model):
    """Something that happened to an item (items.events), keyed by item key."""

    schema_version: Literal[1] = 1
    event_id: str
    item_id: str
    seq: int = Field(ge=0, description="per-item sequence; a rejection repeats the current one")
    type: ItemEventType
    actor: Actor
    at: AwareDatetime
    command_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    item: Item | None = Field(description="the item after the change; null if unknown")


class SlaEvent(Model):
    """A change to one of an item's SLA clocks (sla.events), keyed by item key."""

    schema_version: Literal[1] = 1
    event_id: str
    item_id: str
    seq: int = Field(ge=1)
    type: Literal[
        "started", "warning", "breached", "met", "paused", "resumed", "recalculated", "escalated"
    ]
    clock: Literal["first_response", "next_response", "resolution"]
    priority: Priority
    force: str | None
    team: str
    started_at: AwareDatetime
    deadline: AwareDatetime | None
    time_left_s: float | None
    at: AwareDatetime
    owner: str | None = None
    notify: list[str] = Field(
        default_factory=list, description="who is told: team:, operator:, supervisors:, ..."
    )


class NotifyTarget(Model):
    type: Literal["email", "webhook", "control_room"]
    channel: str = Field(description="the channel's id in the force's config")
    to: list[str] = Field(default_factory=list, description="email addresses")
    url: str | None = None


class Notification(Model):
    """Something to tell someone outside the platform (notifications), keyed by item key:
    a step of the unclaimed-P1 ladder on one channel, or a handover to the control room.
    `notification_id` is the idempotency key (item, reason, step, channel): the notify
    dispatcher sends each id at most once (docs/notifications.md)."""

    schema_version: Literal[1] = 1
    notification_id: str = Field(min_length=1, max_length=300)
    item_id: str
    kind: Literal["unclaimed_p1", "handover"]
    step: int = Field(ge=1, description="1: supervisors on duty, 2: duty inspector")
    notify: list[str] = Field(default_factory=list, description="who: supervisors:<force>, ...")
    force: str | None
    priority: Priority
    target: NotifyTarget
    subject: str = Field(max_length=300)
    text: str = Field(max_length=10_000)
    payload: dict[str, Any] = Field(
        default_factory=dict, description="the JSON body a webhook or control room receives"
    )
    created_at: AwareDatetime


class ControlRoomItem(Model):
    id: str
    url: str = Field(description="the item in the console")
    priority: Priority
    intent: Intent
    flags: list[Flag] = Field(default_factory=list)
    platform: Platform
    channel: Channel
    language: str | None = None
    created_at: AwareDatetime
    first_contact_at: AwareDatetime
    author: Author
    messages: list[ItemMessage] = Field(description="the thread, oldest first")
    reasons: list[str] = Field(default_factory=list)


class HandoverPayload(Model):
    """What a force's command-and-control system receives when an item is handed over
    (schemas/control-room/handover.v1.schema.json; docs/control-room.md). Versioned:
    a receiver reads `schema_version` and ignores fields it does not know."""

    schema_version: Literal[1] = 1
    handover_id: str = Field(min_length=1, max_length=100)
    force: str
    force_name: str
    requested_at: AwareDatetime
    requested_by: str = Field(description="operator id, or 'rule:<flags>' for a force rule")
    reason: str | None = Field(default=None, max_length=2000)
    item: ControlRoomItem
    callback_url: str = Field(description="where the control room posts incident updates")


class HandoverCallback(Model):
    """What the control room sends back (signed, timestamped): its incident number and
    status for a handover (schemas/control-room/handover-callback.v1.schema.json)."""

    schema_version: Literal[1] = 1
    callback_id: str = Field(
        min_length=1, max_length=100, description="unique per callback: a replay is refused"
    )
    handover_id: str = Field(min_length=1, max_length=100)
    item_id: str = Field(min_length=1, max_length=200)
    force: str = Field(min_length=1, max_length=60)
    incident_number: str | None = Field(default=None, max_length=100)
    status: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    note: str | None = Field(default=None, max_length=2000)
    sent_at: AwareDatetime


class OperatorPresence(Model):
    """An operator's availability and what they can take (operators.presence, compacted,
    keyed by operator id). Written by the console when the operator signs in, changes
    status or signs out; read in full by every assign instance."""

    schema_version: Literal[1] = 1
    operator: str = Field(min_length=1, max_length=200)
    force: str | None = Field(description="null for a national duty officer (no force)")
    role: Literal["operator", "supervisor", "force_admin", "national_duty"]
    status: Literal["online", "busy", "offline"]
    teams: list[str] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list)
    capacity: int | None = Field(default=None, gt=0, le=500)
    at: AwareDatetime


class AuditEvent(Model):
    """Who consulted or changed what, when and from where (audit.events)."""

    schema_version: Literal[1] = 1
    event_id: str
    at: AwareDatetime
    actor: Actor
    role: str | None = None
    action: str = Field(min_length=1, max_length=100)
    target_type: str
    target_id: str | None = None
    force: str | None = None
    source_ip: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def by_system(
        cls,
        service: str,
        action: str,
        *,
        force: str | None,
        target_id: str | None,
        target_type: str = "item",
        details: dict[str, Any] | None = None,
        role: str | None = None,
        at: datetime | None = None,
    ) -> AuditEvent:
        """A record of what a service did on its own (sent a reply, a notification,
        swept expired data): the actor is the service, in the force it acted for."""
        return cls(
            event_id=str(uuid.uuid4()),
            at=at or utcnow(),
            actor=Actor(kind="system", id=service, force=force),
            role=role,
            action=action,
            target_type=target_type,
            target_id=target_id,
            force=force,
            details=details or {},
        )


class DeadLetterOrigin(Model):
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key: str | None = None
    source: str | None = Field(default=None, description="file:line, HTTP source, ...")


class DeadLetter(Model):
    """Input that could not be processed, with why and where it came from (deadletter)."""

    schema_version: Literal[1] = 1
    reason: str
    error: str | None = None
    service: str
    origin: DeadLetterOrigin
    failed_at: AwareDatetime
    payload: str = Field(description="the original bytes, decoded as UTF-8 with replacement")


def item_key_for_thread(thread_key: str) -> str:
    """Message key for every item topic: one thread maps to one partition, for ever."""
    return "itm_" + hashlib.sha256(thread_key.encode()).hexdigest()[:20]


def item_key_of(item_id: str) -> str:
    """Item ids are '<key>' or '<key>.<n>' (later items on an old thread)."""
    return item_id.split(".", 1)[0]
