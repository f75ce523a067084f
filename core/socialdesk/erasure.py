"""Erasure, restriction and legal hold of one member of the public: what is theirs in an
item, how an item of several people loses only their part, which holds apply, and the
report a data protection officer signs off (docs/data-protection.md).

Pure functions and models: the Elasticsearch, object-store and Kafka work is in
socialdesk.erasing, so a unit test checks every rule here without a stack."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from socialdesk import authors
from socialdesk.personal import author_key

ERASED_ACTION = "person.erased"
ERASURE_PLANNED_ACTION = "person.erasure_planned"
REQUESTED_ACTION = "erasure.requested"  # written before an erasure changes anything
RESTRICTED_ACTION = "person.restricted"
UNRESTRICTED_ACTION = "person.unrestricted"
HELD_ACTION = "legal_hold.placed"
RELEASED_ACTION = "legal_hold.released"
ACCESS_ACTION = "person.access_exported"
DPO_ROLE = "dpo"
ERASED_AUTHOR = "erased"  # the author of a thread they started that others wrote in too
HOLD_ROLES = frozenset({"supervisor", "force_admin", DPO_ROLE})


class Store(StrEnum):
    """Where a person's data is held: the report counts each."""

    items = "items"  # their own items, deleted
    items_redacted = "items_redacted"  # others' items that lose their messages
    events = "events"
    sla = "sla"
    corrections = "corrections"
    author_days = "author_days"
    attachments = "attachments"  # the attachments index
    objects = "objects"  # attachment bytes in the object store
    kafka = "kafka"  # tombstones on compacted topics (the per-author key is destroyed too)


class HoldScope(StrEnum):
    item = "item"
    author = "author"


class JobStatus(StrEnum):
    running = "running"
    done = "done"
    failed = "failed"


@dataclass(frozen=True)
class Person:
    """One member of the public on one platform, and the names their messages carry."""

    platform: str
    author_id: str
    handles: frozenset[str] = frozenset()

    @property
    def key(self) -> str:
        """personal.author_key: the one name of this person in every store."""
        return author_key(self.platform, self.author_id)

    @property
    def history_key(self) -> str:
        """The author-days documents' `author` field."""
        return authors.author_key(self.platform, self.author_id)

    @property
    def names(self) -> frozenset[str]:
        """What an inbound message's `author` holds for them: handle, else id."""
        return frozenset({self.author_id, *self.handles})

    @property
    def actor_ids(self) -> frozenset[str]:
        """What a timeline entry or `last_actor` names them by: their names, or their key."""
        return self.names | {self.key}

    def with_handles(self, handles: Iterable[str | None]) -> Person:
        return Person(self.platform, self.author_id, self.handles | {h for h in handles if h})


def is_own_item(doc: Mapping[str, Any], person: Person) -> bool:
    """An item the person started (the item's author)."""
    return doc.get("platform") == person.platform and str(doc.get("author_id")) == person.author_id


def is_their_message(message: Mapping[str, Any], person: Person) -> bool:
    if message.get("direction") != "inbound":
        return False
    if message.get("author_key"):  # who wrote it, where the message says so
        return bool(message["author_key"] == person.key)
    if message.get("author_id"):
        return str(message["author_id"]) == person.author_id and _on_platform(message, person)
    if message.get("author") not in person.names:
        return False
    return _on_platform(message, person)


def _on_platform(message: Mapping[str, Any], person: Person) -> bool:
    mention = str(message.get("mention_id") or "")
    return not mention or mention.startswith(f"{person.platform}:")


def shared_with_others(doc: Mapping[str, Any], person: Person) -> bool:
    """Their own item in which someone else wrote too: it is redacted, not deleted, so
    the other person's messages stay."""
    return is_own_item(doc, person) and any(
        m.get("direction") == "inbound" and not is_their_message(m, person)
        for m in doc.get("messages") or []
    )


def holds_their_messages(doc: Mapping[str, Any], person: Person) -> bool:
    """Another person's item (same platform) with an inbound message of theirs."""
    if doc.get("platform") != person.platform or is_own_item(doc, person):
        return False
    return any(is_their_message(m, person) for m in doc.get("messages") or [])


def redact_item(doc: Mapping[str, Any], person: Person) -> tuple[dict[str, Any], int]:
    """An item of several people without the person's messages (and their mention ids,
    the search text rebuilt from the messages left, their name as the last actor, and, in
    a thread they started, their name as its author and the grade's reasons, which come
    from their words): (new doc, messages removed)."""
    kept: list[Mapping[str, Any]] = []
    gone: list[Mapping[str, Any]] = []
    for m in doc.get("messages") or []:
        (gone if is_their_message(m, person) else kept).append(m)
    gone_ids = {m.get("mention_id") for m in gone}
    out = dict(doc)
    out["messages"] = kept
    out["mention_ids"] = [i for i in doc.get("mention_ids") or [] if i not in gone_ids]
    out["text"] = "\n".join(str(m.get("text", "")) for m in kept if m.get("direction") == "inbound")
    if out.get("last_actor") in person.actor_ids:
        out["last_actor"] = "public"
    if is_own_item(doc, person):  # their thread, kept for the others in it: no name left
        out.update(author_id=ERASED_AUTHOR, author_handle=None, author_name=None, reasons=[])
    return out, len(gone)


@dataclass(frozen=True)
class Hold:
    """A legal hold on one item or on all of one author's items, until a date or release."""

    hold_id: str
    scope: HoldScope
    force: str | None
    reason: str
    by: str
    at: datetime
    item_id: str | None = None
    author_key: str | None = None
    platform: str | None = None
    author_id: str | None = None
    until: datetime | None = None
    released: bool = False

    def active(self, now: datetime) -> bool:
        return not self.released and (self.until is None or now < self.until)

    def covers(self, doc: Mapping[str, Any]) -> bool:
        """Whether this hold keeps an item (its projection document)."""
        if self.scope == HoldScope.item:
            return doc.get("id") == self.item_id
        return doc.get("platform") == self.platform and str(doc.get("author_id")) == self.author_id

    def document(self) -> dict[str, Any]:
        return {
            "hold_id": self.hold_id,
            "scope": self.scope.value,
            "force": self.force,
            "reason": self.reason,
            "by": self.by,
            "at": self.at.isoformat(),
            "item_id": self.item_id,
            "author_key": self.author_key,
            "platform": self.platform,
            "author_id": self.author_id,
            "until": self.until.isoformat() if self.until else None,
            "released": self.released,
        }

    @classmethod
    def from_document(cls, doc: Mapping[str, Any]) -> Hold:
        until = doc.get("until")
        return cls(
            hold_id=str(doc["hold_id"]),
            scope=HoldScope(doc["scope"]),
            force=doc.get("force"),
            reason=str(doc.get("reason", "")),
            by=str(doc.get("by", "")),
            at=datetime.fromisoformat(str(doc["at"])),
            item_id=doc.get("item_id"),
            author_key=doc.get("author_key"),
            platform=doc.get("platform"),
            author_id=doc.get("author_id"),
            until=datetime.fromisoformat(str(until)) if until else None,
            released=bool(doc.get("released")),
        )


def their_events_query(item_ids: list[str], person: Person) -> dict[str, Any]:
    """The timeline entries of others' items that the person's own messages made."""
    return {
        "bool": {
            "filter": [
                {"terms": {"item_id": item_ids}},
                {"terms": {"actor_id": sorted(person.actor_ids)}},
            ]
        }
    }


def hold_query(holds: Iterable[Hold], now: datetime) -> dict[str, Any] | None:
    """An Elasticsearch query matching the items the active holds keep (None: none), so
    the retention sweeper can leave them out with one must_not."""
    should: list[dict[str, Any]] = []
    item_ids = sorted({h.item_id for h in holds if h.active(now) and h.item_id})
    if item_ids:
        should.append({"ids": {"values": item_ids}})
    for h in holds:
        if h.active(now) and h.scope == HoldScope.author and h.platform and h.author_id:
            should.append(
                {
                    "bool": {
                        "filter": [
                            {"term": {"platform": h.platform}},
                            {"term": {"author_id": h.author_id}},
                        ]
                    }
                }
            )
    return {"bool": {"should": should, "minimum_should_match": 1}} if should else None


def held_by(doc: Mapping[str, Any], holds: Iterable[Hold], now: datetime) -> list[Hold]:
    """The active holds that keep this item."""
    return [h for h in holds if h.active(now) and h.covers(doc)]


@dataclass
class ErasureReport:
    """What one erasure found and did: counts per store, the held items it skipped, who
    asked and when. Holds no platform id or text: it is shown, kept and audited."""

    request_id: str
    author_key: str
    platform: str
    requested_by: str
    reason: str
    requested_at: datetime
    dry_run: bool
    force: str | None = None  # a force DPO's erasure; None: national
    status: JobStatus = JobStatus.running
    step: str = ""
    counts: dict[Store, int] = field(default_factory=dict)
    held: list[dict[str, str]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    finished_at: datetime | None = None
    kafka_key_destroyed: bool | None = None  # None: not attempted

    def add(self, store: Store, n: int) -> None:
        self.counts[store] = self.counts.get(store, 0) + n

    def document(self) -> dict[str, Any]:
        """The report as JSON (the erasures index, the API, the CLI's output)."""
        return {
            "request_id": self.request_id,
            "author_key": self.author_key,
            "platform": self.platform,
            "requested_by": self.requested_by,
            "reason": self.reason,
            "at": self.requested_at.isoformat(),
            "dry_run": self.dry_run,
            "force": self.force,
            "status": self.status.value,
            "step": self.step,
            "counts": {s.value: self.counts.get(s, 0) for s in Store},
            "held": self.held,
            "problems": self.problems,
            "kafka_key_destroyed": self.kafka_key_destroyed,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }

    def audit_details(self) -> dict[str, Any]:
        """The audit record's details: counts and held item ids, no personal data."""
        doc = self.document()
        keep = ("request_id", "dry_run", "status", "counts", "problems", "kafka_key_destroyed")
        return {k: doc[k] for k in keep} | {
            "held_items": [h["item_id"] for h in self.held],
            "reason": self.reason,
            "requested_by": self.requested_by,
        }
