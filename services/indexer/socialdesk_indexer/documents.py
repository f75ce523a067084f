"""Plain functions from events to Elasticsearch documents (no I/O here)."""

from __future__ import annotations

from typing import Any

from socialdesk.events import AuditEvent, ItemEvent, ItemEventType, SlaEvent
from socialdesk.taxonomy import OPEN_STATUSES, PRIORITY_ORDER


def item_document(ev: ItemEvent) -> dict[str, Any] | None:
    """The item as the console searches it; None for events that change nothing."""
    item = ev.item
    if item is None or ev.type == ItemEventType.rejected:
        return None
    inbound = [m.text for m in item.messages if m.direction == "inbound"]
    return {
        "id": item.id,
        "key": item.key,
        "force": item.force,
        "team": item.team,
        "status": item.status.value,
        "open": item.status in OPEN_STATUSES,
        "priority": item.priority.value,
        "priority_rank": PRIORITY_ORDER[item.priority],
        "intent": item.intent.value,
        "flags": [f.value for f in item.flags],
        "urgency": item.urgency,
        "reasons": item.reasons,
        "owner": item.owner,
        "platform": item.platform.value,
        "channel": item.channel.value,
        "author_id": item.author.id,
        "author_handle": item.author.handle,
        "author_name": item.author.display_name,
        "text": "\n".join(inbound),
        "language": item.language,
        "outcome": item.outcome.value if item.outcome else None,
        "crime_reference": item.crime_reference,
        "control_room": (
            item.control_room.model_dump(mode="json", exclude={"callback_ids"})
            if item.control_room is not None
            else None
        ),
        "mention_ids": item.mention_ids,
        "messages": [m.model_dump(mode="json") for m in item.messages],
        "created_at": item.created_at.isoformat(),
        "updated_at": item.updated_at.isoformat(),
        "first_mention_at": item.first_mention_at.isoformat(),
        "seq": item.seq,
        "last_event": ev.type,
        "last_actor": ev.actor.id,
    }


def event_document(ev: ItemEvent) -> dict[str, Any]:
    """One entry of an item's timeline (who did what when), rejections included."""
    item = ev.item
    return {
        "event_id": ev.event_id,
        "item_id": ev.item_id,
        "force": item.force if item is not None else ev.actor.force,
        "type": ev.type,
        "seq": ev.seq,
        "at": ev.at.isoformat(),
        "actor_id": ev.actor.id,
        "actor_kind": ev.actor.kind,
        "command_id": ev.command_id,
        "data": ev.data,
    }


CORRECTION_EVENTS = {ItemEventType.regraded, ItemEventType.recategorised}


def correction_document(ev: ItemEvent) -> dict[str, Any] | None:
    """An operator's re-grade or re-categorisation, kept as a labelled example for
    `socialdesk triage train`: the item's inbound text with the labels it now has."""
    item = ev.item
    if item is None or ev.type not in CORRECTION_EVENTS or ev.actor.kind != "operator":
        return None
    inbound = [m.text for m in item.messages if m.direction == "inbound"]
    if not inbound:
        return None
    return {
        "item_id": item.id,
        "force": item.force,
        "text": inbound[0],
        "language": item.language,
        "platform": item.platform.value,
        "channel": item.channel.value,
        "priority": item.priority.value,
        "intent": item.intent.value,
        "flags": [f.value for f in item.flags],
        "corrected_by": ev.actor.id,
        "event": ev.type,
        "at": ev.at.isoformat(),
        "seq": item.seq,
    }


def sla_document(ev: SlaEvent) -> dict[str, Any]:
    return {
        "item_id": ev.item_id,
        "force": ev.force,
        "team": ev.team,
        "priority": ev.priority.value,
        "clock": ev.clock,
        "state": ev.type,
        "started_at": ev.started_at.isoformat(),
        "deadline": ev.deadline.isoformat() if ev.deadline else None,
        "at": ev.at.isoformat(),
        "seq": ev.seq,
    }


def audit_document(ev: AuditEvent) -> dict[str, Any]:
    return {
        "event_id": ev.event_id,
        "at": ev.at.isoformat(),
        "actor_id": ev.actor.id,
        "actor_kind": ev.actor.kind,
        "role": ev.role,
        "action": ev.action,
        "target_type": ev.target_type,
        "target_id": ev.target_id,
        "force": ev.force if ev.force is not None else ev.actor.force,
        "source_ip": ev.source_ip,
        "details": ev.details,
    }
