"""SLA clocks as a supervisor sees them: deadlines under calendars, bank holidays and
DST; warnings and breaches never early; pauses, next-response clocks, re-grades,
reopens, escalation; and replayed or out-of-order events changing nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from socialdesk.config import Calendar, PlatformConfig, load_config
from socialdesk.events import Actor, Author, Item, ItemEvent, ItemMessage
from socialdesk.taxonomy import Channel, Intent, ItemStatus, Platform, Priority
from socialdesk.topics import schemas_dir
from socialdesk_sla.clocks import (
    ItemClocks,
    add_working_time,
    due_events,
    next_due,
    on_item_event,
    working_minutes_between,
)

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday, GMT
OFFICE = Calendar(
    timezone="Europe/London",
    bank_holidays="england-and-wales",
    periods={d: [("08:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")},
)
SPLIT = Calendar(
    timezone="Europe/London",
    periods={
        d: [("08:00", "12:00"), ("13:00", "17:00")] for d in ("mon", "tue", "wed", "thu", "fri")
    },
)
HOLS = frozenset({date(2026, 12, 25), date(2026, 12, 28)})


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    return load_config(schemas_dir().parent / "config")


class Item_:
    """Builds a stream of item events with increasing sequence numbers."""

    def __init__(self, priority: str = "P1", team: str = "digital-desk") -> None:
        self.seq = 0
        self.item = Item(
            id="itm_x",
            key="itm_x",
            force="merseyside",
            team=team,
            status=ItemStatus.new,
            priority=Priority(priority),
            intent=Intent.crime_report,
            platform=Platform.x,
            channel=Channel.public_mention,
            author=Author(id="a"),
            thread_key="t",
            messages=[ItemMessage(direction="inbound", author="a", text="x", at=T0)],
            created_at=T0,
            updated_at=T0,
            first_mention_at=T0,
            seq=1,
        )

    def ev(self, type_: str, **changes: object) -> ItemEvent:
        self.seq += 1
        self.item = self.item.model_copy(update={**changes, "seq": self.seq})
        return ItemEvent(
            event_id=f"e{self.seq}",
            item_id="itm_x",
            seq=self.seq,
            type=type_,  # type: ignore[arg-type]
            actor=Actor(kind="system", id="t"),
            at=T0,
            item=self.item,
        )


def run(config: PlatformConfig, steps: list[tuple[ItemEvent, datetime]]) -> tuple[ItemClocks, list]:  # type: ignore[type-arg]
    st_: ItemClocks | None = None
    out = []
    for ev, at in steps:
        st_, evs = on_item_event(config, st_, ev, at)
        out.extend(evs)
    assert st_ is not None
    return st_, out


# ---- arithmetic ----------------------------------------------------------------------
def test_worked_example_friday_afternoon() -> None:
    """A P3 at 16:30 on a Friday, Mon-Fri 08:00-18:00: due 16:30 the next working day."""
    friday = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)
    assert add_working_time(friday, 600, OFFICE) == datetime(2026, 11, 23, 16, 30, tzinfo=UTC)


def test_bank_holidays_are_skipped() -> None:
    eve = datetime(2026, 12, 24, 17, 0, tzinfo=UTC)  # Thu 17:00; Fri 25th and Mon 28th closed
    assert add_working_time(eve, 120, OFFICE, HOLS) == datetime(2026, 12, 29, 9, 0, tzinfo=UTC)


def test_several_periods_a_day_and_dst() -> None:
    mon = datetime(2026, 10, 26, 11, 0, tzinfo=UTC)  # Monday after the clocks went back: 11:00 GMT
    assert add_working_time(mon, 90, SPLIT) == datetime(2026, 10, 26, 13, 30, tzinfo=UTC)
    fri_bst = datetime(2026, 10, 23, 15, 0, tzinfo=UTC)  # Friday 16:00 BST
    assert add_working_time(fri_bst, 120, SPLIT) == datetime(2026, 10, 26, 9, 0, tzinfo=UTC)


@settings(max_examples=150, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 1), timezones=st.just(UTC)
    ),
    minutes=st.integers(min_value=0, max_value=20_000),
)
def test_business_time_properties(start: datetime, minutes: int) -> None:
    due = add_working_time(start, minutes, OFFICE, HOLS)
    assert due >= start
    assert abs(working_minutes_between(start, due, OFFICE, HOLS) - minutes) < 1e-6
    if minutes:
        local = due.astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
        assert local.weekday() < 5 and local.date() not in HOLS
        assert (8, 0) <= (local.hour, local.minute) <= (18, 0)
    assert add_working_time(start, minutes + 1, OFFICE, HOLS) > due


@settings(max_examples=100, deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 1), timezones=st.just(UTC)
    ),
    minutes=st.floats(min_value=0, max_value=100_000),
)
def test_always_open_is_plain_addition(start: datetime, minutes: float) -> None:
    assert add_working_time(start, minutes, Calendar(always_open=True)) == start + timedelta(
        minutes=minutes
    )


# ---- clocks --------------------------------------------------------------------------
def test_p1_starts_warns_breaches_and_escalates_never_early(config: PlatformConfig) -> None:
    it = Item_("P1")
    st_, evs = run(config, [(it.ev("created"), T0)])
    fr = next(e for e in evs if e.clock == "first_response")
    assert fr.type == "started" and fr.deadline == T0 + timedelta(minutes=15)
    assert next_due(config, st_) == (T0 + timedelta(minutes=11, seconds=15)).timestamp()
    assert due_events(config, st_, T0 + timedelta(minutes=11, seconds=14)) == []
    warn = due_events(config, st_, T0 + timedelta(minutes=11, seconds=15))
    assert [e.type for e in warn] == ["warning"]
    assert "team:merseyside/digital-desk" in warn[0].notify
    breach = due_events(config, st_, T0 + timedelta(minutes=15))
    assert [e.type for e in breach] == ["breached"] and breach[0].time_left_s == 0
    assert "supervisors:merseyside" in breach[0].notify
    assert due_events(config, st_, T0 + timedelta(minutes=44)) == []
    esc = due_events(config, st_, T0 + timedelta(minutes=45))
    assert [e.type for e in esc] == ["escalated"] and esc[0].notify == ["duty_inspector:merseyside"]
    assert due_events(config, st_, T0 + timedelta(minutes=46)) == []  # once


def test_a_note_does_not_stop_first_response_but_a_reply_does(config: PlatformConfig) -> None:
    it = Item_("P2")
    st_, evs = run(
        config,
        [
            (it.ev("created"), T0),
            (it.ev("noted"), T0 + timedelta(minutes=5)),
            (it.ev("replied"), T0 + timedelta(minutes=20)),
        ],
    )
    assert st_.clocks["first_response"].state == "met"
    assert [e.type for e in evs if e.clock == "first_response"] == ["started", "met"]


def test_pause_while_awaiting_public_and_next_response(config: PlatformConfig) -> None:
    it = Item_("P2")
    steps = [
        (it.ev("created"), T0),
        (it.ev("replied"), T0 + timedelta(minutes=10)),
        (it.ev("awaiting_public", status=ItemStatus.awaiting_public), T0 + timedelta(minutes=30)),
        (it.ev("public_replied"), T0 + timedelta(hours=5, minutes=30)),
    ]
    st_, evs = run(config, steps)
    res = st_.clocks["resolution"]
    # 30 minutes used before the pause; 5 hours paused do not count.
    assert res.state == "running" and res.deadline == (T0 + timedelta(hours=24 + 5)).timestamp()
    assert [e.type for e in evs if e.clock == "resolution"] == ["started", "paused", "resumed"]
    nr = st_.clocks["next_response"]
    assert (
        nr.state == "running" and nr.deadline == (T0 + timedelta(hours=6, minutes=30)).timestamp()
    )


def test_regrade_recomputes_from_creation(config: PlatformConfig) -> None:
    it = Item_("P3")
    st_, evs = run(
        config,
        [
            (it.ev("created"), T0),
            (it.ev("regraded", priority=Priority.P1), T0 + timedelta(minutes=5)),
        ],
    )
    assert st_.clocks["first_response"].deadline == (T0 + timedelta(minutes=15)).timestamp()
    assert {e.type for e in evs[-2:]} == {"recalculated"}


def test_reopen_starts_a_new_resolution_clock(config: PlatformConfig) -> None:
    it = Item_("P2")
    later = T0 + timedelta(days=2)
    st_, _ = run(
        config,
        [
            (it.ev("created"), T0),
            (it.ev("replied"), T0),
            (it.ev("resolved"), T0 + timedelta(hours=1)),
            (it.ev("reopened"), later),
        ],
    )
    res = st_.clocks["resolution"]
    assert res.state == "running" and res.started == later.timestamp()


def test_replayed_and_out_of_order_events_change_nothing(config: PlatformConfig) -> None:
    it = Item_("P2")
    created, replied = it.ev("created"), it.ev("replied")
    once, _ = run(config, [(created, T0), (replied, T0 + timedelta(minutes=3))])
    twice, _extra = run(
        config,
        [
            (created, T0),
            (replied, T0 + timedelta(minutes=3)),
            (created, T0 + timedelta(minutes=4)),
            (replied, T0 + timedelta(minutes=5)),
        ],
    )
    assert once.to_json() == twice.to_json()


def test_state_round_trips_compactly(config: PlatformConfig) -> None:
    it = Item_("P3")
    st_, _ = run(config, [(it.ev("created"), T0)])
    raw = st_.to_json()
    assert ItemClocks.from_json(raw) == st_ and len(raw) < 400


def test_recovered_past_deadline_is_breached_once(config: PlatformConfig) -> None:
    it = Item_("P1")
    st_, _ = run(config, [(it.ev("created"), T0)])
    restored = ItemClocks.from_json(st_.to_json())
    late = due_events(config, restored, T0 + timedelta(hours=1))
    assert [e.type for e in late if e.clock == "first_response"] == [
        "warning",
        "breached",
        "escalated",
    ]
    again = ItemClocks.from_json(restored.to_json())
    assert [
        e
        for e in due_events(config, again, T0 + timedelta(hours=1, minutes=1))
        if e.clock == "first_response"
    ] == []


def test_bad_policy_refuses_start_up(tmp_path: Path) -> None:
    import shutil

    from socialdesk.config import ConfigError

    cfg = tmp_path / "config"
    shutil.copytree(schemas_dir().parent / "config", cfg)
    policy = cfg / "national" / "policy.yaml"
    policy.write_text(
        policy.read_text().replace(
            "    P4: {first_response_minutes: 4320, clock: business_hours}\n", ""
        )
    )
    with pytest.raises(ConfigError, match="grades: missing P4"):
        load_config(cfg)
    policy.write_text((schemas_dir().parent / "config/national/policy.yaml").read_text())
    force = cfg / "forces" / "kent.yaml"
    doc = yaml.safe_load(force.read_text())
    doc["calendars"]["office"]["periods"]["mon"] = [["08:00", "13:00"], ["12:00", "18:00"]]
    force.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert "kent.yaml" in str(exc.value) and "calendars.office.periods" in str(exc.value)
    assert "overlap" in str(exc.value)
    doc["calendars"]["office"]["periods"]["mon"] = [["08:00", "18:00"]]
    doc["calendars"]["office"]["timezone"] = "Mars/Olympus"
    force.write_text(yaml.safe_dump(doc))
    with pytest.raises(ConfigError, match="unknown time zone 'Mars/Olympus'"):
        load_config(cfg)
