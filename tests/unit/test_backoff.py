"""The shared retry delay grows, stops at its cap, jitters downwards only, and resets."""

import pytest

from socialdesk.backoff import Backoff, delay_for


def test_delays_double_up_to_the_cap_and_never_exceed_it() -> None:
    b = Backoff(0.2, 1.0, jitter=0.0)
    assert [round(b.delay(), 3) for _ in range(6)] == [0.2, 0.4, 0.8, 1.0, 1.0, 1.0]
    assert b.attempts == 6


def test_jitter_only_shortens_a_delay() -> None:
    b = Backoff(1.0, 1.0, jitter=0.5)
    seen = [b.delay() for _ in range(200)]
    assert all(0.5 <= d <= 1.0 for d in seen)
    assert len({round(d, 6) for d in seen}) > 100


def test_reset_starts_again_from_the_first_delay() -> None:
    b = Backoff(0.5, 10.0, jitter=0.0)
    for _ in range(5):
        b.delay()
    b.reset()
    assert b.delay() == 0.5 and b.attempts == 1


def test_nonsense_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        Backoff(0, 1)
    with pytest.raises(ValueError):
        Backoff(2, 1)


def test_counted_attempts_follow_the_same_curve() -> None:
    assert [delay_for(n, 0.5, 5) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
