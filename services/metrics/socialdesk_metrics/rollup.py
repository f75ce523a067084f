"""The metrics service's domain: the facts of each item and outbound post, and the
report cells they add up to (socialdesk.cells is the cells' contract with the console,
which reads them). Plain functions and small classes, no I/O.

A cell is a pure function of the facts in it: when an item changes (re-graded,
answered, transferred), its old contribution is taken out and its new one put in, so
replays and duplicates change nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from socialdesk.cells import (
    ALL,
    CellKey,
    bucket_of,
    cell_doc_id,
    cell_document,
    language_group,
    local_day_hour,
    sub_cells,
)
from socialdesk.events import ItemEvent, ItemEventType, OutboundPost, SlaEvent
from socialdesk.subjects import subject_of_mention, subject_of_text
from socialdesk.taxonomy import OPEN_STATUSES

# ---- facts -------------------------------------------------------------------------


@dataclass
class ItemFacts:
    """What the reports need to know about one item; kept per item by the metrics
    service (compacted changelog) so that a later event can replace its contribution."""

    item_id: str
    force: str
    team: str
    channel: str
    platform: str
    language: str
    priority: str
    intent: str
    flags: list[str]
    subject: str
    created: float
    seq: int
    author: str = ""
    first_response_s: float | None = None
    resolved_s: float | None = None
    outcome: str | None = None
    repeat: bool = False
    merged: bool = False
    sla: dict[str, str] = field(default_factory=dict)  # clock -> met | breached
    sla_seq: int = 0

    def to_json(self) -> bytes:
        return json.dumps(vars(self), separators=(",", ":")).encode()  # asdict deep-copies

    @classmethod
    def from_json(cls, raw: bytes) -> ItemFacts:
        return cls(**json.loads(raw))

    @property
    def day(self) -> str:
        return local_day_hour(self.created)[0]

    def cell_key(self) -> tuple[tuple[str, str, str], str]:
        """(kind, force, local day) and the sub-cell "team|channel"."""
        return ("items", self.force, self.day), f"{self.team}|{self.channel}"


def facts_from_item_event(
    before: ItemFacts | None, ev: ItemEvent, repeat: bool = False
) -> ItemFacts | None:
    """The item's facts after this event; `before` unchanged (same object) if the event
    is old news (a replay) or changes nothing the reports count. None for an item with
    no force (nobody reports on it) or an event without the item."""
    item = ev.item
    if item is None or ev.type == ItemEventType.rejected or item.force is None:
        return before
    if before is not None and ev.seq <= before.seq:
        return before
    created = item.created_at.timestamp()
    first_out = next(
        (m.at for m in item.messages if m.direction == "outbound"),
        None,
    )
    resolved_s: float | None = None
    if item.status not in OPEN_STATUSES:
        if before is not None and before.resolved_s is not None:
            resolved_s = before.resolved_s
        else:
            resolved_s = max(
                0.0,
                (ev.at if ev.type == ItemEventType.resolved else item.updated_at).timestamp()
                - created,
            )
    flags = [f.value for f in item.flags]
    inbound = next((m.text for m in item.messages if m.direction == "inbound"), "")
    return ItemFacts(
        item_id=item.id,
        force=item.force,
        team=item.team,
        channel=item.channel.value,
        platform=item.platform.value,
        language=language_group(item.language, flags),
        priority=item.priority.value,
        intent=item.intent.value,
        flags=flags,
        subject=before.subject
        if before is not None and before.intent == item.intent.value and before.flags == flags
        else subject_of_mention(inbound, item.intent.value, flags),
        created=created,
        seq=ev.seq,
        author=item.author.id,
        first_response_s=max(0.0, first_out.timestamp() - created) if first_out else None,
        resolved_s=resolved_s,
        outcome=item.outcome.value if item.outcome else None,
        repeat=before.repeat if before is not None else repeat,
        merged=item.merged_into is not None,
        sla=dict(before.sla) if before is not None else {},
        sla_seq=before.sla_seq if before is not None else 0,
    )


FINAL_CLOCKS = ("first_response", "resolution")


def _sla_after(sla: Mapping[str, str], sla_seq: int, ev: SlaEvent) -> dict[str, str] | None:
    """The clocks' final states after this event, or None if it changes none of them.

    Only a final state counts: met, or breached (a breach stays a breach even if the
    reply comes later, or the item is reopened and resolved in time). Started, warning,
    paused, resumed, escalated and recalculated change nothing: the sla service
    recalculates only clocks still running, whose state is not recorded here (a
    reopened item's new resolution clock keeps the first resolution's result until its
    own). Old or repeated events (sequence at most the last applied) change nothing."""
    if ev.seq <= sla_seq or ev.clock not in FINAL_CLOCKS:
        return None
    if ev.type == "breached" and sla.get(ev.clock) != "breached":
        return {**sla, ev.clock: "breached"}
    if ev.type == "met" and sla.get(ev.clock) is None:
        return {**sla, ev.clock: "met"}
    return None


def facts_with_sla(before: ItemFacts | None, ev: SlaEvent) -> ItemFacts | None:
    """Record a clock's final state; `before` itself (same object) when the event changes
    nothing. None stays None: the caller keeps the outcome of an item whose facts have
    not arrived yet as a PendingSla."""
    if before is None:
        return None
    sla = _sla_after(before.sla, before.sla_seq, ev)
    if sla is None:
        return before
    return replace(before, flags=list(before.flags), sla=sla, sla_seq=ev.seq)


@dataclass
class PendingSla:
    """Final clock states for an item whose facts have not arrived yet. sla.events and
    items.events are separate topics, read at their own pace: after a restart, or when
    the service is new and reads the topics from the beginning, an item's `met` or
    `breached` can come before its `created`. Kept (in the same store) until the item's
    facts arrive and take it, or its day becomes final."""

    item_id: str
    at: float
    sla: dict[str, str] = field(default_factory=dict)
    sla_seq: int = 0

    def to_json(self) -> bytes:
        return json.dumps(vars(self), separators=(",", ":")).encode()  # asdict deep-copies


def pending_with_sla(before: PendingSla | None, ev: SlaEvent) -> PendingSla | None:
    """`before` itself when the event changes nothing (None stays None)."""
    sla = _sla_after(before.sla if before else {}, before.sla_seq if before else 0, ev)
    if sla is None:
        return before
    return PendingSla(item_id=ev.item_id, at=ev.at.timestamp(), sla=sla, sla_seq=ev.seq)


def with_pending(facts: ItemFacts, pending: PendingSla) -> ItemFacts:
    """The item's facts with the clock states that came before them."""
    sla = dict(facts.sla)
    for clock, state in pending.sla.items():
        if sla.get(clock) != "breached":
            sla[clock] = state
    return replace(
        facts, flags=list(facts.flags), sla=sla, sla_seq=max(facts.sla_seq, pending.sla_seq)
    )


def contribution(f: ItemFacts) -> Counter[str]:
    """The counters one item adds to its cell."""
    c: Counter[str] = Counter()
    if f.merged:
        return c  # folded into another item, which carries the contact
    hour = local_day_hour(f.created)[1]
    p, lang = f.priority, f.language
    c["n"] += 1
    c[f"h:{hour}"] += 1
    c[f"t:{f.team}"] += 1
    c[f"c:{f.channel}"] += 1
    c[f"p:{p}"] += 1
    c[f"l:{lang}"] += 1
    c[f"i:{f.intent}"] += 1
    c[f"s:{f.subject}"] += 1
    c[f"pl:{f.platform}"] += 1
    for flag in f.flags:
        c[f"f:{flag}"] += 1
    if f.outcome:
        c[f"o:{f.outcome}"] += 1
    if f.repeat:
        c["repeat"] += 1
    if f.first_response_s is not None:
        b = bucket_of(f.first_response_s)
        c[f"p:{p}:fr:{b}"] += 1
        c[f"l:{lang}:fr:{b}"] += 1
    if f.resolved_s is not None:
        b = bucket_of(f.resolved_s)
        c[f"p:{p}:res:{b}"] += 1
        c[f"l:{lang}:res:{b}"] += 1
    for clock, short in (("first_response", "fr"), ("resolution", "res")):
        state = f.sla.get(clock)
        if state:
            c[f"p:{p}:{short}_{state}"] += 1
            c[f"l:{lang}:{short}_{state}"] += 1
    return c


# ---- outbound posts ----------------------------------------------------------------


@dataclass
class PostFacts:
    post_id: str
    force: str
    kind: str
    subject: str
    posted: float

    def to_json(self) -> bytes:
        return json.dumps(vars(self), separators=(",", ":")).encode()  # asdict deep-copies

    def cell_key(self) -> tuple[tuple[str, str, str], str]:
        return ("posts", self.force, local_day_hour(self.posted)[0]), self.kind


def post_facts(post: OutboundPost, force: str | None) -> PostFacts | None:
    if force is None:
        return None
    return PostFacts(
        post_id=post.id,
        force=force,
        kind=post.kind,
        subject=subject_of_text(post.text),
        posted=post.posted_at.timestamp(),
    )


BROADCAST = "post"  # a post to the force's followers; replies, comments and DMs answer someone


def post_contribution(f: PostFacts) -> Counter[str]:
    """Every outbound post counts by hour and kind; only broadcasts count by subject: the
    listening gap compares what the force chooses to post about with what the public
    raise, and a reply's subject is the public's own (counting replies would make a
    force that answers look as if it broadcast about the same things)."""
    c = Counter({"n": 1, f"h:{local_day_hour(f.posted)[1]}": 1, f"k:{f.kind}": 1})
    if f.kind == BROADCAST:
        c[f"s:{f.subject}"] += 1
    return c


Facts = ItemFacts | PostFacts | PendingSla


def decode_facts(raw: bytes) -> Facts:
    data = json.loads(raw)
    if "post_id" in data:
        return PostFacts(**data)
    if "force" in data:
        return ItemFacts(**data)
    return PendingSla(**data)


def encode_facts(f: Facts) -> bytes:
    return f.to_json()


# ---- cells -------------------------------------------------------------------------


class Cells:
    """Counters per cell (force and day), in total and, for items, per sub-cell (team,
    channel, team|channel), changed by contributions in and out; remembers which totals
    and sub-cells changed since they were last written."""

    def __init__(self) -> None:
        self.cells: dict[CellKey, dict[str, Counter[str]]] = {}
        self.dirty: set[tuple[CellKey, str]] = set()

    def add(self, key: CellKey, sub: str | None, counts: Mapping[str, int], sign: int = 1) -> None:
        if not counts:
            return
        cell = self.cells.setdefault(key, {})
        for name in (ALL, *sub_cells(sub)) if sub is not None else (ALL,):
            part = cell.setdefault(name, Counter())
            for k, v in counts.items():
                n = part[k] + sign * v
                if n:
                    part[k] = n
                else:
                    del part[k]
            if not part and name != ALL:
                del cell[name]
            self.dirty.add((key, name))

    def replace_item(self, before: ItemFacts | None, after: ItemFacts | None) -> None:
        if before is after:
            return
        if before is not None:
            self.add(*before.cell_key(), contribution(before), -1)
        if after is not None:
            self.add(*after.cell_key(), contribution(after))

    def add_post(self, facts: PostFacts) -> None:
        self.add(facts.cell_key()[0], None, post_contribution(facts))

    def take_dirty(self) -> list[tuple[CellKey, str, Counter[str]]]:
        """Each changed total and sub-cell with its counters (empty: it has emptied)."""
        out = [(k, sub, self.cells.get(k, {}).get(sub, Counter())) for k, sub in self.dirty]
        self.dirty = set()
        return out

    def forget_days_before(self, day: str) -> None:
        for key in [k for k in self.cells if k[2] < day]:
            del self.cells[key]
        self.dirty = {d for d in self.dirty if d[0][2] >= day}


def cell_documents(cells: Cells, partition: int) -> list[tuple[str, dict[str, Any]]]:
    """(id, document) of every total and sub-cell changed since the last call."""
    return [
        (cell_doc_id(key, partition, sub), cell_document(key, partition, sub, counts))
        for key, sub, counts in cells.take_dirty()
    ]
