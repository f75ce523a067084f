"""Report figures as a supervisor reads them: an item's first-response and resolution
times, SLA results that stay breached, redeliveries that count once, cells whose counts
are exact when items move, medians and 90th percentiles from bucketed times, periods
that make sense, and an empty period that gives zeros rather than an error. Item and
SLA events come from the real assign aggregate and sla clocks."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from socialdesk.cells import (
    ALL,
    BUCKETS_S,
    MAX_REPORT_DAYS,
    NATIONAL_COLUMNS,
    PeriodError,
    bucket_of,
    build_report,
    local_day_hour,
    national_row,
    parse_period,
    percentile,
    within,
)
from socialdesk.config import PlatformConfig
from socialdesk.events import Actor, ForceAccount, ItemEvent, OutboundPost, SlaEvent
from socialdesk.taxonomy import Flag, Intent, Priority
from socialdesk_assign.aggregate import ThreadState, apply_command, apply_mention
from socialdesk_metrics.rollup import (
    Cells,
    ItemFacts,
    PendingSla,
    cell_documents,
    contribution,
    decode_facts,
    encode_facts,
    facts_from_item_event,
    facts_with_sla,
    pending_with_sla,
    post_facts,
    with_pending,
)
from socialdesk_sla.clocks import ItemClocks, due_events, on_item_event
from tests.unit.conftest import FORCE, T0, make_command, make_mention, make_triaged
from tests.unit.conftest import make_triage as _triage

TARGETS = {
    "P1": {"first_response": 900.0, "resolution": 14400.0},
    "P2": {"first_response": 3600.0, "resolution": 86400.0},
    "P3": {"first_response": 86400.0, "resolution": 259200.0},
    "P4": {"first_response": 259200.0, "resolution": None},
}
DAY = local_day_hour(T0.timestamp())[0]


class Life:
    """One item's events from the real assign aggregate, in order."""

    _convs = iter(range(1, 10_000))

    def __init__(
        self,
        config: PlatformConfig,
        text: str = "my bike was nicked from outside Lime Street station last night",
        priority: Priority = Priority.P3,
        intent: Intent = Intent.crime_report,
        flags: tuple[Flag, ...] = (),
        language: str = "en",
        at: datetime = T0,
        author: str = "1001",
        force: str = FORCE,
        handle: str = "MerseyPolice",
    ) -> None:
        self.config = config
        triage = _triage(priority, intent, flags, at=at).model_copy(update={"language": language})
        self.conv = f"conv-life-{next(self._convs)}"
        mention = make_mention(
            text, conversation_id=self.conv, author_id=author, handle=handle, at=at
        )
        applied = apply_mention(None, make_triaged(mention, triage, force=force), config, at)
        self.force = force
        self.state: ThreadState = applied.state
        self.events: list[ItemEvent] = list(applied.events)
        self.item_id = applied.events[0].item_id

    def do(self, type_: str, at: datetime, **payload: Any) -> ItemEvent:
        actor = Actor(kind="operator", id="op.alice", force=self.state.items[self.item_id].force)
        cmd = make_command(type_, self.item_id, actor, payload=payload, at=at)
        applied = apply_command(self.state, cmd, self.config, at)
        (ev,) = applied.events
        assert ev.type != "rejected", ev.data
        self.state = applied.state
        self.events.append(ev)
        return ev

    def public_writes(self, text: str, at: datetime) -> list[ItemEvent]:
        mention = make_mention(text, conversation_id=self.conv, at=at)
        tm = make_triaged(mention, _triage(at=at))
        assert tm.item_key == self.state.key
        applied = apply_mention(self.state, tm, self.config, at)
        self.state = applied.state
        self.events.extend(applied.events)
        return applied.events


def fold(events: list[ItemEvent], facts: ItemFacts | None = None) -> ItemFacts | None:
    for ev in events:
        facts = facts_from_item_event(facts, ev)
    return facts


def sla_events(config: PlatformConfig, events: list[ItemEvent], until: datetime) -> list[SlaEvent]:
    """What the sla service emits for these item events, its scheduler run every minute."""
    clocks: ItemClocks | None = None
    out: list[SlaEvent] = []
    t = events[0].at
    pending = list(events)
    while t <= until:
        while pending and pending[0].at <= t:
            clocks, emitted = on_item_event(config, clocks, pending.pop(0), t)
            out.extend(emitted)
        if clocks is not None:
            out.extend(due_events(config, clocks, t))
        t += timedelta(minutes=1)
    return out


def fold_sla(facts: ItemFacts, events: list[SlaEvent]) -> ItemFacts:
    for ev in events:
        after = facts_with_sla(facts, ev)
        assert after is not None
        facts = after
    return facts


# ---- an item's facts ------------------------------------------------------------------


def test_times_from_creation_to_a_reply_and_a_resolution(platform_config: PlatformConfig) -> None:
    life = Life(platform_config)
    life.do("assign", T0 + timedelta(minutes=2), operator="op.alice")
    life.do("note", T0 + timedelta(minutes=4), text="checking CCTV")
    facts = fold(life.events)
    assert facts is not None
    assert facts.first_response_s is None  # an internal note is not a response
    life.do("reply", T0 + timedelta(minutes=7), text="Sorry to hear that, please report it")
    facts = fold(life.events[-1:], facts)
    assert facts is not None
    assert facts.first_response_s == 420
    assert facts.resolved_s is None
    life.do("reply", T0 + timedelta(minutes=30), text="Here is the link")
    life.do("resolve", T0 + timedelta(hours=3), outcome="signposted")
    facts = fold(life.events[-2:], facts)
    assert facts is not None
    assert (facts.first_response_s, facts.resolved_s, facts.outcome) == (420, 10800, "signposted")
    assert (facts.force, facts.team, facts.priority, facts.day) == (
        FORCE,
        "digital-desk",
        "P3",
        DAY,
    )
    assert facts.subject == "burglary_theft"  # "bike" in the text; no flag or intent says more
    # a note on the resolved item, days later, does not move its resolution time
    life.do("note", T0 + timedelta(days=2), text="owner found the bike")
    later = fold(life.events[-1:], facts)
    assert later is not None and later.resolved_s == 10800

    c = contribution(facts)
    assert c["n"] == 1 and c["o:signposted"] == 1 and c["p:P3"] == 1 and c["l:en"] == 1
    assert c[f"p:P3:fr:{bucket_of(420)}"] == 1 and c[f"p:P3:res:{bucket_of(10800)}"] == 1
    assert c[f"h:{local_day_hour(T0.timestamp())[1]}"] == 1


def test_the_same_facts_whatever_the_route_through_the_events(
    platform_config: PlatformConfig,
) -> None:
    """Facts from the whole history equal facts folded one event at a time, and a
    service that first hears of the item late (its facts expired, or it was started
    after the item) still sees the item's times from its state."""
    life = Life(platform_config, priority=Priority.P1, flags=(Flag.weapon,))
    life.do("claim", T0 + timedelta(minutes=1))
    life.do("reply", T0 + timedelta(minutes=4), text="Ring 999 now")
    life.do("resolve", T0 + timedelta(minutes=50), outcome="advised_999")
    whole = fold(life.events)
    late = facts_from_item_event(None, life.events[-1])
    assert whole is not None and late is not None
    assert (late.first_response_s, late.resolved_s) == (whole.first_response_s, whole.resolved_s)
    assert (whole.first_response_s, whole.resolved_s) == (240, 3000)
    assert whole.subject == "violence_weapons"  # the weapon flag decides


def test_a_reopened_item_is_open_again_then_resolved_later(platform_config: PlatformConfig) -> None:
    life = Life(platform_config)
    life.do("claim", T0 + timedelta(minutes=1))
    life.do("reply", T0 + timedelta(minutes=10), text="Please report it online")
    life.do("resolve", T0 + timedelta(hours=1), outcome="signposted")
    facts = fold(life.events)
    assert facts is not None and facts.resolved_s == 3600
    evs = life.public_writes("it happened again tonight", T0 + timedelta(days=1))
    assert [e.type for e in evs] == ["reopened", "public_replied"]
    facts = fold(evs, facts)
    assert facts is not None
    assert (facts.resolved_s, facts.outcome) == (None, None)
    assert facts.first_response_s == 600  # the first response stays the first
    life.do(
        "resolve", T0 + timedelta(days=1, hours=2), outcome="crime_recorded", crime_reference="X1"
    )
    facts = fold(life.events[-1:], facts)
    assert facts is not None
    assert (facts.resolved_s, facts.outcome) == (26 * 3600, "crime_recorded")


def test_redelivered_and_old_events_change_nothing(platform_config: PlatformConfig) -> None:
    life = Life(platform_config)
    life.do("claim", T0 + timedelta(minutes=1))
    life.do("reply", T0 + timedelta(minutes=5), text="On it")
    facts = fold(life.events)
    assert facts is not None
    for ev in life.events:  # every one of them again: same object back, nothing to write
        assert facts_from_item_event(facts, ev) is facts
    rejected = apply_command(
        life.state, make_command("claim", life.item_id, at=T0), platform_config, T0
    ).events[0]
    assert rejected.type == "rejected"
    assert facts_from_item_event(facts, rejected) is facts

    # through cells: each event delivered twice, some out of order, counts once
    cells, facts = Cells(), None
    for ev in [*life.events, *life.events, life.events[1]]:
        after = facts_from_item_event(facts, ev)
        cells.replace_item(facts, after)
        facts = after
    total = cells.cells[("items", FORCE, DAY)][ALL]
    assert total["n"] == 1 and total["p:P3"] == 1
    assert sum(v for k, v in total.items() if k.startswith("p:P3:fr:")) == 1


def test_no_force_no_facts(platform_config: PlatformConfig) -> None:
    mention = make_mention("hello", conversation_id="conv-noforce")
    tm = make_triaged(mention, force=None)
    ev = apply_mention(None, tm, platform_config, T0).events[0]
    assert ev.item is not None and ev.item.force is None
    assert facts_from_item_event(None, ev) is None


def test_welsh_contact_is_counted_as_welsh(platform_config: PlatformConfig) -> None:
    life = Life(platform_config, text="Mae rhywun wedi dwyn fy meic", language="cy")
    facts = fold(life.events)
    assert facts is not None and facts.language == "cy"
    assert facts.subject == "burglary_theft"
    flagged = Life(platform_config, text="help", language="und", flags=(Flag.welsh_language,))
    ffacts = fold(flagged.events)
    assert ffacts is not None and ffacts.language == "cy"
    other = Life(platform_config, text="pomoc", language="pl")
    ofacts = fold(other.events)
    assert ofacts is not None and ofacts.language == "other"


# ---- SLA results ------------------------------------------------------------------------


def test_a_reply_in_time_meets_and_a_late_one_stays_breached(
    platform_config: PlatformConfig,
) -> None:
    quick = Life(platform_config, priority=Priority.P1, flags=(Flag.weapon,))
    quick.do("claim", T0 + timedelta(minutes=1))
    quick.do("reply", T0 + timedelta(minutes=5), text="Ring 999")
    quick.do("resolve", T0 + timedelta(hours=1), outcome="advised_999")
    qf = fold_sla(
        fold(quick.events), sla_events(platform_config, quick.events, T0 + timedelta(hours=2))
    )  # type: ignore[arg-type]
    assert qf.sla == {"first_response": "met", "resolution": "met"}

    slow = Life(platform_config, priority=Priority.P1, flags=(Flag.weapon,))
    slow.do("claim", T0 + timedelta(minutes=1))
    slow.do("reply", T0 + timedelta(minutes=40), text="Sorry for the delay")
    slow.do("resolve", T0 + timedelta(hours=1), outcome="advised_999")
    sla = sla_events(platform_config, slow.events, T0 + timedelta(hours=2))
    fr_types = [e.type for e in sla if e.clock == "first_response"]
    assert fr_types[:3] == ["started", "warning", "breached"]
    sf = fold(slow.events)
    assert sf is not None
    sf = fold_sla(sf, sla)
    assert sf.sla == {"first_response": "breached", "resolution": "met"}
    # a late "met" (e.g. from a reopened clock) never turns a breach into a success
    breach = next(e for e in sla if e.type == "breached")
    late_met = breach.model_copy(update={"type": "met", "seq": sla[-1].seq + 1})
    assert facts_with_sla(sf, late_met) is sf
    # replays, old events and events that are no result change nothing (same object)
    for ev in sla:
        assert facts_with_sla(sf, ev) is sf
    c = contribution(sf)
    assert c["p:P1:fr_breached"] == 1 and c["p:P1:res_met"] == 1 and c["l:en:fr_breached"] == 1


def test_sla_results_that_come_before_the_item_are_kept_for_it(
    platform_config: PlatformConfig,
) -> None:
    life = Life(platform_config, priority=Priority.P1, flags=(Flag.weapon,))
    life.do("claim", T0 + timedelta(minutes=1))
    life.do("reply", T0 + timedelta(minutes=40), text="Sorry for the delay")
    sla = sla_events(platform_config, life.events, T0 + timedelta(minutes=50))
    assert facts_with_sla(None, sla[0]) is None
    pending: PendingSla | None = None
    for ev in sla:
        pending = pending_with_sla(pending, ev)
    assert pending is not None and pending.sla == {"first_response": "breached"}
    assert pending_with_sla(pending, sla[-1]) is pending  # a replay
    assert decode_facts(encode_facts(pending)) == pending
    facts = fold(life.events)
    assert facts is not None
    merged = with_pending(facts, pending)
    assert merged.sla == {"first_response": "breached"}
    assert facts_with_sla(merged, sla[-1]) is merged


def test_facts_round_trip_through_the_changelog(platform_config: PlatformConfig) -> None:
    life = Life(platform_config)
    facts = fold(life.events)
    assert facts is not None
    assert decode_facts(encode_facts(facts)) == facts
    post = post_facts(_post("Road closed on the M62", "post"), FORCE)
    assert post is not None and decode_facts(encode_facts(post)) == post


# ---- cells ------------------------------------------------------------------------------


def test_cells_count_exactly_and_a_moved_item_leaves_no_trace(
    platform_config: PlatformConfig,
) -> None:
    cells = Cells()
    lives = [Life(platform_config, at=T0 + timedelta(minutes=i)) for i in range(3)]
    facts: dict[str, ItemFacts | None] = {}
    for life in lives:
        after = fold(life.events)
        cells.replace_item(None, after)
        facts[life.item_id] = after
    key = ("items", FORCE, DAY)
    assert {(k, sub) for k, sub, _ in cells.take_dirty()} == {
        (key, ALL),
        (key, "team:digital-desk"),
        (key, "channel:public_mention"),
        (key, "team_channel:digital-desk|public_mention"),
    }
    assert cells.cells[key][ALL]["n"] == 3
    assert cells.cells[key]["team_channel:digital-desk|public_mention"]["n"] == 3

    # one item to the roads team: same cell, another sub-cell
    moved = lives[0]
    ev = moved.do("transfer", T0 + timedelta(minutes=5), force=FORCE, team="roads-policing")
    after = facts_from_item_event(facts[moved.item_id], ev)
    cells.replace_item(facts[moved.item_id], after)
    facts[moved.item_id] = after
    cell = cells.cells[key]
    assert cell[ALL]["n"] == 3 and cell[ALL]["t:roads-policing"] == 1
    assert cell["team_channel:digital-desk|public_mention"]["n"] == 2
    assert cell["team_channel:roads-policing|public_mention"]["n"] == 1
    assert cell["team:roads-policing"]["n"] == 1 and cell["channel:public_mention"]["n"] == 3

    # then to another force: gone from this cell without a trace, in that force's cell
    ev = moved.do("transfer", T0 + timedelta(minutes=6), force="north-wales", team="digital-desk")
    after = facts_from_item_event(facts[moved.item_id], ev)
    cells.replace_item(facts[moved.item_id], after)
    changed = {(k, sub): dict(c) for k, sub, c in cells.take_dirty()}
    assert {k for k, _ in changed} == {key, ("items", "north-wales", DAY)}
    # the emptied sub-cell is written too, with nothing in it, so no report counts it
    assert changed[(key, "team_channel:roads-policing|public_mention")] == {}
    assert changed[(key, "team:roads-policing")] == {}
    cell = cells.cells[key]
    assert "team_channel:roads-policing|public_mention" not in cell
    assert "t:roads-policing" not in cell[ALL]
    assert cell[ALL]["n"] == 2
    assert cells.cells[("items", "north-wales", DAY)][ALL]["n"] == 1

    # all the rest go the same way: the cell is empty, not negative, and still written
    for life in lives[1:]:
        ev = life.do(
            "transfer", T0 + timedelta(minutes=7), force="north-wales", team="digital-desk"
        )
        after = facts_from_item_event(facts[life.item_id], ev)
        cells.replace_item(facts[life.item_id], after)
    docs = dict(cell_documents(cells, 3))
    total = docs[f"items|{FORCE}|{DAY}|p3"]
    assert (total["n"], total["counts"], total["kind"]) == (0, {}, "items")
    assert total["cell"] == f"items|{FORCE}|{DAY}|p3" and total["partition"] == 3
    sub = docs[f"items|{FORCE}|{DAY}|team_channel:digital-desk|public_mention|p3"]
    assert (sub["kind"], sub["team"], sub["channel"], sub["n"]) == (
        "items_tc",
        "digital-desk",
        "public_mention",
        0,
    )
    team = docs[f"items|{FORCE}|{DAY}|team:digital-desk|p3"]
    assert (team["kind"], team["team"], team["n"]) == ("items_team", "digital-desk", 0)
    assert "channel" not in team


def test_a_merged_item_stops_counting(platform_config: PlatformConfig) -> None:
    life = Life(platform_config)
    cells = Cells()
    facts = fold(life.events)
    cells.replace_item(None, facts)
    ev = life.do("merge", T0 + timedelta(minutes=3), into="itm_other")
    after = facts_from_item_event(facts, ev)
    cells.replace_item(facts, after)
    assert cells.cells[("items", FORCE, DAY)][ALL] == Counter()


def test_sub_cells_are_documents_of_their_own_by_team_and_channel(
    platform_config: PlatformConfig,
) -> None:
    cells = Cells()
    for team, channel, n in (
        ("digital-desk", "public_mention", 3),
        ("digital-desk", "direct_message", 2),
        ("roads-policing", "public_mention", 1),
    ):
        cells.add(("items", FORCE, DAY), f"{team}|{channel}", Counter({"n": n, "p:P3": n}))
    docs = [doc for _, doc in cell_documents(cells, 0)]

    def n(kind: str, **match: str) -> int:
        return sum(
            d["n"]
            for d in docs
            if d["kind"] == kind and all(d.get(k) == v for k, v in match.items())
        )

    assert n("items") == 6
    assert n("items_team", team="digital-desk") == 5
    assert n("items_channel", channel="public_mention") == 4
    assert n("items_tc", team="digital-desk", channel="direct_message") == 2
    assert n("items_team", team="safeguarding") == 0
    # one sub-cell per team, per channel and per pair: a team's report reads one a day
    assert len([d for d in docs if d["kind"] == "items_team"]) == 2
    assert len([d for d in docs if d["kind"] == "items_channel"]) == 2
    assert len([d for d in docs if d["kind"] == "items_tc"]) == 3
    assert cell_documents(cells, 0) == []  # written once: nothing has changed since


# ---- percentiles ------------------------------------------------------------------------


def _width(b: int) -> float:
    lo = 0.0 if b == 0 else BUCKETS_S[b - 1]
    return BUCKETS_S[b] - lo if b < len(BUCKETS_S) else float("inf")


@pytest.mark.parametrize("seed", range(20))
def test_percentiles_are_within_a_bucket_of_the_exact_ones(seed: int) -> None:
    rng = random.Random(seed)
    sample = [rng.lognormvariate(7.5, 1.3) for _ in range(rng.choice((40, 200, 1000)))]
    hist: Counter[int] = Counter(bucket_of(s) for s in sample)
    for q, exact in (
        (0.5, statistics.median(sample)),
        (0.9, statistics.quantiles(sample, n=10, method="inclusive")[-1]),
    ):
        got = percentile(hist, q)
        assert got is not None
        # off by less than a bucket: the one the answer is in, or the exact value
        # (rank conventions differ by one sample, which may cross a bucket edge)
        tolerance = max(_width(bucket_of(exact)), _width(bucket_of(got)))
        assert abs(got - exact) <= tolerance, (q, got, exact)
    for target in (900, 3600, 14400, 86400):  # every SLA target is an edge: exact counts
        assert within(hist, target) == sum(1 for s in sample if s <= target)


def test_percentile_edges() -> None:
    assert percentile({}, 0.5) is None
    assert percentile({3: 0}, 0.5) is None
    assert percentile({bucket_of(60): 1}, 0.5) == 30  # one answer, in the first minute
    assert percentile({len(BUCKETS_S): 4}, 0.9) == BUCKETS_S[-1]  # "over a week" answers a week
    assert bucket_of(900) == bucket_of(899.5) != bucket_of(900.5)  # edges are inclusive
    assert bucket_of(-5) == 0


# ---- periods ----------------------------------------------------------------------------

TODAY = date(2026, 11, 30)


def test_the_default_period_is_the_last_seven_days() -> None:
    assert parse_period(None, None, TODAY) == (date(2026, 11, 24), TODAY)
    assert parse_period("", "", TODAY) == (date(2026, 11, 24), TODAY)
    assert parse_period(None, "2026-11-10", TODAY) == (date(2026, 11, 4), date(2026, 11, 10))
    assert parse_period("2026-11-30", None, TODAY) == (TODAY, TODAY)
    start = TODAY - timedelta(days=MAX_REPORT_DAYS - 1)
    assert parse_period(start.isoformat(), None, TODAY) == (start, TODAY)  # 400 days is fine


@pytest.mark.parametrize(
    ("start", "end", "says"),
    [
        ("2026-11-20", "2026-11-10", "starts (2026-11-20) after it ends (2026-11-10)"),
        ("2026-11-20", "yesterday", "YYYY-MM-DD"),
        ("2026-02-30", None, "YYYY-MM-DD"),
        ("1900-01-01", "1900-01-07", "between the year 2000 and today"),
        ("2027-06-01", "2027-06-07", "between the year 2000 and today"),
        ("2025-01-01", "2026-11-30", "at most 400 days"),
        ("0001-01-01", "9999-12-31", "at most 400 days"),
        ("2026-12-01", None, "starts (2026-12-01) after it ends (2026-11-30)"),
    ],
)
def test_senseless_periods_are_refused_with_a_reason(
    start: str | None, end: str | None, says: str
) -> None:
    with pytest.raises(PeriodError) as err:
        parse_period(start, end, TODAY)
    assert says in str(err.value)


# ---- reports ----------------------------------------------------------------------------


def test_an_empty_period_gives_zeros_and_no_figures() -> None:
    report = build_report([], [], date(2026, 11, 1), date(2026, 11, 30), TARGETS)
    assert report["items"] == 0
    assert report["period"] == {"start": "2026-11-01", "end": "2026-11-30", "days": 30}
    assert [d["items"] for d in report["volume"]["by_day"]] == [0] * 30
    assert all(h["items"] == 0 for h in report["volume"]["by_hour"])
    p1 = report["response_times"]["P1"]["first_response"]
    assert p1 == {
        "count": 0,
        "median_s": None,
        "p90_s": None,
        "target_s": 900.0,
        "within_target": 0,
    }
    assert report["response_times"]["P4"]["resolution"]["within_target"] is None  # no target
    assert report["sla_compliance"]["P2"]["first_response"]["compliance_pct"] is None
    assert report["repeat_contacts"] == {"items": 0, "pct": None}
    assert report["listening"]["gap_score"] is None
    row = national_row("merseyside", report)
    assert tuple(row) == NATIONAL_COLUMNS
    assert row["items"] == 0 and row["first_response_median_s"] is None
    assert row["listening_gap"] is None and row["first_response_sla_pct"] is None


def _post(text: str, kind: str, at: datetime = T0) -> OutboundPost:
    return OutboundPost(
        id=f"x:p{abs(hash((text, kind, at)))}",
        platform="x",
        native_id="1",
        kind=kind,  # type: ignore[arg-type]
        force_account=ForceAccount(platform="x", handle="MerseyPolice"),
        text=text,
        posted_at=at,
        received_at=at,
    )


def test_report_figures_from_cells_of_several_partitions(platform_config: PlatformConfig) -> None:
    """Four items over two days on two partitions, and the force's posts: the report
    reads volumes, medians, compliance, outcomes, Welsh contact, repeat contact and the
    listening gap from the summed cells."""
    day2 = T0 + timedelta(days=1)
    specs = [  # (at, priority, flags, text, reply after min, resolve, partition)
        (T0, Priority.P1, (Flag.weapon,), "lad with a knife on Walton Lane", 5, "advised_999", 0),
        (T0, Priority.P2, (), "loud noise and youths every night", 90, "signposted", 1),
        (day2, Priority.P3, (), "is the road closure on the M62 still on?", 20, None, 0),
        (day2, Priority.P3, (), "my bike was stolen from the shed", None, None, 1),
    ]
    cells = {0: Cells(), 1: Cells()}
    for i, (at, grade, flags, text, reply, outcome, part) in enumerate(specs):
        intent = Intent.asb if "noise" in text else Intent.crime_report
        life = Life(platform_config, text, grade, intent, flags, at=at)
        life.do("claim", at + timedelta(minutes=1))
        if reply is not None:
            life.do("reply", at + timedelta(minutes=reply), text="reply")
        if outcome:
            life.do("resolve", at + timedelta(hours=3), outcome=outcome)
        facts = fold(life.events)
        assert facts is not None
        facts = fold_sla(facts, sla_events(platform_config, life.events, at + timedelta(hours=4)))
        facts.repeat = i == 3
        cells[part].replace_item(None, facts)
    for text, kind in (
        ("M62 closure: diversion via the A580", "post"),
        ("Collision on the A55, road closed", "post"),
        ("Join us: become a special constable", "post"),
        ("Thanks, we've passed that on to the roads team", "reply"),
    ):
        pf = post_facts(_post(text, kind), FORCE)
        assert pf is not None
        cells[0].add_post(pf)
    docs = [doc for p, cs in cells.items() for _, doc in cell_documents(cs, p)]
    item_docs = [d for d in docs if d["kind"] == "items"]
    post_docs = [d for d in docs if d["kind"] == "posts"]
    assert len(item_docs) == 4  # two days, two partitions
    day1, day2s = DAY, local_day_hour(day2.timestamp())[0]
    start = date.fromisoformat(day1) - timedelta(days=1)
    report = build_report(item_docs, post_docs, start, date.fromisoformat(day2s), TARGETS)

    assert report["items"] == 4
    assert [(d["day"], d["items"], d["posts"]) for d in report["volume"]["by_day"]] == [
        (start.isoformat(), 0, 0),
        (day1, 2, 4),
        (day2s, 2, 0),
    ]
    assert report["volume"]["by_team"] == {"digital-desk": 4}
    fr = report["first_response_all"]  # 300 s, 1200 s, 5400 s
    assert fr["count"] == 3
    assert abs(fr["median_s"] - 1200) <= _width(bucket_of(1200))
    p1 = report["response_times"]["P1"]["first_response"]
    assert (p1["count"], p1["within_target"], p1["target_s"]) == (1, 1, 900.0)
    p2 = report["response_times"]["P2"]["first_response"]
    assert (p2["count"], p2["within_target"]) == (1, 0)
    comp = report["sla_compliance"]
    assert comp["P1"]["first_response"] == {"met": 1, "breached": 0, "compliance_pct": 100.0}
    assert comp["P2"]["first_response"] == {"met": 0, "breached": 1, "compliance_pct": 0.0}
    assert comp["P2"]["resolution"]["met"] == 1
    assert report["outcomes"]["advised_999"] == 1 and report["outcomes"]["signposted"] == 1
    assert report["flags"]["weapon"] == 1
    assert report["repeat_contacts"] == {"items": 1, "pct": 25.0}
    assert report["languages"]["en"]["items"] == 4 and report["languages"]["cy"]["items"] == 0

    lis = report["listening"]
    assert {s: n for s, n in lis["public"].items() if n} == {
        "violence_weapons": 1,
        "asb": 1,
        "roads": 1,
        "burglary_theft": 1,
    }
    # the reply is outbound but no broadcast: it is not what the force chose to post about
    assert {s: n for s, n in lis["force_posts"].items() if n} == {"roads": 2, "recruitment": 1}
    assert (lis["posts"], lis["outbound"]) == (3, 4)
    assert lis["outbound_by_kind"] == {"post": 3, "reply": 1}
    assert lis["gap_score"] == 75.0

    row = national_row(FORCE, report)
    assert row["items"] == 4 and row["p1_items"] == 1
    assert row["first_response_sla_pct"] == 66.7  # met P1 and P3, breached P2
    assert row["resolution_sla_pct"] == 100.0
    assert (row["advised_999"], row["repeat_pct"], row["listening_gap"]) == (1, 25.0, 75.0)


def test_report_days_are_local_days() -> None:
    """Half past midnight in a British summer is the new day there, though still the old
    one in UTC."""
    summer = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    assert local_day_hour(summer.timestamp()) == ("2026-07-02", 0)
    winter = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    assert local_day_hour(winter.timestamp()) == ("2026-12-01", 23)
