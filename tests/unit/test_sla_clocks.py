"""SLA clocks as a supervisor sees them: deadlines in working time, DST that moves no
deadline, warnings and breaches never early, and replays that change nothing. Item
events come from the real assign aggregate, so the two services agree."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from socialdesk.config import Calendar, PlatformConfig
from socialdesk.events import ItemEvent, SlaEvent
from socialdesk.taxonomy import Intent, ItemStatus, Priority
from socialdesk_assign.aggregate import ThreadState, apply_command, apply_mention
from socialdesk_sla.clocks import (
    ItemClocks,
    add_working_time,
    due_events,
    on_item_event,
    working_minutes_between,
)
from tests.unit.conftest import FORCE, make_command, make_mention, make_triage, make_triaged

LONDON = ZoneInfo("Europe/London")
OFFICE = Calendar(
    timezone="Europe/London",
    periods={d: [("08:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")},
)
ALWAYS = Calendar(always_open=True)
SPLIT_SAT = Calendar(
    timezone="Europe/London",
    periods={
        **{d: [("08:00", "12:00"), ("13:00", "17:00")] for d in ("mon", "tue", "wed", "thu")},
        "fri": [("07:30", "16:00")],
        "sat": [("09:00", "13:00")],
    },
)


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON)  # type: ignore[misc]


class Desk:
    """Drives the real aggregate and feeds its item events to the SLA clocks."""

    def __init__(
        self,
        config: PlatformConfig,
        created: datetime,
        priority: Priority = Priority.P1,
        intent: Intent = Intent.crime_report,
        conversation: str = "conv-1",
    ) -> None:
        self.config = config
        self.conversation = conversation
        self.clocks: ItemClocks | None = None
        self.item_events: list[ItemEvent] = []
        self.sla: list[SlaEvent] = []
        tm = make_triaged(
            make_mention(at=created, conversation_id=conversation),
            make_triage(priority, intent, at=created),
        )
        out = apply_mention(None, tm, config, created)
        self.state: ThreadState = out.state
        self.key = out.state.key
        self._feed(out.events, created)

    def _feed(self, events: list[ItemEvent], at: datetime) -> list[SlaEvent]:
        new: list[SlaEvent] = []
        for ev in events:
            self.item_events.append(ev)
            self.clocks, out = on_item_event(self.config, self.clocks, ev, at)
            new += out
        self.sla += new
        return new

    def command(self, type_: str, at: datetime, **payload: object) -> list[SlaEvent]:
        out = apply_command(
            self.state, make_command(type_, self.key, payload=payload), self.config, at
        )
        assert out.events and out.events[0].type != "rejected", out.events
        self.state = out.state
        return self._feed(out.events, at)

    def public_writes(
        self, at: datetime, text: str = "any news?", priority: Priority = Priority.P4
    ) -> list[SlaEvent]:
        tm = make_triaged(
            make_mention(text, at=at, conversation_id=self.conversation),
            make_triage(priority, at=at),
        )
        out = apply_mention(self.state, tm, self.config, at)
        self.state = out.state
        return self._feed(out.events, at)

    def tick(self, at: datetime) -> list[SlaEvent]:
        assert self.clocks is not None
        out = due_events(self.config, self.clocks, at)
        self.sla += out
        return out

    def deadline(self, clock: str) -> datetime:
        assert self.clocks is not None
        return datetime.fromtimestamp(self.clocks.clocks[clock].deadline, UTC)

    def warn_at(self, clock: str) -> datetime:
        assert self.clocks is not None
        return datetime.fromtimestamp(self.clocks.clocks[clock].warn_at, UTC)


def kinds(events: list[SlaEvent]) -> list[tuple[str, str]]:
    return [(e.type, e.clock) for e in events]


# ---- arithmetic ----------------------------------------------------------------------
def test_p1_first_response_is_due_15_minutes_after_creation_any_hour(
    platform_config: PlatformConfig,
) -> None:
    for created in (
        datetime(2026, 11, 21, 3, 7, tzinfo=UTC),  # Saturday night
        datetime(2026, 12, 25, 23, 55, tzinfo=UTC),  # Christmas, a bank holiday
        datetime(2026, 10, 25, 0, 50, tzinfo=UTC),  # during the clocks going back
    ):
        desk = Desk(platform_config, created, Priority.P1, Intent.road_traffic)  # office team
        assert kinds(desk.sla) == [("started", "first_response"), ("started", "resolution")]
        assert desk.deadline("first_response") == created + timedelta(minutes=15)
        assert desk.deadline("resolution") == created + timedelta(hours=4)
        assert desk.sla[0].deadline == created + timedelta(minutes=15)


def test_p3_friday_afternoon_is_due_at_the_same_time_next_working_day() -> None:
    friday = london(2026, 11, 20, 16, 30)
    working_day = 10 * 60  # one full Mon-Fri 08:00-18:00 day
    assert add_working_time(friday, working_day, OFFICE) == london(2026, 11, 23, 16, 30)
    assert working_minutes_between(friday, london(2026, 11, 23, 16, 30), OFFICE) == working_day


def test_p3_on_a_business_hours_team_counts_only_working_time(
    platform_config: PlatformConfig,
) -> None:
    """Merseyside roads-policing works Mon-Fri 08:00-18:00; national P3 first response
    is 24 h of working time: 1.5 h Fri + 10 h Mon + 10 h Tue + 2.5 h Wed."""
    created = london(2026, 11, 20, 16, 30).astimezone(UTC)
    desk = Desk(platform_config, created, Priority.P3, Intent.road_traffic)
    assert desk.state.current_item() is not None
    assert desk.state.current_item().team == "roads-policing"  # type: ignore[union-attr]
    assert desk.deadline("first_response").astimezone(LONDON) == london(2026, 11, 25, 10, 30)
    assert desk.tick(london(2026, 11, 23, 23, 0)) == []  # nothing over the weekend + Monday


def test_bank_holidays_are_skipped_for_business_hours(platform_config: PlatformConfig) -> None:
    hols = platform_config.holidays["england-and-wales"]
    office = OFFICE.model_copy(update={"bank_holidays": "england-and-wales"})
    eve = london(2026, 12, 24, 17, 0)  # Thu; Fri 25th and Mon 28th are bank holidays
    assert add_working_time(eve, 120, office, hols) == london(2026, 12, 29, 9, 0)
    assert add_working_time(eve, 120, OFFICE, hols) == london(2026, 12, 25, 9, 0)  # no region


@pytest.mark.parametrize(
    ("start", "minutes", "due"),
    [
        # clocks go back on Sunday 25 October 2026: BST -> GMT
        (london(2026, 10, 23, 17, 0), 120, london(2026, 10, 26, 9, 0)),
        (london(2026, 10, 22, 10, 0), 30 * 60, london(2026, 10, 27, 10, 0)),
        # clocks go forward on Sunday 28 March 2027: GMT -> BST
        (london(2027, 3, 25, 17, 30), 60, london(2027, 3, 26, 8, 30)),
        (london(2027, 3, 26, 17, 0), 120, london(2027, 3, 29, 9, 0)),
        (london(2027, 3, 24, 9, 0), 4 * 600, london(2027, 3, 30, 9, 0)),
    ],
)
def test_business_deadline_across_dst_keeps_wall_clock_time(
    start: datetime, minutes: int, due: datetime
) -> None:
    got = add_working_time(start.astimezone(UTC), minutes, OFFICE)
    assert got.astimezone(LONDON).replace(tzinfo=None) == due.replace(tzinfo=None)
    assert got == due
    assert working_minutes_between(start, got, OFFICE) == pytest.approx(minutes)


def test_dst_change_moves_the_utc_hour_not_the_local_one() -> None:
    before = add_working_time(london(2026, 10, 23, 17, 0), 120, OFFICE)
    assert before.astimezone(UTC).hour == 9 and before.astimezone(LONDON).hour == 9
    spring = add_working_time(london(2027, 3, 26, 17, 0), 120, OFFICE)
    assert spring.astimezone(UTC).hour == 8 and spring.astimezone(LONDON).hour == 9


def test_always_open_counts_real_elapsed_time_across_dst() -> None:
    start = london(2026, 10, 25, 0, 30)  # 00:30 BST; at 02:00 BST it is 01:00 GMT
    due = add_working_time(start, 120, ALWAYS)
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(minutes=120)
    assert due.astimezone(LONDON).hour == 1  # 01:30 GMT, the second 01:30 of the night
    spring = london(2027, 3, 28, 0, 30)  # 00:30 GMT; at 01:00 GMT it is 02:00 BST
    due2 = add_working_time(spring, 60, ALWAYS)
    assert due2.astimezone(UTC) - spring.astimezone(UTC) == timedelta(minutes=60)
    assert due2.astimezone(LONDON).replace(tzinfo=None) == datetime(2027, 3, 28, 2, 30)
    assert working_minutes_between(start, due, ALWAYS) == 120
    assert working_minutes_between(spring, due2, ALWAYS) == 60


# ---- properties -------------------------------------------------------------------------
_starts = st.datetimes(
    min_value=datetime(2026, 1, 1),
    max_value=datetime(2028, 6, 1),
    timezones=st.sampled_from([UTC, LONDON]),
)


@settings(max_examples=200, deadline=None)
@given(start=_starts, minutes=st.integers(min_value=0, max_value=60 * 24 * 30))
def test_always_open_adds_exactly_the_minutes(start: datetime, minutes: int) -> None:
    due = add_working_time(start, minutes, ALWAYS)
    assert due.astimezone(UTC) - start.astimezone(UTC) == timedelta(minutes=minutes)


def _inside_or_at_end(due: datetime, cal: Calendar) -> bool:
    local = due.astimezone(ZoneInfo(cal.timezone))
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    t = local.time()
    return any(
        time.fromisoformat(s) <= t <= time.fromisoformat(e) for s, e in cal.periods.get(day, [])
    )


@settings(max_examples=120, deadline=None)
@given(
    start=_starts,
    minutes=st.integers(min_value=1, max_value=5_000),
    extra=st.integers(min_value=1, max_value=2_000),
    cal=st.sampled_from([OFFICE, SPLIT_SAT]),
)
def test_business_deadline_is_in_working_time_and_monotonic(
    start: datetime, minutes: int, extra: int, cal: Calendar
) -> None:
    due = add_working_time(start, minutes, cal)
    later = add_working_time(start, minutes + extra, cal)
    assert start < due < later
    assert _inside_or_at_end(due, cal) and _inside_or_at_end(later, cal)
    assert working_minutes_between(start, due, cal) == pytest.approx(minutes)
    assert working_minutes_between(due, later, cal) == pytest.approx(extra)


# ---- warnings and breaches ----------------------------------------------------------------
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_warning_then_breach_never_early(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P1)
    warn, due = desk.warn_at("first_response"), desk.deadline("first_response")
    assert warn == T0 + timedelta(minutes=15 * 0.75)
    assert desk.tick(T0) == []
    assert desk.tick(warn - timedelta(seconds=1)) == []
    out = desk.tick(warn)
    assert kinds(out) == [("warning", "first_response")]
    assert f"team:{FORCE}/digital-desk" in out[0].notify
    assert out[0].time_left_s == pytest.approx((due - warn).total_seconds())
    assert desk.tick(warn + timedelta(seconds=30)) == []  # warned once only
    assert desk.tick(due - timedelta(seconds=1)) == []
    out = desk.tick(due)
    assert kinds(out) == [("breached", "first_response")]
    assert f"supervisors:{FORCE}" in out[0].notify
    assert desk.tick(due + timedelta(minutes=29)) == []
    out = desk.tick(due + timedelta(minutes=30))
    assert kinds(out) == [("escalated", "first_response")]
    assert out[0].notify == [f"duty_inspector:{FORCE}"]
    assert desk.tick(due + timedelta(hours=1)) == []


def test_a_late_scheduler_emits_warning_then_breach_together(
    platform_config: PlatformConfig,
) -> None:
    desk = Desk(platform_config, T0, Priority.P2)
    out = desk.tick(T0 + timedelta(minutes=61))
    assert kinds(out) == [("warning", "first_response"), ("breached", "first_response")]
    assert [e.seq for e in desk.sla] == list(range(1, len(desk.sla) + 1))


def test_due_events_over_time_are_never_early(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P1)
    assert desk.clocks is not None
    at = T0
    while at < T0 + timedelta(hours=6):
        before = {n: (c.warn_at, c.deadline) for n, c in desk.clocks.clocks.items()}
        for ev in desk.tick(at):
            warn_at, deadline = before[ev.clock]
            if ev.type == "warning":
                assert at.timestamp() >= warn_at
            elif ev.type == "breached":
                assert at.timestamp() >= deadline
        at += timedelta(seconds=97)
    assert {(t, c) for t, c in kinds(desk.sla) if t != "started"} >= {
        ("warning", "first_response"),
        ("breached", "first_response"),
        ("warning", "resolution"),
        ("breached", "resolution"),
    }


# ---- item events -------------------------------------------------------------------------
def test_reply_before_deadline_meets_first_response(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P1)
    desk.command("claim", T0 + timedelta(minutes=2))
    out = desk.command("reply", T0 + timedelta(minutes=10), text="Ring 999 now please")
    assert kinds(out) == [("met", "first_response")]
    assert desk.tick(T0 + timedelta(minutes=20)) == []  # no breach for a met clock
    assert desk.clocks is not None and desk.clocks.clocks["resolution"].state == "running"


def test_a_note_is_not_a_response(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P1)
    assert desk.command("note", T0 + timedelta(minutes=5), text="log 412 raised") == []
    assert kinds(desk.tick(T0 + timedelta(minutes=15))) == [
        ("warning", "first_response"),
        ("breached", "first_response"),
    ]


def test_reply_after_deadline_is_a_breach_not_met(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P1)
    out = desk.command("reply", T0 + timedelta(minutes=16), text="sorry for the delay")
    assert kinds(out) == [("breached", "first_response")]


def test_duplicate_and_replayed_item_events_change_nothing(
    platform_config: PlatformConfig,
) -> None:
    desk = Desk(platform_config, T0, Priority.P2)
    desk.command("claim", T0 + timedelta(minutes=1))
    desk.command("reply", T0 + timedelta(minutes=10), text="Can you DM us the address?")
    desk.command("await_public", T0 + timedelta(minutes=11))
    assert desk.clocks is not None
    snapshot = desk.clocks.to_json()
    for ev in desk.item_events:  # the whole history again, e.g. after a rebalance
        clocks, out = on_item_event(platform_config, desk.clocks, ev, T0 + timedelta(hours=1))
        assert out == []
        assert clocks is not None and clocks.to_json() == snapshot
    older = desk.item_events[1]
    clocks, out = on_item_event(platform_config, desk.clocks, older, T0 + timedelta(hours=2))
    assert out == [] and clocks is not None and clocks.to_json() == snapshot


def test_rejections_do_not_touch_clocks(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P1)
    out = apply_command(
        desk.state, make_command("resolve", desk.key, payload={}), platform_config, T0
    )
    assert out.events[0].type == "rejected"
    assert on_item_event(platform_config, desk.clocks, out.events[0], T0)[1] == []


def test_waiting_on_the_public_pauses_and_resumes(platform_config: PlatformConfig) -> None:
    """docs/sla.md worked example 4."""
    desk = Desk(platform_config, T0, Priority.P2)
    desk.command("claim", T0 + timedelta(minutes=5))
    assert kinds(desk.command("reply", T0 + timedelta(minutes=10), text="Which street?")) == [
        ("met", "first_response")
    ]
    paused = desk.command("await_public", T0 + timedelta(minutes=30))
    assert kinds(paused) == [("paused", "resolution")]
    assert paused[0].time_left_s is None
    assert desk.tick(T0 + timedelta(days=3)) == []  # a paused clock never breaches
    resumed = desk.public_writes(T0 + timedelta(hours=5, minutes=30), "It's Church Road")
    assert kinds(resumed) == [("resumed", "resolution"), ("started", "next_response")]
    assert desk.deadline("resolution") == T0 + timedelta(hours=29)
    assert desk.deadline("next_response") == T0 + timedelta(hours=6, minutes=30)


def test_regrade_recomputes_from_creation(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P3, Intent.road_traffic)  # office hours team
    out = desk.command("regrade", T0 + timedelta(minutes=5), priority="P1", reason="knife seen")
    assert sorted(kinds(out)) == [
        ("recalculated", "first_response"),
        ("recalculated", "resolution"),
    ]
    assert desk.deadline("first_response") == T0 + timedelta(minutes=15)
    assert desk.deadline("resolution") == T0 + timedelta(hours=4)
    assert all(e.priority == Priority.P1 for e in out)
    assert kinds(desk.tick(T0 + timedelta(minutes=15))) == [
        ("warning", "first_response"),
        ("breached", "first_response"),
    ]


def test_regrade_late_is_due_now_and_breached_once(platform_config: PlatformConfig) -> None:
    """45 minutes past what the P1 deadline would have been: due now, breached and
    reported at once (with the supervisors), the duty inspector 30 minutes later."""
    desk = Desk(platform_config, T0, Priority.P3)
    late = T0 + timedelta(hours=1)
    out = desk.command("regrade", late, priority="P1")
    assert ("breached", "first_response") in kinds(out)
    breach = next(e for e in out if e.type == "breached")
    assert breach.deadline == late and breach.time_left_s == 0
    assert f"supervisors:{FORCE}" in breach.notify
    assert desk.deadline("first_response") == late
    assert desk.deadline("resolution") == T0 + timedelta(hours=4)  # still ahead: kept
    assert desk.tick(late) == []
    assert desk.tick(late + timedelta(minutes=29)) == []
    assert kinds(desk.tick(late + timedelta(minutes=30))) == [("escalated", "first_response")]
    assert [k for k in kinds(desk.sla) if k == ("breached", "first_response")] == [
        ("breached", "first_response")
    ]


def test_a_follow_up_that_escalates_recomputes_every_clock(
    platform_config: PlatformConfig,
) -> None:
    """Issue 19: a P2 direct message, then 'he's outside now banging on the door' two
    seconds later. The item is P1: first response due 15 minutes after first contact."""
    desk = Desk(platform_config, T0, Priority.P2)
    assert desk.deadline("first_response") == T0 + timedelta(hours=1)
    out = desk.public_writes(
        T0 + timedelta(seconds=2), "he's outside now banging on the door", Priority.P1
    )
    assert desk.item_events[-1].type == "public_replied"
    assert desk.item_events[-1].data["regraded_to"] == "P1"
    assert sorted(kinds(out)) == [
        ("recalculated", "first_response"),
        ("recalculated", "resolution"),
    ]
    assert all(e.priority == Priority.P1 for e in out)
    assert desk.deadline("first_response") == T0 + timedelta(minutes=15)
    assert desk.deadline("resolution") == T0 + timedelta(hours=4)
    assert kinds(desk.tick(T0 + timedelta(minutes=15))) == [
        ("warning", "first_response"),
        ("breached", "first_response"),
    ]


def test_a_late_follow_up_that_escalates_is_breached_at_once(
    platform_config: PlatformConfig,
) -> None:
    desk = Desk(platform_config, T0, Priority.P3)
    at = T0 + timedelta(minutes=40)
    out = desk.public_writes(at, "he's got a knife now", Priority.P1)
    assert kinds(out) == [
        ("recalculated", "first_response"),
        ("breached", "first_response"),
        ("recalculated", "resolution"),
    ]
    assert desk.deadline("first_response") == at
    assert desk.tick(at + timedelta(minutes=5)) == []  # reported once


def test_a_follow_up_no_worse_leaves_the_clocks(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P2)
    assert desk.public_writes(T0 + timedelta(minutes=3), "any news?", Priority.P3) == []
    assert desk.deadline("first_response") == T0 + timedelta(hours=1)


def test_escalation_while_waiting_on_the_public(platform_config: PlatformConfig) -> None:
    """The public's P1 follow-up resumes the paused clocks, starts a next-response clock
    and recomputes them all under P1."""
    desk = Desk(platform_config, T0, Priority.P2)
    desk.command("claim", T0 + timedelta(minutes=1))
    desk.command("reply", T0 + timedelta(minutes=5), text="Which street?")
    desk.command("await_public", T0 + timedelta(minutes=6))
    at = T0 + timedelta(minutes=20)
    out = desk.public_writes(at, "he's back and he's kicking the door in", Priority.P1)
    assert ("resumed", "resolution") in kinds(out)
    assert ("recalculated", "next_response") in kinds(out)
    assert desk.deadline("next_response") == at + timedelta(minutes=15)
    assert desk.deadline("resolution") == T0 + timedelta(hours=4, minutes=14)  # 14 min paused
    assert desk.clocks is not None and desk.clocks.clocks["first_response"].state == "met"


_GRADES = st.sampled_from(list(Priority))


@settings(max_examples=150, deadline=None)
@given(
    first=_GRADES,
    steps=st.lists(
        st.tuples(
            st.sampled_from(["regrade", "follow_up", "tick", "note"]),
            st.integers(min_value=0, max_value=90 * 60),  # seconds after the previous step
            _GRADES,
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_becoming_p1_by_any_path_is_due_15_minutes_after_first_contact_or_now(
    platform_config: PlatformConfig, first: Priority, steps: list[tuple[str, int, Priority]]
) -> None:
    """The shared rule, whatever the path (an operator's re-grade, a follow-up) and
    whenever it happens: the moment an item becomes P1 its first-response deadline is
    max(first contact + 15 min, now), a deadline already passed is reported as breached
    at that moment, and a clock is reported breached at most once."""
    desk = Desk(platform_config, T0, first)
    at = T0
    for kind, gap, grade in steps:
        at += timedelta(seconds=gap)
        item = desk.state.current_item()
        assert item is not None and desk.clocks is not None
        was = item.priority
        fr = desk.clocks.clocks["first_response"]
        running = fr.state == "running"
        if kind == "tick":
            desk.tick(at)
            continue
        if kind == "note":
            desk.command("note", at, text="checked the address")
            continue
        if kind == "regrade":
            if grade == was:
                continue
            out = desk.command("regrade", at, priority=grade.value)
        else:
            out = desk.public_writes(at, "update", grade)
        now_p1 = desk.state.current_item().priority == Priority.P1  # type: ignore[union-attr]
        if now_p1 and was != Priority.P1 and running:
            due = max(T0 + timedelta(minutes=15), at)
            assert desk.deadline("first_response") == due
            breached = [e for e in out if e.type == "breached" and e.clock == "first_response"]
            assert len(breached) == (1 if at >= T0 + timedelta(minutes=15) else 0)
    desk.tick(at + timedelta(days=10))
    assert len([k for k in kinds(desk.sla) if k == ("breached", "first_response")]) <= 1
    assert len([k for k in kinds(desk.sla) if k == ("breached", "resolution")]) <= 1
    for e in desk.sla:  # never reported early
        if e.type == "breached":
            assert e.at >= e.deadline


def test_resolve_stops_every_clock_and_reopen_restarts_resolution(
    platform_config: PlatformConfig,
) -> None:
    desk = Desk(platform_config, T0, Priority.P2)
    desk.command("reply", T0 + timedelta(minutes=20), text="We'll look into it")
    out = desk.command("resolve", T0 + timedelta(hours=2), outcome="information_passed")
    assert kinds(out) == [("met", "resolution")]
    assert desk.clocks is not None and not desk.clocks.open()
    assert desk.tick(T0 + timedelta(days=5)) == []
    reopened = desk.command("reopen", T0 + timedelta(hours=3))
    assert kinds(reopened) == [("started", "resolution")]
    assert desk.deadline("resolution") == T0 + timedelta(hours=3 + 24)


def test_p4_has_no_resolution_clock(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P4, Intent.appreciation)
    assert kinds(desk.sla) == [("started", "first_response")]


def test_item_clocks_survive_a_store_round_trip(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P2)
    desk.command("claim", T0 + timedelta(minutes=1))
    desk.command("reply", T0 + timedelta(minutes=2), text="hi")
    desk.command("await_public", T0 + timedelta(minutes=3))
    assert desk.clocks is not None
    back = ItemClocks.from_json(desk.clocks.to_json())
    assert back == desk.clocks and back is not desk.clocks
    assert back.owner is not None and back.last_item_seq == desk.item_events[-1].seq


# ---- a merge that escalates ---------------------------------------------------------------
def _merge(
    config: PlatformConfig, into: Desk, merged: Desk, at: datetime
) -> tuple[list[ItemEvent], list[SlaEvent]]:
    """Merge `merged` into `into` through the real aggregate: the merge on one item, the
    absorb command it produces applied to the other (as assign does via items.commands)."""
    out = apply_command(
        merged.state, make_command("merge", merged.key, payload={"into": into.key}), config, at
    )
    assert [e.type for e in out.events] == ["merged"]
    merged.state = out.state
    merged._feed(out.events, at)
    [absorb] = out.commands
    assert absorb.type == "absorb" and absorb.item_id == into.key
    again = apply_command(
        out.state, make_command("merge", merged.key, payload={"into": into.key}), config, at
    )
    assert again.events[0].type == "rejected" and again.commands == []  # merged: resolved
    res = apply_command(into.state, absorb, config, at)
    into.state = res.state
    sla = into._feed(res.events, at)
    replay = apply_command(into.state, absorb, config, at)
    assert replay.events == []  # a redelivered absorb is applied once
    return res.events, sla


def test_an_emergency_merged_in_escalates_from_the_older_first_contact(
    platform_config: PlatformConfig,
) -> None:
    emergency = Desk(platform_config, T0, Priority.P1)  # first report, 12:00
    routine = Desk(platform_config, T0 + timedelta(minutes=3), Priority.P3, conversation="c2")
    assert emergency.key != routine.key
    events, sla = _merge(platform_config, routine, emergency, T0 + timedelta(minutes=5))
    [absorbed] = events
    assert absorbed.type == "absorbed"
    assert absorbed.data["regraded_to"] == "P1"
    assert absorbed.data["first_contact_at"] == T0.isoformat()
    assert absorbed.item is not None and absorbed.item.priority == Priority.P1
    assert sorted(kinds(sla)) == [
        ("recalculated", "first_response"),
        ("recalculated", "resolution"),
    ]
    assert routine.deadline("first_response") == T0 + timedelta(minutes=15)
    assert routine.deadline("resolution") == T0 + timedelta(hours=4)
    assert emergency.clocks is not None and not emergency.clocks.open()


def test_a_late_merge_that_escalates_is_breached_at_once(platform_config: PlatformConfig) -> None:
    emergency = Desk(platform_config, T0, Priority.P1)
    routine = Desk(platform_config, T0 + timedelta(minutes=1), Priority.P2, conversation="c2")
    at = T0 + timedelta(minutes=30)
    _, sla = _merge(platform_config, routine, emergency, at)
    assert ("breached", "first_response") in kinds(sla)
    assert routine.deadline("first_response") == at
    assert routine.tick(at + timedelta(minutes=1)) == []


def test_a_lower_grade_merged_in_changes_no_clock(platform_config: PlatformConfig) -> None:
    older = Desk(platform_config, T0, Priority.P3)
    urgent = Desk(platform_config, T0 + timedelta(minutes=2), Priority.P2, conversation="c2")
    events, sla = _merge(platform_config, urgent, older, T0 + timedelta(minutes=4))
    assert events[0].data["regraded_to"] is None and events[0].data["first_contact_at"] is None
    assert sla == []
    assert urgent.deadline("first_response") == T0 + timedelta(minutes=62)


def test_merging_into_a_resolved_item_reopens_it(platform_config: PlatformConfig) -> None:
    emergency = Desk(platform_config, T0 + timedelta(minutes=20), Priority.P1)
    done = Desk(platform_config, T0, Priority.P3, conversation="c2")
    done.command("reply", T0 + timedelta(minutes=5), text="Thanks, noted")
    done.command("resolve", T0 + timedelta(minutes=6), outcome="information_passed")
    at = T0 + timedelta(minutes=21)
    events, sla = _merge(platform_config, done, emergency, at)
    item = events[0].item
    assert item is not None and item.status == ItemStatus.assigned  # back to its owner
    assert item.priority == Priority.P1
    assert events[0].data["reopened"] is True
    assert ("started", "resolution") in kinds(sla)
    assert done.deadline("resolution") == at + timedelta(hours=4)


def test_absorb_is_not_an_operators_command(platform_config: PlatformConfig) -> None:
    desk = Desk(platform_config, T0, Priority.P3)
    out = apply_command(
        desk.state,
        make_command(
            "absorb",
            desk.key,
            payload={
                "from": "x",
                "priority": "P1",
                "flags": [],
                "first_contact_at": T0.isoformat(),
            },
        ),
        platform_config,
        T0,
    )
    assert out.events[0].type == "rejected"


def test_a_national_queue_item_tells_the_duty_officers(platform_config: PlatformConfig) -> None:
    created = T0
    tm = make_triaged(
        make_mention(at=created, conversation_id="nq", handle="104899999999999"),
        make_triage(Priority.P1, at=created),
        force=None,
    )
    out = apply_mention(None, tm, platform_config, created)
    clocks = None
    for ev in out.events:
        clocks, _ = on_item_event(platform_config, clocks, ev, created)
    assert clocks is not None and clocks.force is None and clocks.team == "national-duty"
    assert clocks.clocks["first_response"].deadline == (created + timedelta(minutes=15)).timestamp()
    warning = due_events(platform_config, clocks, created + timedelta(minutes=12))
    assert warning[0].notify == ["team:national/national-duty"]
    breach = due_events(platform_config, clocks, created + timedelta(minutes=15))
    assert breach[0].notify == ["team:national/national-duty", "national_duty:national"]
    later = due_events(platform_config, clocks, created + timedelta(minutes=45))
    assert later[0].type == "escalated" and later[0].notify == ["national_duty:national"]


@settings(max_examples=100, deadline=None)
@given(
    into_grade=_GRADES,
    from_grade=_GRADES,
    into_at=st.integers(min_value=0, max_value=60 * 60),
    from_at=st.integers(min_value=0, max_value=60 * 60),
    merge_after=st.integers(min_value=0, max_value=60 * 60),
)
def test_a_p1_merged_in_at_any_moment_follows_the_same_rule(
    platform_config: PlatformConfig,
    into_grade: Priority,
    from_grade: Priority,
    into_at: int,
    from_at: int,
    merge_after: int,
) -> None:
    """The shared rule through the merge path: a P1 merged into a lower item makes it due
    15 minutes after the earlier first contact of the two, or at the merge if that has
    passed (breached then, once); a grade no higher changes no clock."""
    c_into, c_from = T0 + timedelta(seconds=into_at), T0 + timedelta(seconds=from_at)
    into = Desk(platform_config, c_into, into_grade, conversation="into")
    merged = Desk(platform_config, c_from, from_grade, conversation="from")
    at = max(c_into, c_from) + timedelta(seconds=merge_after)
    before = into.deadline("first_response")
    into.tick(at - timedelta(microseconds=1))  # warnings/breaches up to the merge
    running = into.clocks is not None and into.clocks.clocks["first_response"].state == "running"
    _, sla = _merge(platform_config, into, merged, at)
    if from_grade == Priority.P1 and into_grade != Priority.P1 and running:
        due = max(min(c_into, c_from) + timedelta(minutes=15), at)
        assert into.deadline("first_response") == due
        breached = [e for e in sla if e.type == "breached" and e.clock == "first_response"]
        assert len(breached) == (1 if at >= min(c_into, c_from) + timedelta(minutes=15) else 0)
    elif _rank(from_grade) >= _rank(into_grade):
        assert sla == [] and into.deadline("first_response") == before
    into.tick(at + timedelta(days=10))
    assert len([k for k in kinds(into.sla) if k == ("breached", "first_response")]) <= 1


def _rank(p: Priority) -> int:
    return int(p.value[1])
