"""Security rules that need no backend: hostile reply templates in the real worker
processes (the event loop stays free and every failure is a TemplateProblem), and the
sign-in backoff policy."""

from __future__ import annotations

import asyncio
import time

import pytest
from elasticsearch import AsyncElasticsearch

from socialdesk_console.guards import ACCOUNT, GuardStore, locked_for, next_failure
from socialdesk_console.render_worker import TemplateRenderer
from socialdesk_console.replies import MAX_OUTPUT, TemplateProblem

HOSTILE = {
    "{{ 1/0 }}": "division by zero",
    "{% for i in range(10**9) %}x{% endfor %}": "range",
    "{{ 'a' * 10**9 }}": "longer than",
    "{{ 2 ** 100000000 }}": "exponent",
    "{% for i in range(100000) %}{{ i }}{% endfor %}": "longer than",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}": "template error",
    "{% if %}": "template error",
    "Hi {{ nobody }}": "undefined",
    "{{ int('x') }}": "template error",
}


async def _loop_stalls_while(work: asyncio.Future[object]) -> float:
    """The longest gap between 10 ms ticks of the event loop while `work` runs."""
    worst, last = 0.0, time.perf_counter()
    while not work.done():
        await asyncio.sleep(0.01)
        now = time.perf_counter()
        worst, last = max(worst, now - last - 0.01), now
    return worst


def test_hostile_templates_are_template_problems_naming_the_fault() -> None:
    async def run() -> dict[str, str]:
        renderer = TemplateRenderer(workers=2)
        out: dict[str, str] = {}
        try:
            for source in HOSTILE:
                try:
                    await renderer.render(source, {"author": "@a"})
                    out[source] = "rendered"
                except TemplateProblem as exc:
                    out[source] = str(exc)
            # The workers are still usable afterwards.
            out["ok"] = await renderer.render("Hello {{ author }}", {"author": "@a"})
        finally:
            await renderer.close()
        return out

    got = asyncio.run(run())
    for source, why in HOSTILE.items():
        assert why in got[source], (source, got[source])
    assert got["ok"] == "Hello @a"
    assert str(MAX_OUTPUT) in got["{% for i in range(100000) %}{{ i }}{% endfor %}"]


def test_a_slow_template_is_stopped_and_never_holds_the_event_loop() -> None:
    nested = "{% for i in range(20000) %}{% for j in range(2000) %}{% endfor %}{% endfor %}"

    async def run() -> tuple[str, float, float, int]:
        renderer = TemplateRenderer(workers=1, timeout_s=1.0)
        try:
            await renderer.render("warm {{ 1 }}", {})  # the worker has started
            t0 = time.perf_counter()
            task = asyncio.ensure_future(renderer.render(nested, {}))
            stall = await _loop_stalls_while(task)
            try:
                await task
                why = "rendered"
            except TemplateProblem as exc:
                why = str(exc)
            took = time.perf_counter() - t0
            # The killed worker is replaced: the next render works.
            assert await renderer.render("again {{ 2 }}", {}) == "again 2"
            return why, stall, took, renderer.killed
        finally:
            await renderer.close()

    why, stall, took, killed = asyncio.run(run())
    assert "longer than 1 s" in why
    assert killed == 1
    assert took < 5  # stopped at its limit, not run to the end
    assert stall < 0.1, f"event loop held for {stall * 1000:.0f} ms"


def test_sign_in_backoff_locks_from_the_sixth_attempt_and_doubles() -> None:
    state = None
    now = 1_000_000.0
    for attempt in range(1, 6):
        assert locked_for(state, now) == 0, attempt  # attempts 1-5 are checked
        state = next_failure(state, now, ACCOUNT)
    assert locked_for(state, now) == 30  # the 6th waits
    now += 31
    state = next_failure(state, now, ACCOUNT)
    assert locked_for(state, now) == 60
    now += 61
    state = next_failure(state, now, ACCOUNT)
    assert locked_for(state, now) == 120
    for _ in range(20):  # each attempt as soon as the last lock ends
        now = state["locked_until"] + 1
        state = next_failure(state, now, ACCOUNT)
    assert locked_for(state, now) == ACCOUNT.max_s  # capped at 15 minutes
    # A quiet window forgets earlier failures.
    fresh = next_failure({"n": 3, "last_at": now, "locked_until": 0}, now + 901, ACCOUNT)
    assert fresh["n"] == 1 and locked_for(fresh, now + 901) == 0


def test_guard_keys_hold_no_username_or_address() -> None:
    store = GuardStore(AsyncElasticsearch("http://127.0.0.1:9"), "i", "s" * 32)
    key = store.key("account", "op.merseyside")
    assert "merseyside" not in key and key.startswith("account:")
    assert key != GuardStore(AsyncElasticsearch("http://127.0.0.1:9"), "i", "t" * 32).key(
        "account", "op.merseyside"
    )
    assert "127.0.0.1" not in store.key("address", "127.0.0.1")


@pytest.mark.parametrize("size", [MAX_OUTPUT - 10])
def test_a_long_but_legal_output_renders(size: int) -> None:
    async def run() -> str:
        renderer = TemplateRenderer(workers=1)
        try:
            return await renderer.render("{{ 'a' * n }}", {"n": size})
        finally:
            await renderer.close()

    assert len(asyncio.run(run())) == size
