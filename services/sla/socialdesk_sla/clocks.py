"""SLA clocks: arithmetic and per-item state. Plain Python, no Kafka.

Three clocks per item, like the 101 service levels: first response (from creation to the
first public reply by an operator; an internal note does not count), next response
(from each public message after an operator's reply to the next operator reply) and
resolution (from creation, or from a reopen, to resolution). P1/P2 clocks run 24/7;
P3/P4 count only the team calendar's working periods, in its time zone, skipping bank
holidays and closures, so a DST change never moves a deadline by an hour. Clocks pause
while the item waits on the public and resume, with the working time they had left,
when the public replies. Any change of grade (an operator's re-grade, a follow-up that
escalates, a merge) goes through one rule, `regrade`: every running clock is recomputed
from its start under the new grade, and a deadline already past becomes now (breached
and reported at once). State is kept in slotted dataclasses with epoch-second floats:
100,000 open items must fit in a few hundred megabytes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from socialdesk.config import Calendar, ForceConfig, PlatformConfig, Team, parse_hhmm
from socialdesk.events import ItemEvent, ItemEventType, SlaEvent
from socialdesk.taxonomy import Priority

CLOCKS = ("first_response", "next_response", "resolution")
ALWAYS = Calendar(always_open=True)
NO_HOLIDAYS: frozenset[date] = frozenset()
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# ---- calendar arithmetic ------------------------------------------------------------
def _closed_days(cal: Calendar, holidays: frozenset[date]) -> set[date]:
    closed = set(holidays) if cal.bank_holidays else set()
    for start, end in cal.closures:
        d, last = date.fromisoformat(start), date.fromisoformat(end)
        while d <= last:
            closed.add(d)
            d += timedelta(days=1)
    return closed


def _spans(
    day: date, cal: Calendar, closed: set[date], tz: ZoneInfo
) -> list[tuple[datetime, datetime]]:
    if day in closed:
        return []
    return [
        (datetime.combine(day, parse_hhmm(s), tz), datetime.combine(day, parse_hhmm(e), tz))
        for s, e in cal.periods.get(_DAYS[day.weekday()], [])
    ]


def add_working_time(
    start: datetime, minutes: float, cal: Calendar, holidays: frozenset[date] = NO_HOLIDAYS
) -> datetime:
    """The moment `minutes` of working time after `start` under the calendar."""
    if cal.always_open:
        # In UTC: aware datetimes sharing a zone add in wall-clock time, which would
        # gain or lose an hour across a DST change.
        if start.tzinfo is None:
            return start + timedelta(minutes=minutes)
        return (start.astimezone(UTC) + timedelta(minutes=minutes)).astimezone(start.tzinfo)
    tz = ZoneInfo(cal.timezone)
    closed = _closed_days(cal, holidays)
    local = start.astimezone(tz)
    remaining = timedelta(minutes=minutes)
    day = local.date()
    for _ in range(3660):
        for ps, pe in _spans(day, cal, closed, tz):
            begin = max(ps, local)
            if begin >= pe:
                continue
            if pe - begin >= remaining:
                return (begin + remaining).astimezone(start.tzinfo or UTC)
            remaining -= pe - begin
        day += timedelta(days=1)
    raise ValueError("calendar has no working time in ten years")


def working_minutes_between(
    a: datetime, b: datetime, cal: Calendar, holidays: frozenset[date] = NO_HOLIDAYS
) -> float:
    """Working minutes from a to b (negative if b is before a)."""
    if b < a:
        return -working_minutes_between(b, a, cal, holidays)
    if cal.always_open:
        return (b.timestamp() - a.timestamp()) / 60  # real elapsed time, whatever the zone
    tz = ZoneInfo(cal.timezone)
    closed = _closed_days(cal, holidays)
    la, lb = a.astimezone(tz), b.astimezone(tz)
    total = timedelta()
    day = la.date()
    while day <= lb.date():
        for ps, pe in _spans(day, cal, closed, tz):
            lo, hi = max(ps, la), min(pe, lb)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    return total.total_seconds() / 60


# ---- policy lookups -------------------------------------------------------------------
_TEAMS: dict[int, tuple[ForceConfig, dict[str, Team]]] = {}


def _teams_of(fc: ForceConfig) -> dict[str, Team]:
    """A force's teams by id (looked up for every clock started; config is read once)."""
    held = _TEAMS.get(id(fc))
    if held is None or held[0] is not fc:
        held = _TEAMS[id(fc)] = (fc, {})
        for t in fc.teams:
            held[1].setdefault(t.id, t)  # the first of a repeated id, as the scan found
    return held[1]


def target_minutes(
    config: PlatformConfig, force: str | None, team: str, priority: Priority, clock: str
) -> int | None:
    """National target, unless the force, then the team, overrides it."""
    minutes = getattr(config.national.sla.grades[priority], f"{clock}_minutes")
    fc = config.forces.get(force) if force else None
    if fc is not None:
        over = fc.sla_overrides.get(priority)
        if over is not None and getattr(over, f"{clock}_minutes") is not None:
            minutes = getattr(over, f"{clock}_minutes")
        t = _teams_of(fc).get(team)
        tover = t.sla_overrides.get(priority) if t else None
        if tover is not None and getattr(tover, f"{clock}_minutes") is not None:
            minutes = getattr(tover, f"{clock}_minutes")
    return int(minutes) if minutes is not None else None


def calendar_for(
    config: PlatformConfig, force: str | None, team: str, priority: Priority
) -> tuple[Calendar, frozenset[date]]:
    if config.national.sla.grades[priority].clock == "24x7":
        return ALWAYS, NO_HOLIDAYS
    fc = config.forces.get(force) if force else None
    if fc is None:
        return ALWAYS, NO_HOLIDAYS
    t = next((t for t in fc.teams if t.id == team), None)
    if t is None or t.calendar == "always":
        return ALWAYS, NO_HOLIDAYS
    cal = fc.calendars[t.calendar]
    return cal, config.holidays.get(cal.bank_holidays or "", NO_HOLIDAYS)


# ---- state ----------------------------------------------------------------------------
def _ts(d: datetime) -> float:
    return d.timestamp()


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(slots=True)
class Clock:
    name: str
    state: str  # running | paused | met | breached
    started: float
    deadline: float
    warn_at: float
    warned: bool = False
    escalations_done: int = 0
    paused_at: float | None = None
    remaining_min: float | None = None
    paused_total_s: float = 0.0


@dataclass(slots=True)
class ItemClocks:
    """sla's state for one item."""

    item_id: str
    force: str | None
    team: str
    priority: Priority
    created: float
    owner: str | None = None
    last_item_seq: int = 0
    seq: int = 0
    replied: bool = False
    clocks: dict[str, Clock] = field(default_factory=dict)

    def open(self) -> bool:
        return any(c.state in ("running", "paused") for c in self.clocks.values())

    def at_risk(self) -> bool:
        return any(c.state == "running" and c.warned for c in self.clocks.values())

    def to_json(self) -> bytes:
        d: dict[str, Any] = {
            "i": self.item_id,
            "f": self.force,
            "t": self.team,
            "p": self.priority.value,
            "c": self.created,
            "o": self.owner,
            "l": self.last_item_seq,
            "s": self.seq,
            "r": self.replied,
            "k": {
                n: [
                    c.state,
                    c.started,
                    c.deadline,
                    c.warn_at,
                    c.warned,
                    c.escalations_done,
                    c.paused_at,
                    c.remaining_min,
                    c.paused_total_s,
                ]
                for n, c in self.clocks.items()
            },
        }
        return json.dumps(d, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> ItemClocks:
        d = json.loads(raw)
        return cls(
            item_id=d["i"],
            force=d["f"],
            team=d["t"],
            priority=Priority(d["p"]),
            created=d["c"],
            owner=d["o"],
            last_item_seq=d["l"],
            seq=d["s"],
            replied=d["r"],
            clocks={n: Clock(n, *v) for n, v in d["k"].items()},
        )

    def copy(self) -> ItemClocks:
        return ItemClocks.from_json(self.to_json())


def next_due(config: PlatformConfig, st: ItemClocks) -> float | None:
    """The next moment something may happen to this item's clocks without an event."""
    dues = []
    later = [s for s in config.national.sla.escalation if s.stage == "breached" and s.after_minutes]
    for c in st.clocks.values():
        if c.state == "running":
            dues.append(c.deadline if c.warned else c.warn_at)
        elif c.state == "breached" and c.escalations_done < len(later):
            dues.append(c.deadline + later[c.escalations_done].after_minutes * 60)
    return min(dues) if dues else None


# ---- transitions ------------------------------------------------------------------------
def _notify(config: PlatformConfig, st: ItemClocks, stage: str, after: int = 0) -> list[str]:
    who: list[str] = []
    for step in config.national.sla.escalation:
        if step.stage != stage or step.after_minutes != after:
            continue
        for n in step.notify:
            if n == "team":
                who.append(f"team:{st.force or 'national'}/{st.team}")
            elif n == "owner" and st.owner:
                who.append(f"operator:{st.owner}")
            elif n in ("supervisor", "duty_inspector") and st.force is None:
                # The national duty queue has no supervisors or inspector of a force:
                # its duty officers are told instead.
                who.append(f"{config.national.duty_queue.role}:national")
            elif n == "supervisor":
                who.append(f"supervisors:{st.force}")
            elif n == "duty_inspector":
                who.append(f"duty_inspector:{st.force}")
    return list(dict.fromkeys(who))


def _emit(
    st: ItemClocks, type_: str, clock: Clock, now: float, notify: list[str] | None = None
) -> SlaEvent:
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
        started_at=_dt(clock.started),
        deadline=_dt(clock.deadline),
        time_left_s=round(clock.deadline - now, 3) if clock.state != "paused" else None,
        at=_dt(now),
        owner=st.owner,
        notify=notify or [],
    )


def start_clock(config: PlatformConfig, st: ItemClocks, name: str, start: float) -> Clock | None:
    minutes = target_minutes(config, st.force, st.team, st.priority, name)
    if minutes is None:
        return None
    cal, hol = calendar_for(config, st.force, st.team, st.priority)
    s = _dt(start)
    frac = config.national.sla.warning_for(name)
    return Clock(
        name=name,
        state="running",
        started=start,
        deadline=_ts(add_working_time(s, minutes, cal, hol)),
        warn_at=_ts(add_working_time(s, minutes * frac, cal, hol)),
    )


def _stop(st: ItemClocks, clock: Clock, now: float, out: list[SlaEvent]) -> None:
    if clock.state not in ("running", "paused"):
        return
    if now <= clock.deadline or clock.state == "paused":
        clock.state = "met"
        out.append(_emit(st, "met", clock, now))
    else:
        clock.state = "breached"  # late: the breach event came (or comes) from the scheduler
        out.append(_emit(st, "breached", clock, now, []))


def on_item_event(
    config: PlatformConfig, st: ItemClocks | None, ev: ItemEvent, now_dt: datetime
) -> tuple[ItemClocks | None, list[SlaEvent]]:
    """Update an item's clocks for one item event. Replayed or older events change
    nothing, so duplicates leave the clocks as if each event came once, in order."""
    item = ev.item
    if item is None or ev.type == ItemEventType.rejected:
        return st, []
    if st is not None and ev.seq <= st.last_item_seq:
        return st, []
    now = _ts(now_dt)
    out: list[SlaEvent] = []
    if st is None:
        st = ItemClocks(
            item_id=item.id,
            force=item.force,
            team=item.team,
            priority=item.priority,
            created=_ts(item.created_at),
            owner=item.owner,
        )
        for name in ("first_response", "resolution"):
            clock = start_clock(config, st, name, st.created)
            if clock is not None:
                st.clocks[name] = clock
                out.append(_emit(st, "started", clock, now))
    else:
        st = st.copy()
    st.last_item_seq = ev.seq
    st.force, st.team, st.owner = item.force, item.team, item.owner
    t = ev.type
    if t == ItemEventType.replied:
        st.replied = True
        for name in ("first_response", "next_response"):
            c = st.clocks.get(name)
            if c is not None:
                _stop(st, c, now, out)
    elif t == ItemEventType.awaiting_public:
        for c in st.clocks.values():
            if c.state == "running":
                cal, hol = calendar_for(config, st.force, st.team, st.priority)
                c.remaining_min = max(
                    0.0, working_minutes_between(now_dt, _dt(c.deadline), cal, hol)
                )
                c.state, c.paused_at = "paused", now
                out.append(_emit(st, "paused", c, now))
    elif t == ItemEventType.public_replied:  # only the public resumes a paused clock
        _resume_all(config, st, now, out)
        nr = st.clocks.get("next_response")
        if st.replied and (nr is None or nr.state not in ("running", "paused")):
            clock = start_clock(config, st, "next_response", now)
            if clock is not None:
                st.clocks["next_response"] = clock
                out.append(_emit(st, "started", clock, now))
    elif t in (ItemEventType.resolved, ItemEventType.merged):
        for c in st.clocks.values():
            _stop(st, c, now, out)
    elif t == ItemEventType.reopened or (t == ItemEventType.absorbed and ev.data.get("reopened")):
        clock = start_clock(config, st, "resolution", now)
        if clock is not None:
            st.clocks["resolution"] = clock
            out.append(_emit(st, "started", clock, now))
    since = ev.data.get("first_contact_at") if t == ItemEventType.absorbed else None
    if item.priority != st.priority or since is not None:
        # Every path that changes the grade (an operator's re-grade, a follow-up that
        # escalates, a merge) goes through the one rule.
        first_contact = _ts(datetime.fromisoformat(since)) if isinstance(since, str) else None
        regrade(config, st, item.priority, now, out, first_contact)
    return st, out


def regrade(
    config: PlatformConfig,
    st: ItemClocks,
    priority: Priority,
    now: float,
    out: list[SlaEvent],
    first_contact: float | None = None,
) -> None:
    """The one rule for a change of grade, whatever caused it: every running or paused
    clock is recomputed from its start under the new grade (the first-response and
    resolution clocks start at the item's first contact; `first_contact` moves that
    earlier, e.g. when an older report is merged in). A deadline that has already
    passed becomes `now`: the clock is breached at once and the breach is reported
    here, once (a clock already met or breached is left alone). So an item that
    becomes P1 at any moment is due 15 minutes after its first contact, or now."""
    if first_contact is not None and first_contact < st.created:
        for name in ("first_response", "resolution"):
            c = st.clocks.get(name)
            if c is not None and c.started == st.created and c.state in ("running", "paused"):
                c.started = first_contact
        st.created = first_contact
    st.priority = priority
    cal, hol = calendar_for(config, st.force, st.team, st.priority)
    for name, c in list(st.clocks.items()):
        if c.state not in ("running", "paused"):
            continue
        fresh = start_clock(config, st, name, c.started)
        if fresh is None:
            del st.clocks[name]
            continue
        fresh.deadline += c.paused_total_s
        fresh.warn_at += c.paused_total_s
        fresh.paused_total_s = c.paused_total_s
        if c.state == "paused":
            paused_at = c.paused_at if c.paused_at is not None else now
            fresh.state, fresh.paused_at = "paused", paused_at
            fresh.remaining_min = max(
                0.0, working_minutes_between(_dt(paused_at), _dt(fresh.deadline), cal, hol)
            )
            fresh.warned = c.warned or fresh.remaining_min == 0.0
            st.clocks[name] = fresh
            out.append(_emit(st, "recalculated", fresh, now))
            continue
        if fresh.deadline <= now:
            fresh.deadline = fresh.warn_at = now
            fresh.warned = True
            st.clocks[name] = fresh
            out.append(_emit(st, "recalculated", fresh, now))
            fresh.state = "breached"
            out.append(_emit(st, "breached", fresh, now, _notify(config, st, "breached")))
            continue
        fresh.warned = fresh.warn_at <= now and c.warned
        st.clocks[name] = fresh
        out.append(_emit(st, "recalculated", fresh, now))


def _resume_all(config: PlatformConfig, st: ItemClocks, now: float, out: list[SlaEvent]) -> None:
    cal, hol = calendar_for(config, st.force, st.team, st.priority)
    for c in st.clocks.values():
        if c.state != "paused":
            continue
        remaining = c.remaining_min or 0.0
        new_deadline = _ts(add_working_time(_dt(now), remaining, cal, hol))
        shift = new_deadline - c.deadline
        c.paused_total_s += shift
        c.deadline = new_deadline
        c.warn_at += shift
        c.state, c.paused_at, c.remaining_min = "running", None, None
        out.append(_emit(st, "resumed", c, now))


def due_events(config: PlatformConfig, st: ItemClocks, now_dt: datetime) -> list[SlaEvent]:
    """Warnings, breaches and later escalations whose time has come; never early.
    Mutates `st` (the caller passes a copy it will store)."""
    now = _ts(now_dt)
    out: list[SlaEvent] = []
    later = [s for s in config.national.sla.escalation if s.stage == "breached" and s.after_minutes]
    for c in st.clocks.values():
        if c.state == "running" and not c.warned and now >= c.warn_at:
            c.warned = True
            out.append(_emit(st, "warning", c, now, _notify(config, st, "warning")))
        if c.state == "running" and now >= c.deadline:
            c.state = "breached"
            out.append(_emit(st, "breached", c, now, _notify(config, st, "breached")))
        while c.state == "breached" and c.escalations_done < len(later):
            step = later[c.escalations_done]
            if now < c.deadline + step.after_minutes * 60:
                break
            c.escalations_done += 1
            out.append(
                _emit(st, "escalated", c, now, _notify(config, st, "breached", step.after_minutes))
            )
    return out
