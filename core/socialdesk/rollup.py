"""Pre-aggregated contact metrics: the facts of each item, the cells they add up to, and
the report figures read back from cells. Plain functions and small classes, no I/O:
the metrics service writes cells, the console reads them.

Why pre-aggregate: a 90-day report over a million items must render in seconds, and
noida-db (the local Elasticsearch) scans every document per query and has no
percentiles aggregation. So each item's facts (when it came, its grade, when it was
first answered and resolved, whether its SLA clocks were met) are folded into cells per
force, local day, team and channel; a cell is a flat map of counters, and response
times are counted in fixed buckets whose edges include every SLA target, so "within
target" is exact and medians and 90th percentiles are interpolated within one bucket.
The same cells work on real Elasticsearch; nothing depends on the local stand-in.

A cell is a pure function of the facts in it: when an item changes (re-graded,
answered, transferred), its old contribution is taken out and its new one put in, so
replays and duplicates change nothing.
"""

from __future__ import annotations

import bisect
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialdesk.events import ItemEvent, OutboundPost, SlaEvent
from socialdesk.subjects import SUBJECTS, gap_score, subject_of_mention, subject_of_text
from socialdesk.taxonomy import Flag, Intent, Outcome, Priority

LOCAL = ZoneInfo("Europe/London")  # days and hours of the day as a UK force counts them

# Upper edges, in seconds, of the response-time buckets; the last bucket is "longer".
# Every default SLA target (15 min, 1 h, 4 h, 24 h, 72 h) is an edge.
BUCKETS_S: tuple[int, ...] = (
    60, 120, 300, 600, 900, 1200, 1800, 2700, 3600, 5400, 7200, 10800, 14400, 21600,
    28800, 43200, 64800, 86400, 129600, 172800, 259200, 345600, 604800,
)  # fmt: skip
LANGUAGES = ("en", "cy", "other")
CHANNEL_ALL = "*"


def bucket_of(seconds: float) -> int:
    return bisect.bisect_left(BUCKETS_S, max(0.0, seconds))


def percentile(hist: Mapping[int, int], q: float) -> float | None:
    """The q-quantile (0..1) of a bucketed histogram, interpolated linearly within its
    bucket; the open last bucket answers its lower edge. None when empty."""
    n = sum(hist.values())
    if n <= 0:
        return None
    rank = q * n
    seen = 0.0
    for b in range(len(BUCKETS_S) + 1):
        c = hist.get(b, 0)
        if c <= 0:
            continue
        if seen + c >= rank:
            lo = 0.0 if b == 0 else float(BUCKETS_S[b - 1])
            if b >= len(BUCKETS_S):
                return lo
            hi = float(BUCKETS_S[b])
            return lo + (hi - lo) * max(0.0, rank - seen) / c
        seen += c
    return float(BUCKETS_S[-1])


def within(hist: Mapping[int, int], target_s: float) -> int:
    """How many of the histogram's times are at most target_s (exact when target_s is a
    bucket edge, which every default target is)."""
    edge = bucket_of(target_s)
    return sum(c for b, c in hist.items() if b <= edge)


def local_day_hour(ts: float) -> tuple[str, int]:
    dt = datetime.fromtimestamp(ts, UTC).astimezone(LOCAL)
    return dt.date().isoformat(), dt.hour


def language_group(language: str | None, flags: Iterable[str]) -> str:
    if language == "cy" or "welsh_language" in flags:
        return "cy"
    if language in (None, "", "en", "und"):
        return "en"
    return "other"


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
        return json.dumps(asdict(self), separators=(",", ":")).encode()

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
    if item is None or ev.type == "rejected" or item.force is None:
        return before
    if before is not None and ev.seq <= before.seq:
        return before
    created = item.created_at.timestamp()
    first_out = next(
        (m.at for m in item.messages if m.direction == "outbound"),
        None,
    )
    resolved_s: float | None = None
    if item.status.value in ("resolved", "closed"):
        if before is not None and before.resolved_s is not None:
            resolved_s = before.resolved_s
        else:
            resolved_s = max(
                0.0, (ev.at if ev.type == "resolved" else item.updated_at).timestamp() - created
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
    return ItemFacts(**{**asdict(before), "sla": sla, "sla_seq": ev.seq})


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
        return json.dumps(asdict(self), separators=(",", ":")).encode()


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
    return ItemFacts(
        **{**asdict(facts), "sla": sla, "sla_seq": max(facts.sla_seq, pending.sla_seq)}
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
        return json.dumps(asdict(self), separators=(",", ":")).encode()

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

CellKey = tuple[str, str, str]  # kind ("items" or "posts"), force, local day
ALL = "*"


def sub_cells(team_channel: str) -> tuple[str, str, str]:
    """The sub-cells one item of team|channel counts in: its team, its channel, and the
    two together, so a report for any of those reads one sub-cell per day and partition
    (a team's report does not add up the team's channels)."""
    team, _, channel = team_channel.partition("|")
    return f"team:{team}", f"channel:{channel}", f"team_channel:{team_channel}"


SUB_KINDS = {"team": "items_team", "channel": "items_channel", "team_channel": "items_tc"}
# The index (socialdesk.es name) each kind of cell lives in: totals and posts together,
# each kind of sub-cell apart, so a report searches only the cells it sums.
INDEX_OF_KIND = {
    "items": "rollups",
    "posts": "rollups",
    "items_team": "rollups_team",
    "items_channel": "rollups_channel",
    "items_tc": "rollups_tc",
}


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


def cell_doc_id(key: CellKey, partition: int, sub: str = ALL) -> str:
    return "|".join((*key, *(() if sub == ALL else (sub,)), f"p{partition}"))


def cell_document(
    key: CellKey, partition: int, sub: str, counts: Mapping[str, int]
) -> dict[str, Any]:
    """The document the reports read. A cell's totals (`kind` items or posts) serve a
    report of the whole force; each sub-cell of items is a document of its own (`kind`
    items_team, items_channel or items_tc, with its team and channel), read only by a
    report for that team, channel or both, so no report reads what it does not use."""
    kind, force, day = key
    doc: dict[str, Any] = {
        "cell": cell_doc_id(key, partition, sub),
        "kind": kind,
        "force": force,
        "day": day,
        "partition": partition,
        "n": int(counts.get("n", 0)),
        "counts": dict(counts),
    }
    if sub != ALL:
        by, _, value = sub.partition(":")
        doc["kind"] = SUB_KINDS[by]
        if by == "team":
            doc["team"] = value
        elif by == "channel":
            doc["channel"] = value
        else:
            doc["team"], _, doc["channel"] = value.partition("|")
    return doc


def cell_documents(cells: Cells, partition: int) -> list[tuple[str, dict[str, Any]]]:
    """(id, document) of every total and sub-cell changed since the last call."""
    return [
        (cell_doc_id(key, partition, sub), cell_document(key, partition, sub, counts))
        for key, sub, counts in cells.take_dirty()
    ]


# ---- reports -----------------------------------------------------------------------

MAX_REPORT_DAYS = 400


class PeriodError(ValueError):
    """A report period that makes no sense; the message says why, for the user."""


def parse_period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """Inclusive local days. Default: the last 7 days to today."""
    try:
        end_d = date.fromisoformat(end) if end else today
        start_d = date.fromisoformat(start) if start else end_d - timedelta(days=6)
    except ValueError as exc:
        raise PeriodError(f"dates must be YYYY-MM-DD: {exc}") from None
    if start_d > end_d:
        raise PeriodError(f"the period starts ({start_d}) after it ends ({end_d})")
    if (end_d - start_d).days + 1 > MAX_REPORT_DAYS:
        raise PeriodError(
            f"a report covers at most {MAX_REPORT_DAYS} days; ask for a shorter period"
        )
    if start_d.year < 2000 or end_d > today + timedelta(days=1):
        raise PeriodError("the period must lie between the year 2000 and today")
    return start_d, end_d


def _keyed(counts: Mapping[str, int], prefix: str) -> dict[str, int]:
    found = {k[len(prefix) :]: v for k, v in counts.items() if k.startswith(prefix) and v}
    return dict(sorted(found.items(), key=lambda kv: -kv[1]))


def _hist(counts: Mapping[str, int], prefix: str) -> dict[int, int]:
    out: dict[int, int] = {}
    plen = len(prefix)
    for k, v in counts.items():
        if k.startswith(prefix) and k[plen:].isdigit():
            out[int(k[plen:])] = out.get(int(k[plen:]), 0) + v
    return out


def _times(counts: Mapping[str, int], prefix: str, target_s: float | None) -> dict[str, Any]:
    hist = _hist(counts, prefix)
    n = sum(hist.values())
    med, p90 = percentile(hist, 0.5), percentile(hist, 0.9)
    return {
        "count": n,
        "median_s": round(med, 1) if med is not None else None,
        "p90_s": round(p90, 1) if p90 is not None else None,
        "target_s": target_s,
        "within_target": within(hist, target_s) if target_s is not None else None,
    }


def _compliance(counts: Mapping[str, int], prefix: str) -> dict[str, Any]:
    met, breached = counts.get(f"{prefix}_met", 0), counts.get(f"{prefix}_breached", 0)
    total = met + breached
    return {
        "met": met,
        "breached": breached,
        "compliance_pct": round(100 * met / total, 1) if total else None,
    }


def build_report(
    item_docs: Iterable[Mapping[str, Any]],
    post_docs: Iterable[Mapping[str, Any]],
    start: date,
    end: date,
    targets: Mapping[str, Mapping[str, float | None]],
) -> dict[str, Any]:
    """Every figure of the report from the cells of the period. `targets` is
    {grade: {"first_response": s, "resolution": s}}."""
    total: Counter[str] = Counter()
    by_day: dict[str, int] = {}
    for doc in item_docs:
        counts = doc["counts"]
        total.update(counts)
        by_day[doc["day"]] = by_day.get(doc["day"], 0) + int(counts.get("n", 0))
    posts: Counter[str] = Counter()
    posts_by_day: dict[str, int] = {}
    for doc in post_docs:
        posts.update(doc["counts"])
        posts_by_day[doc["day"]] = posts_by_day.get(doc["day"], 0) + int(doc["counts"].get("n", 0))
    days = [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]
    grades = [p.value for p in Priority]
    public_subjects = {s: total.get(f"s:{s}", 0) for s in SUBJECTS}
    force_subjects = {s: posts.get(f"s:{s}", 0) for s in SUBJECTS}
    n = int(total.get("n", 0))
    fr_all: Counter[str] = Counter()
    for k, v in total.items():
        head, _, b = k.rpartition(":")
        if head.endswith(":fr") and k.startswith("p:") and b.isdigit():
            fr_all[f"fr:{b}"] += v
    return {
        "period": {"start": start.isoformat(), "end": end.isoformat(), "days": len(days)},
        "items": n,
        "volume": {
            "by_day": [
                {"day": d, "items": by_day.get(d, 0), "posts": posts_by_day.get(d, 0)} for d in days
            ],
            "by_hour": [{"hour": h, "items": total.get(f"h:{h}", 0)} for h in range(24)],
            "by_team": _keyed(total, "t:"),
            "by_channel": _keyed(total, "c:"),
            "by_platform": _keyed(total, "pl:"),
        },
        "response_times": {
            g: {
                "items": total.get(f"p:{g}", 0),
                "first_response": _times(
                    total, f"p:{g}:fr:", (targets.get(g) or {}).get("first_response")
                ),
                "resolution": _times(
                    total, f"p:{g}:res:", (targets.get(g) or {}).get("resolution")
                ),
            }
            for g in grades
        },
        "first_response_all": _times(fr_all, "fr:", None),
        "sla_compliance": {
            g: {
                "first_response": _compliance(total, f"p:{g}:fr"),
                "resolution": _compliance(total, f"p:{g}:res"),
            }
            for g in grades
        },
        "intents": {i.value: total.get(f"i:{i.value}", 0) for i in Intent},
        "flags": {f.value: total.get(f"f:{f.value}", 0) for f in Flag},
        "outcomes": {o.value: total.get(f"o:{o.value}", 0) for o in Outcome},
        "languages": {
            lang: {
                "items": total.get(f"l:{lang}", 0),
                "first_response": _times(total, f"l:{lang}:fr:", None),
                "resolution": _times(total, f"l:{lang}:res:", None),
                "first_response_sla": _compliance(total, f"l:{lang}:fr"),
            }
            for lang in LANGUAGES
        },
        "repeat_contacts": {
            "items": total.get("repeat", 0),
            "pct": round(100 * total.get("repeat", 0) / n, 1) if n else None,
        },
        "listening": {
            "public": public_subjects,
            "force_posts": force_subjects,
            "posts": sum(force_subjects.values()),  # broadcasts, whose subjects are compared
            "outbound": int(posts.get("n", 0)),  # everything the force sent, replies too
            "outbound_by_kind": _keyed(posts, "k:"),
            "gap_score": gap_score(public_subjects, force_subjects),
        },
    }


NATIONAL_COLUMNS = (
    "force",
    "items",
    "posts",
    "p1_items",
    "first_response_median_s",
    "first_response_p90_s",
    "first_response_sla_pct",
    "resolution_sla_pct",
    "welsh_items",
    "welsh_first_response_median_s",
    "repeat_pct",
    "advised_999",
    "crime_recorded",
    "listening_gap",
)


def national_row(force: str, report: Mapping[str, Any]) -> dict[str, Any]:
    """One force's common metrics, the same columns for every force."""
    met = breached = res_met = res_breached = 0
    for g in report["sla_compliance"].values():
        met += g["first_response"]["met"]
        breached += g["first_response"]["breached"]
        res_met += g["resolution"]["met"]
        res_breached += g["resolution"]["breached"]
    langs = report["languages"]
    all_fr = report["first_response_all"]
    return {
        "force": force,
        "items": report["items"],
        "posts": report["listening"]["posts"],
        "p1_items": report["response_times"]["P1"]["items"],
        "first_response_median_s": all_fr.get("median_s"),
        "first_response_p90_s": all_fr.get("p90_s"),
        "first_response_sla_pct": round(100 * met / (met + breached), 1)
        if met + breached
        else None,
        "resolution_sla_pct": round(100 * res_met / (res_met + res_breached), 1)
        if res_met + res_breached
        else None,
        "welsh_items": langs["cy"]["items"],
        "welsh_first_response_median_s": langs["cy"]["first_response"]["median_s"],
        "repeat_pct": report["repeat_contacts"]["pct"],
        "advised_999": report["outcomes"]["advised_999"],
        "crime_recorded": report["outcomes"]["crime_recorded"],
        "listening_gap": report["listening"]["gap_score"],
    }
