"""The traffic simulator's shape: a night lull, a 10-100x incident within minutes, a
mix of rumours, appeals and emergencies in it, valid mentions, repeatable by seed."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from socialdesk.events import Mention
from socialdesk_tools.simulate import Profile, Simulator, in_incident, parse_duration, rate_at

DAY = Profile(rate=0.05, start=datetime(2026, 11, 20, tzinfo=UTC), incident_at_s=18 * 3600)


def test_night_lull_day_and_incident_burst() -> None:
    night, noon = rate_at(DAY, 3.5 * 3600), rate_at(DAY, 12 * 3600)
    assert night < noon / 5
    before = rate_at(DAY, 18 * 3600 - 1)
    assert rate_at(DAY, 18 * 3600 + 600) >= 10 * before  # within minutes
    calm = Profile(rate=DAY.rate, start=DAY.start, incident_at_s=None)
    assert rate_at(DAY, 22 * 3600) < 1.5 * rate_at(calm, 22 * 3600)  # decayed after the hour


def test_mentions_are_valid_varied_and_repeatable() -> None:
    one = list(Simulator(DAY, seed=7).mentions())
    two = list(Simulator(DAY, seed=7).mentions())
    assert [m["text"] for _, m in one] == [m["text"] for _, m in two]
    for _, m in one[:200]:
        Mention.model_validate(m)
    kinds = Counter(m["raw"]["kind"] for t, m in one if in_incident(DAY, t))
    assert {"rumour", "appeal", "emergency"} <= set(kinds)
    by_hour = Counter(int(t // 3600) for t, _ in one)
    assert by_hour[18] > 10 * by_hour[3]
    assert len({m["text"] for _, m in one}) > 100
    assert len({m["id"] for _, m in one}) == len(one)


def test_parse_duration() -> None:
    assert parse_duration("90m") == 5400 and parse_duration("2d") == 172800
    assert parse_duration("45") == 45
