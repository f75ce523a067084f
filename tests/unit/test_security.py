"""Security rules that need no backend: hostile reply templates in the real worker
processes (the event loop stays free and every failure is a TemplateProblem), the
sign-in backoff policy, and ingest's answers (issue 23, item 5)."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from elasticsearch import AsyncElasticsearch
from fastapi.testclient import TestClient

from socialdesk.config import PlatformConfig, load_config
from socialdesk.settings import ConsoleSettings, IngestSettings
from socialdesk_console.app import create_app as create_console
from socialdesk_console.guards import ACCOUNT, GuardStore, locked_for, next_failure
from socialdesk_console.render_worker import TemplateRenderer
from socialdesk_console.replies import MAX_OUTPUT, TemplateProblem
from socialdesk_ingest.normalise import Accounts, normalise_meta, parse_json
from socialdesk_ingest.normalise_x import normalise_x_stream
from socialdesk_ingest.service import plan_ingest, plan_normalised, split_body
from socialdesk_ingest.views import create_app as create_ingest

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
    print(
        f"nested-loop preview: stopped after {took:.2f} s, event loop stall {stall * 1000:.1f} ms"
    )
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


# ---- ingest's answers ------------------------------------------------------------------
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = datetime(2025, 11, 24, 23, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def accounts(platform_config: PlatformConfig) -> Accounts:
    return Accounts.build(platform_config, ids_file=FIXTURES / "accounts.yaml")


def test_a_rejected_event_is_named_by_its_place_in_the_delivery(accounts: Accounts) -> None:
    payload = parse_json((FIXTURES / "meta/facebook_batch.json").read_bytes())
    n = len(payload["entry"][0]["messaging"])
    payload["entry"][0]["messaging"].append({"sender": {"id": "1"}, "surprise": True})
    payload["entry"][1]["messaging"][0]["message"].pop("mid")
    plan = plan_normalised(normalise_meta(payload, accounts, NOW), "meta")
    assert [r["event"] for r in plan.rejected] == [
        f"entry[0].messaging[{n}]",
        "entry[1].messaging[0]",
    ]


def test_a_malformed_pretty_printed_object_is_one_entry_and_jsonl_stays_lines() -> None:
    broken = b'{\n  "id": "x:1",\n  "text": "hello"\n  "platform": "x"\n}\n'
    assert len(split_body(broken)) == 1
    assert len(plan_ingest(split_body(broken), "t").rejected) == 1  # not one per line
    jsonl = b'{"id": 1}\n{"id": 2}\n{"id": 3}\n'
    assert len(split_body(jsonl)) == 3


def test_a_stream_line_without_entities_finds_the_force_in_its_text(
    accounts: Accounts,
) -> None:
    line = json.loads((FIXTURES / "x/stream_mention.json").read_text())
    del line["data"]["entities"]
    line["matching_rules"] = []
    out = normalise_x_stream(line, accounts, NOW)
    assert out.unknown == [] and out.mentions[0].force_account.handle == "MerseyPolice"
    line["data"]["text"] = "email@MerseyPolice.example is not a mention"
    assert normalise_x_stream(line, accounts, NOW).mentions == []


def test_an_empty_body_is_400_before_kafka(platform_config: PlatformConfig) -> None:
    settings = IngestSettings(
        environment="test",
        kafka_bootstrap="127.0.0.1:9",
        ingest_api_keys="tests:k1",
        ingest_kafka_timeout_s=1,
    )
    with TestClient(create_ingest(settings, platform_config)) as c:
        for body in (b"", b"\n  \n"):
            r = c.post("/v1/mentions", content=body, headers={"X-Api-Key": "k1"})
            assert r.status_code == 400 and "empty" in r.json()["error"]


# ---- a backend really down: 503, and readiness says so ------------------------------------
def test_console_with_its_backends_down_answers_503_and_is_not_ready() -> None:
    root = Path(__file__).resolve().parents[2]
    settings = ConsoleSettings(
        config_dir=root / "config",
        environment="test",
        kafka_bootstrap="127.0.0.1:9",
        elasticsearch_url="http://127.0.0.1:9",
    )
    es = AsyncElasticsearch("http://127.0.0.1:9", max_retries=0, request_timeout=2)
    app = create_console(settings, load_config(root / "config"), {}, es)
    cookie = app.state.sessions.serializer.dumps({"s": "some-session", "u": "op.merseyside"})

    async def run() -> tuple[httpx.Response, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://c") as c:
            ready = await c.get("/readyz")
            c.cookies.set("sd_session", cookie)
            me = await c.get("/api/me")
        await es.close()
        return ready, me

    ready, me = asyncio.run(run())
    assert ready.status_code == 503
    assert ready.json()["checks"] == {"elasticsearch": False, "kafka": False}
    assert me.status_code == 503 and "try again" in me.json()["error"]
    assert me.headers["x-frame-options"] == "DENY"


def test_a_cold_worker_start_is_not_charged_to_the_template() -> None:
    """A worker's start (a Python process importing Jinja2: seconds on a loaded machine)
    is not the template's time: the first preview after start-up renders, and a pool
    warmed at start-up answers at once."""

    async def run() -> tuple[str, str]:
        cold = TemplateRenderer(workers=1, timeout_s=0.05)
        warm = TemplateRenderer(workers=2, timeout_s=0.5)
        try:
            first = await cold.render("Hello {{ author }}", {"author": "@a"})
            await warm.warm()
            assert warm._idle is not None and warm._idle.qsize() == 2
            return first, await warm.render("Bore da {{ author }}", {"author": "@b"})
        finally:
            await cold.close()
            await warm.close()

    assert asyncio.run(run()) == ("Hello @a", "Bore da @b")
