"""SLA clock arithmetic and clock state: plain Python, no Kafka.

Targets come from the national policy table (overridden per force). P1/P2 clocks run
24/7; P3/P4 count only the team calendar's working periods, in the calendar's time zone,
so a DST change never shifts a deadline by an hour.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, Field

from socialdesk.config import Calendar, ForceConfig, PlatformConfig, parse_hhmm
from socialdesk.events import ItemEvent, SlaEvent
from socialdesk.taxonomy import Priority

ClockName = Literal["first_response", "next_response", "resolution"]
ALWAYS = Calendar(always_open=True)
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def add_working_time(start: datetime, minutes: float, cal: Calendar) -> datetime:
    """The moment `minutes` of working time after `start` under the calendar."""
    if cal.always_open:
        return start + timedelta(minutes=minutes)
    tz = ZoneInfo(cal.timezone)
    closures = {date.fromisoformat(d) for d, _ in cal.closures}
    local = start.astimezone(tz)
    remaining = timedelta(minutes=minutes)
    day = local.date()
    for _ in range(3660):  # ten years of days is a safe bound
        spans = [] if day in closures else cal.periods.get(_DAYS[day.weekday()], [])
        for s, e in spans:
            ps = datetime.combine(day, parse_hhmm(s), tz)
            pe = datetime.combine(day, parse_hhmm(e), tz)
            begin = max(ps, local)
            if begin >= pe:
                continue
            available = pe - begin
            if available >= remaining:
                return (begin + remaining).astimezone(start.tzinfo)
            remaining -= available
        day += timedelta(days=1)
    raise ValueError("calendar has no working time in ten years")


def target_minutes(
    config: PlatformConfig, force: str | None, priority: Priority, clock: ClockName
) -> int | None:
    """The national target for a grade and clock, unless the force overrides it."""
    row = config.national.sla.grades[priority]
    minutes = getattr(row, f"{clock}_minutes")
    fc: ForceConfig | None = config.forces.get(force) if force else None
    if fc is not None and priority in fc.sla_overrides:
        over = getattr(fc.sla_overrides[priority], f"{clock}_minutes")
        if over is not None:
            minutes = over
    return int(minutes) if minutes is not None else None


def team_calendar(config: PlatformConfig, force: str | None, team: str) -> Calendar:
    fc = config.forces.get(force) if force else None
    if fc is None:
        return ALWAYS
    for t in fc.teams:
        if t.id == team:
            return ALWAYS if t.calendar == "always" else fc.calendars[t.calendar]
    return ALWAYS


class Clock(BaseModel):
    name: ClockName
    state: Literal["running", "met", "breached", "stopped"] = "running"
    started_at: datetime
    deadline: datetime
    warn_at: datetime
    warned: bool = False


class ItemClocks(BaseModel):
    """sla's state for one item."""

    item_id: str
    force: str | None
    team: str
    priority: Priority
    created_at: datetime
    last_item_seq: int = 0
    seq: int = 0
    clocks: dict[str, Clock] = Field(default_factory=dict)

    def next_due(self) -> datetime | None:
        dues = [
            c.warn_at if not c.warned else c.deadline
            for c in self.clocks.values()
            if c.state == "running"
        ]
        return min(dues) if dues else None


def _sla_event(st: ItemClocks, type_: str, clock: Clock, now: datetime) -> SlaEvent:
    st.seq += 1
    return SlaEvent(
        event_id=f"{st.item_id}:sla:{st.seq}",
        item_id=st.item_id,
        seq=st.seq,
        type=type_,
        clock=clock.name,
        priority=st.priority,
        force=st.force,
        team=st.team,
        started_at=clock.started_at,
        deadline=clock.deadline,
        time_left_s=round((clock.deadline - now).total_seconds(), 3),
        at=now,
    )


def start_clock(
    config: PlatformConfig, st: ItemClocks, name: ClockName, start: datetime
) -> Clock | None:
    minutes = target_minutes(config, st.force, st.priority, name)
    if minutes is None:
        return None
    row = config.national.sla.grades[st.priority]
    cal = ALWAYS if row.clock == "24x7" else team_calendar(config, st.force, st.team)
    deadline = add_working_time(start, minutes, cal)
    warn = add_working_time(start, minutes * config.national.sla.warning_fraction, cal)
    return Clock(name=name, started_at=start, deadline=deadline, warn_at=warn)


def on_item_event(
    config: PlatformConfig, st: ItemClocks | None, ev: ItemEvent, now: datetime
) -> tuple[ItemClocks | None, list[SlaEvent]]:
    """Update an item's clocks for one item event; out-of-date events change nothing."""
    item = ev.item
    if item is None or ev.type == "rejected":
        return st, []
    if st is not None and ev.seq <= st.last_item_seq:
        return st, []  # duplicate or replayed event
    out: list[SlaEvent] = []
    if st is None:
        st = ItemClocks(
            item_id=item.id,
            force=item.force,
            team=item.team,
            priority=item.priority,
            created_at=item.created_at,
        )
        for name in ("first_response", "resolution"):
            clock = start_clock(config, st, name, item.created_at)
            if clock is not None:
                st.clocks[name] = clock
                out.append(_sla_event(st, "started", clock, now))
    st = st.model_copy(deep=True)
    st.last_item_seq = ev.seq
    st.force, st.team = item.force, item.team
    if ev.type == "replied":
        fr = st.clocks.get("first_response")
        if fr is not None and fr.state == "running":
            fr.state = "met" if now <= fr.deadline else "breached"
            if fr.state == "met":
                out.append(_sla_event(st, "met", fr, now))
    elif ev.type == "resolved":
        for clock in st.clocks.values():
            if clock.state == "running":
                clock.state = "met" if now <= clock.deadline else "breached"
                if clock.state == "met":
                    out.append(_sla_event(st, "met", clock, now))
    elif ev.type == "regraded" and item.priority != st.priority:
        st.priority = item.priority
        for name, clock in list(st.clocks.items()):
            if clock.state != "running":
                continue
            fresh = start_clock(config, st, clock.name, st.created_at)
            if fresh is not None:
                st.clocks[name] = fresh
                out.append(_sla_event(st, "recalculated", fresh, now))
    return st, out


def due_events(st: ItemClocks, now: datetime) -> list[SlaEvent]:
    """Warnings and breaches that have come due by `now`, never before."""
    out: list[SlaEvent] = []
    for clock in st.clocks.values():
        if clock.state != "running":
            continue
        if not clock.warned and now >= clock.warn_at:
            clock.warned = True
            out.append(_sla_event(st, "warning", clock, now))
        if now >= clock.deadline:
            clock.state = "breached"
            out.append(_sla_event(st, "breached", clock, now))
    return out
