"""Exact checks of a run against what was accepted: plain data in, findings out.

The fault drills and the chaos soak (bench/drills.py, bench/soak.py) read every item,
every SLA clock and every command and event first (socialdesk.readback), then call
these functions. Nothing here reads Kafka or Elasticsearch, so a unit test can plant a
loss, a duplicate or a wrong clock among any number of items and see it found: a check
that only sees a page of the data, or only the data of a quiet run, is no check.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from socialdesk.events import ItemEventType

# First-response targets that run 24/7 (config/national/policy.yaml), so a clock's
# deadline is exactly this long after it started, whatever the day or hour.
FIRST_RESPONSE_MIN = {"P1": 15, "P2": 60}
# Clock states that are still counting: a re-grade recomputes these (docs/sla.md), so
# their priority must be the item's. A met or breached clock keeps the grade it ran at.
RUNNING_STATES = {"started", "warning", "recalculated", "resumed", "paused"}
TOLERANCE = timedelta(seconds=1)
SAMPLE = 20  # ids kept per finding, so a report names examples without printing all


@dataclass
class ItemFindings:
    """What the items index and the SLA clocks say about the accepted mentions."""

    accepted: int = 0
    items_read: int = 0
    indexed: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: dict[str, int] = field(default_factory=dict)  # mention id -> extra copies
    items_read_twice: list[str] = field(default_factory=list)
    two_owners: list[str] = field(default_factory=list)
    clocks_checked: int = 0
    clocks_wrong: list[tuple[str, str]] = field(default_factory=list)  # (item id, why)
    clocks_missing: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (
            self.lost
            or self.duplicated
            or self.items_read_twice
            or self.two_owners
            or self.clocks_wrong
            or self.clocks_missing
        )

    def figures(self) -> dict[str, Any]:
        """Counts for results.json, with a few example ids of anything found."""
        out: dict[str, Any] = {
            "accepted": self.accepted,
            "items_read": self.items_read,
            "indexed": self.indexed,
            "lost": len(self.lost),
            "duplicated": sum(self.duplicated.values()),
            "items_read_twice": len(self.items_read_twice),
            "items_with_two_owners": len(self.two_owners),
            "p1_p2_clocks_checked": self.clocks_checked,
            "clocks_wrong": len(self.clocks_wrong),
            "clocks_missing": len(self.clocks_missing),
        }
        examples = {
            "lost": self.lost[:SAMPLE],
            "duplicated": sorted(self.duplicated)[:SAMPLE],
            "items_read_twice": self.items_read_twice[:SAMPLE],
            "two_owners": self.two_owners[:SAMPLE],
            "clocks_wrong": [f"{i}: {why}" for i, why in self.clocks_wrong[:SAMPLE]],
            "clocks_missing": self.clocks_missing[:SAMPLE],
        }
        found = {k: v for k, v in examples.items() if v}
        if found:
            out["examples"] = found
        return out


def check_items(
    accepted: Iterable[str],
    items: Iterable[Mapping[str, Any]],
    clocks: Iterable[Mapping[str, Any]],
) -> ItemFindings:
    """Every accepted mention in exactly one item, every item one owner, and every P1/P2
    item's first-response clock present and due exactly its target after it started.

    `items` are item documents as the indexer writes them (id, owner, priority,
    mention_ids); `clocks` are SLA clock documents (item_id, clock, priority, state,
    started_at, deadline). Mentions that were not accepted (another run's, or refused
    by ingest) are not counted either way. Clocks paused while waiting on the public
    are due later by the pause; the drills and the soak send no such command."""
    wanted = set(accepted)
    f = ItemFindings(accepted=len(wanted))
    copies: Counter[str] = Counter()
    by_id: dict[str, Mapping[str, Any]] = {}
    read: Counter[str] = Counter()
    for it in items:
        f.items_read += 1
        item_id = str(it.get("id"))
        read[item_id] += 1
        by_id[item_id] = it
        for m in it.get("mention_ids") or []:
            if m in wanted:
                copies[m] += 1
        owner = it.get("owner")
        if isinstance(owner, list) and len(set(owner)) > 1:
            f.two_owners.append(item_id)
    f.items_read_twice = sorted(i for i, n in read.items() if n > 1)
    f.indexed = len(copies)
    f.lost = sorted(wanted - set(copies))
    f.duplicated = {m: n - 1 for m, n in sorted(copies.items()) if n > 1}

    first: dict[str, list[Mapping[str, Any]]] = defaultdict(list)
    for c in clocks:
        if c.get("clock") == "first_response":
            first[str(c.get("item_id"))].append(c)
    for item_id, it in sorted(by_id.items()):
        priority = it.get("priority")
        if priority not in FIRST_RESPONSE_MIN:
            continue
        mine = first.get(item_id, [])
        if not mine:
            f.clocks_missing.append(item_id)
            continue
        f.clocks_checked += 1
        why = clock_problem(priority, mine)
        if why:
            f.clocks_wrong.append((item_id, why))
    return f


def clock_problem(item_priority: str, clocks: list[Mapping[str, Any]]) -> str | None:
    """Why an item's first-response clock documents are wrong, or None if right."""
    if len(clocks) > 1:
        return f"{len(clocks)} first-response clocks"
    c = clocks[0]
    if c.get("state") in RUNNING_STATES and c.get("priority") != item_priority:
        return f"clock still at {c.get('priority')}, item at {item_priority}"
    target = FIRST_RESPONSE_MIN.get(str(c.get("priority")))
    if target is None or not c.get("deadline"):
        return None  # a P3/P4 clock counts business hours: not a fixed length
    started = datetime.fromisoformat(str(c["started_at"]))
    due = datetime.fromisoformat(str(c["deadline"]))
    # Escalated after its target had passed: due at that moment and breached at once
    # (docs/sla.md), so a breached clock may be due later than its target, but never
    # later than the breach (or escalation) its document records.
    late = due - started > timedelta(minutes=target) + TOLERANCE
    if late and c.get("state") in ("breached", "escalated"):
        at = c.get("at")
        if at is None:
            return f"breached {due - started} after start with no time recorded"
        if due > datetime.fromisoformat(str(at)) + TOLERANCE:
            return f"breached at {at}, before it was due ({due.isoformat()})"
        return None
    if abs((due - started) - timedelta(minutes=target)) > TOLERANCE:
        return f"due {due - started} after start, target {target} min"
    return None


@dataclass
class CommandFindings:
    """Each command sent to items.commands has exactly one outcome on items.events."""

    issued: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # event type -> commands
    applied_twice: list[str] = field(default_factory=list)
    no_outcome: list[str] = field(default_factory=list)
    projection_stale: list[str] = field(default_factory=list)  # index behind the log
    two_writers: list[str] = field(default_factory=list)  # one seq, different events
    claimed_from_owner: list[str] = field(default_factory=list)  # two owners in the log

    @property
    def clean(self) -> bool:
        return not (
            self.applied_twice
            or self.no_outcome
            or self.projection_stale
            or self.two_writers
            or self.claimed_from_owner
        )

    def figures(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "commands_issued": self.issued,
            "command_outcomes": dict(sorted(self.outcomes.items())),
            "commands_applied_twice": len(self.applied_twice),
            "commands_without_outcome": len(self.no_outcome),
            "items_behind_the_log": len(self.projection_stale),
            "item_seqs_with_two_events": len(self.two_writers),
            "claims_from_another_owner": len(self.claimed_from_owner),
        }
        examples = {
            "applied_twice": self.applied_twice[:SAMPLE],
            "no_outcome": self.no_outcome[:SAMPLE],
            "behind_the_log": self.projection_stale[:SAMPLE],
            "two_events_one_seq": self.two_writers[:SAMPLE],
            "claimed_from_owner": self.claimed_from_owner[:SAMPLE],
        }
        found = {k: v for k, v in examples.items() if v}
        if found:
            out["command_examples"] = found
        return out


def check_commands(
    issued: Iterable[str],
    events: Iterable[Mapping[str, Any]],
    items: Iterable[Mapping[str, Any]] = (),
) -> CommandFindings:
    """Commands applied twice (two different events, or an event and a rejection, for
    one command id) or not at all; items whose document is behind (or ahead of) their
    last event on items.events, or names another owner; and signs of two writers in
    the log itself: two different events at one item sequence, or a claim that took
    an item from another owner (a claim of an owned item must be rejected).

    `events` are item events as on items.events (event_id, item_id, seq, type,
    command_id, item). The same event delivered twice is at-least-once delivery, not a
    second application: assign regenerates it with the same id (item id and sequence)."""
    wanted = set(issued)
    f = CommandFindings(issued=len(wanted))
    per_command: dict[str, set[str]] = defaultdict(set)
    kind: dict[str, str] = {}
    last: dict[str, Mapping[str, Any]] = {}
    at_seq: dict[tuple[str, int], tuple[str, str, Any]] = {}
    by_item: dict[str, dict[int, Mapping[str, Any]]] = defaultdict(dict)
    two_writers: set[str] = set()
    for ev in events:
        cid = ev.get("command_id")
        if cid in wanted:
            per_command[cid].add(str(ev.get("event_id")))
            kind.setdefault(cid, str(ev.get("type")))
        item_id = str(ev.get("item_id"))
        if ev.get("type") != ItemEventType.rejected and ev.get("item") is not None:
            seq = int(ev.get("seq") or 0)
            if item_id not in last or seq > int(last[item_id].get("seq") or 0):
                last[item_id] = ev
            what = (str(ev.get("type")), str(ev.get("command_id")), _owner(ev))
            if at_seq.setdefault((item_id, seq), what) != what:
                two_writers.add(f"{item_id}@{seq}")
            by_item[item_id][seq] = ev
    f.two_writers = sorted(two_writers)
    for item_id, seqs in sorted(by_item.items()):
        for seq, ev in sorted(seqs.items()):
            before = seqs.get(seq - 1)
            if ev.get("type") == ItemEventType.claimed and before is not None:
                if _owner(before) not in (None, _owner(ev)):
                    f.claimed_from_owner.append(f"{item_id}@{seq}")
    for cid in sorted(wanted):
        ids = per_command.get(cid, set())
        if not ids:
            f.no_outcome.append(cid)
        else:
            f.outcomes[kind[cid]] += 1
            if len(ids) > 1:
                f.applied_twice.append(cid)
    for it in items:
        item_id = str(it.get("id"))
        final = last.get(item_id)
        if final is None:
            continue
        same_seq = int(it.get("seq") or 0) == int(final.get("seq") or 0)
        if not same_seq or it.get("owner") != _owner(final):
            f.projection_stale.append(item_id)
    f.projection_stale.sort()
    return f


def _owner(ev: Mapping[str, Any]) -> Any:
    return (ev.get("item") or {}).get("owner")


@dataclass
class ReplyFindings:
    """Replies as the platform received them, against the replies operators sent."""

    replied: int = 0
    delivered: int = 0
    sent_twice: dict[str, int] = field(default_factory=dict)  # token -> extra sends
    never_sent: list[str] = field(default_factory=list)
    sent_without_reply: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.sent_twice or self.never_sent or self.sent_without_reply)

    def figures(self) -> dict[str, Any]:
        return {
            "replies_applied": self.replied,
            "replies_delivered": self.delivered,
            "replies_sent_twice": sum(self.sent_twice.values()),
            "replies_never_sent": len(self.never_sent),
            "replies_sent_without_a_reply_event": len(self.sent_without_reply),
        }


def check_replies(replied: Iterable[str], sent: Iterable[str]) -> ReplyFindings:
    """`replied`: the token of every reply applied to an item (a `replied` event);
    `sent`: the token of every request the platform received, repeats included."""
    want = set(replied)
    got: Counter[str] = Counter(sent)
    return ReplyFindings(
        replied=len(want),
        delivered=len(want & set(got)),
        sent_twice={t: n - 1 for t, n in sorted(got.items()) if n > 1},
        never_sent=sorted(want - set(got)),
        sent_without_reply=sorted(set(got) - want),
    )
