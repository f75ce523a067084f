"""Console logic without the stack: OIDC token validation against a fake issuer (served
in-process through httpx's ASGI transport), claim mapping, reply templates in the
sandbox, platform limits, highlights and query scoping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from elasticsearch import AsyncElasticsearch

from socialdesk.config import load_config
from socialdesk.settings import ConsoleSettings, OutboundSettings
from socialdesk_console.auth import (
    SessionRules,
    Sessions,
    User,
    session_refusal,
)
from socialdesk_console.oidc import ClaimMapping, OidcClient, OidcError, load_mapping, map_claims
from socialdesk_console.queries import (
    decode_cursor,
    encode_cursor,
    highlight_segments,
    scope_filter,
    search_query,
    sort_by_due,
)
from socialdesk_console.replies import Catalogue, ReplyTooLong, TemplateProblem, check_length
from tests.browser.fakes import FakeIssuer
from tests.unit.inbox import inbox_query

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "config")
ISSUER = "http://issuer.test"


def client_for(issuer: FakeIssuer) -> OidcClient:
    issuer.issuer = ISSUER
    http = httpx.AsyncClient(transport=httpx.ASGITransport(app=issuer.app()), base_url=ISSUER)
    return OidcClient(
        ISSUER, issuer.client_id, None, "http://console.test/auth/callback", http=http
    )


@pytest.mark.parametrize(
    ("mode", "problem"),
    [
        ("tampered", "signature"),
        ("wrong_audience", "audience"),
        ("expired", "expired"),
        ("wrong_nonce", "nonce"),
    ],
)
async def test_bad_id_tokens_are_refused(mode: str, problem: str) -> None:
    issuer = FakeIssuer(mode=mode)
    oidc = client_for(issuer)
    with pytest.raises(OidcError, match=problem):
        await oidc.validate(issuer.id_token("n-1"), "n-1")


async def test_valid_id_token_maps_to_a_merseyside_operator() -> None:
    issuer = FakeIssuer()
    oidc = client_for(issuer)
    claims = await oidc.validate(issuer.id_token("n-1"), "n-1")
    who = map_claims(claims, load_mapping(ROOT / "config" / "oidc.yaml"), CONFIG)
    assert (who.username, who.force, who.role, tuple(who.teams)) == (
        "oidc.operator",
        "merseyside",
        "operator",
        ("digital-desk",),
    )
    url = await oidc.authorization_url("st", "no", "ch")
    assert "code_challenge_method=S256" in url and "nonce=no" in url


async def test_unsigned_and_symmetric_tokens_are_refused() -> None:
    import jwt

    issuer = FakeIssuer()
    oidc = client_for(issuer)
    none_token = jwt.encode({"sub": "x"}, key=None, algorithm="none")
    with pytest.raises(OidcError, match="algorithm"):
        await oidc.validate(none_token, "n")
    hs = jwt.encode({"sub": "x"}, key="k" * 32, algorithm="HS256")
    with pytest.raises(OidcError, match="algorithm"):
        await oidc.validate(hs, "n")


def test_claims_without_role_or_known_force_are_refused() -> None:
    mapping = ClaimMapping(roles={"ops": "operator", "nat": "national_viewer"})
    with pytest.raises(OidcError, match="role"):
        map_claims({"preferred_username": "a", "force": "merseyside"}, mapping, CONFIG)
    with pytest.raises(OidcError, match="force"):
        map_claims(
            {"preferred_username": "a", "roles": ["ops"], "force": "atlantis"}, mapping, CONFIG
        )
    nat = map_claims({"preferred_username": "n", "roles": "nat", "force": "kent"}, mapping, CONFIG)
    assert nat.force is None and nat.role == "national_viewer"
    duty_map = ClaimMapping(roles={"nat": "national_viewer", "duty": "national_duty"})
    duty = map_claims({"preferred_username": "d", "roles": ["nat", "duty"]}, duty_map, CONFIG)
    assert duty.force is None and duty.role == "national_duty"
    assert list(duty.teams) == ["national-duty"]


def test_session_cookies_refuse_tampering_and_another_secret() -> None:
    rules = SessionRules(idle_s=1800, absolute_s=3600)
    es = AsyncElasticsearch("http://127.0.0.1:9")
    s = Sessions("secret-" * 6, rules, es, "x")
    tok = s.serializer.dumps({"s": "sid", "u": "u"})
    assert s.unsign(tok) == ("sid", "u")
    assert s.unsign(tok[:-2] + "xx") is None
    assert Sessions("another-secret" * 3, rules, es, "x").unsign(tok) is None
    assert s.csrf_for("sid") != s.csrf_for("sid2")


def test_a_stored_session_ends_at_sign_out_idle_absolute_and_everywhere() -> None:
    rules = SessionRules(idle_s=1800, absolute_s=8 * 3600)
    doc = {"created": 1000.0, "seen": 1000.0}
    assert session_refusal(doc, None, 1000.0 + 1799, rules) is None
    assert session_refusal(doc, None, 1000.0 + 1801, rules) == "idle too long"
    busy = {"created": 1000.0, "seen": 1000.0 + 8 * 3600}
    assert session_refusal(busy, None, 1000.0 + 8 * 3600 + 1, rules) == "session too old"
    assert session_refusal(None, None, 1000.0, rules) == "signed out"
    assert session_refusal(doc, {"revoked_before": 1000.0}, 1001.0, rules) == (
        "signed out everywhere"
    )
    later = {"created": 1002.0, "seen": 1002.0}
    assert session_refusal(later, {"revoked_before": 1000.0}, 1003.0, rules) is None


def catalogue() -> Catalogue:
    return Catalogue.load(ROOT / "config" / "templates" / "replies")


def test_every_template_renders_in_english_and_welsh() -> None:
    cat = catalogue()
    force = CONFIG.forces["north-wales"]
    variables = {
        "author": "@gwen",
        "author_name": "Gwen",
        "force": force.name,
        "links": cat.links(force),
        "operator": "Op",
        "item_id": "itm_1",
        "platform": "x",
        "crime_reference": "NW-123",
    }
    ids = {e.id for e in cat.entries("north-wales")}
    for tid in ids:
        for lang in ("en", "cy"):
            text = cat.render("north-wales", tid, lang, variables)
            assert text and "{{" not in text
    welsh = cat.render("north-wales", "report-online", "cy", variables)
    assert "northwales.police.uk/ro/report" in welsh and "Helo @gwen" in welsh
    # Per-force override: North Wales's own Welsh wording.
    own = cat.render("north-wales", "passed-to-team", "cy", variables)
    assert "gysylltu â Heddlu Gogledd Cymru" in own
    assert "gysylltu â Heddlu" not in cat.render("gwent", "passed-to-team", "cy", variables)


def test_template_errors_are_problems_not_crashes() -> None:
    cat = catalogue()
    with pytest.raises(TemplateProblem, match="undefined"):
        cat.render_source("Hi {{ nobody }}", {})
    with pytest.raises(TemplateProblem):
        cat.render_source("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})
    with pytest.raises(TemplateProblem):
        cat.render_source("{% if %}", {})
    with pytest.raises(TemplateProblem, match="no template"):
        cat.render("merseyside", "no-such", "en", {})
    with pytest.raises(TemplateProblem, match="crime_reference"):
        cat.render(
            "merseyside",
            "crime-reference",
            "en",
            {"author": "a", "force": "f", "crime_reference": ""},
        )


def test_platform_limits() -> None:
    check_length("x", "a" * 280)
    with pytest.raises(ReplyTooLong, match="280"):
        check_length("x", "a" * 281)
    check_length("facebook", "a" * 5000)


def test_highlight_segments_and_cursor() -> None:
    segs = highlight_segments("a \ue000knife\ue001 <b> \ue000x\ue001")
    assert segs == [
        {"text": "a ", "hit": False},
        {"text": "knife", "hit": True},
        {"text": " <b> ", "hit": False},
        {"text": "x", "hit": True},
    ]
    assert decode_cursor(encode_cursor([1, 2, "x"])) == [1, 2, "x"]
    with pytest.raises(Exception, match="cursor"):
        decode_cursor("not-base64!!")


def user(force: str | None, role: str = "operator") -> User:
    return User("u", "U", force, role, ("digital-desk",), "csrf")


def test_every_query_is_scoped_to_the_users_force() -> None:
    op = user("merseyside")
    assert scope_filter(op) == [{"term": {"force": "merseyside"}}]
    assert scope_filter(user(None, "national_viewer")) == []
    assert scope_filter(user(None)) == [{"term": {"force": "__none__"}}]
    for q in (inbox_query(op, "mine", {"priority": "P1"}), search_query(op, "knife", {})):
        assert {"term": {"force": "merseyside"}} in q["bool"]["filter"]


def test_inbox_sorts_p1_first_then_by_sla_due() -> None:
    items: list[dict[str, Any]] = [
        {"id": "a", "priority_rank": 2, "sla_due": "2026-01-01T10:00:00+00:00"},
        {"id": "b", "priority_rank": 1, "sla_due": "2026-01-01T12:00:00+00:00"},
        {"id": "c", "priority_rank": 1, "sla_due": "2026-01-01T11:00:00+00:00"},
        {"id": "d", "priority_rank": 1, "sla_due": None},
    ]
    assert [i["id"] for i in sort_by_due(items)] == ["c", "b", "d", "a"]


def test_production_refuses_development_reply_and_oidc_settings() -> None:
    base: dict[str, Any] = {
        "environment": "production",
        "session_secret": "x" * 40,
        "cookie_secure": True,
    }
    assert OutboundSettings(**base).publisher_mode == "platforms"
    assert OutboundSettings().publisher_mode == "recorder"
    with pytest.raises(ValueError, match="recorder"):
        OutboundSettings(**base, reply_publisher="recorder")
    with pytest.raises(ValueError, match="https"):
        ConsoleSettings(**base, oidc_issuer="http://idp", oidc_client_id="c")
    with pytest.raises(ValueError, match="CLIENT_ID"):
        ConsoleSettings(oidc_issuer="https://idp")


def test_item_by_id_follows_the_same_scope_rule() -> None:
    from socialdesk_console.queries import inbox_request, visible

    doc = {"id": "itm_1", "force": "merseyside"}
    assert visible(user("merseyside"), doc)
    assert not visible(user("metropolitan"), doc)
    assert not visible(user(None), doc)
    assert visible(user(None, "national_viewer"), doc)
    req = inbox_request(user("merseyside"), "mine", {"priority": "P1"}, 50)
    assert {"term": {"force": "merseyside"}} in req["query"]["bool"]["filter"]
    assert req["post_filter"] == {"term": {"owner": "u"}}
    assert set(req["aggs"]["views"]["filters"]["filters"]) == {
        "mine",
        "team",
        "unassigned",
        "all_open",
    }


async def test_server_timing_counts_concurrent_calls_once() -> None:
    """`es` is wall time with a call in flight: two 50 ms calls at once are ~50 ms."""
    import asyncio

    from socialdesk_console.timing import CURRENT, RequestTiming, waiting_on

    timing = RequestTiming()
    CURRENT.set(timing)

    async def call(name: str, s: float) -> None:
        async with waiting_on(name):
            await asyncio.sleep(s)

    async with waiting_on():
        await asyncio.gather(call("es", 0.05), call("es", 0.05), call("audit", 0.02))
    await call("es", 0.03)
    assert timing.calls == {"backend": 1, "es": 3, "audit": 1}
    assert 75 <= timing.wall["es"] < 100, timing.wall  # 50 + 30, not 130
    header = timing.header()
    assert header is not None
    names = [p.strip().split(";")[0] for p in header.split(",")]
    assert names == ["backend", "es", "audit", "app", "total"]


def test_search_filters_keep_only_what_was_given() -> None:
    from socialdesk_console.deps import search_filters

    assert search_filters(priority="P1", flag="weapon", author="@a", date_to="") == {
        "priority": "P1",
        "flags": "weapon",
        "author": "@a",
    }


def test_item_page_side_requests_are_scoped() -> None:
    from socialdesk_console.queries import deliveries_request, history_ids, timeline_request

    user = User("op.m", "Op", "merseyside", "operator", ("digital-desk",), "c")
    item = {"id": "i1", "author_id": "a1", "force": "merseyside"}
    req = timeline_request(user, "i1")
    assert {"term": {"force": "merseyside"}} in req["query"]["bool"]["filter"]
    assert {"term": {"force": "merseyside"}} in deliveries_request(item)["query"]["bool"]["filter"]
    day = {"items": {"i2": {"at": "2026-12-01T10:00:00+00:00", "force": "kent"}}}
    assert history_ids(user, [day], "i1") == []  # another force's item is not asked for


# ---- the national duty queue ------------------------------------------------------------
def test_a_national_duty_officer_works_the_queue_of_no_force_only() -> None:
    from socialdesk_console.queries import NATIONAL_QUEUE, timeline_request, visible
    from socialdesk_console.routers.presence import presence_record

    duty = user(None, "national_duty")
    assert duty.can_act and duty.duty and not duty.national
    assert not user(None, "national_viewer").can_act
    assert scope_filter(duty) == [NATIONAL_QUEUE]
    assert inbox_query(duty, "all_open", {})["bool"]["filter"][0] == NATIONAL_QUEUE
    assert visible(duty, {"id": "i", "force": None})
    assert not visible(duty, {"id": "i", "force": "merseyside"})
    assert not visible(user("merseyside"), {"id": "i", "force": None})
    rec = presence_record(duty, "online")
    assert rec is not None and rec.value.force is None and rec.value.role == "national_duty"
    assert presence_record(user(None, "national_viewer"), "online") is None
    # After a transfer the item's earlier events (force None) stay in its timeline for
    # the force that now has it; an item the user may not see keeps the scoped query.
    moved = {"id": "i", "force": "merseyside"}
    req = timeline_request(user("merseyside"), "i", moved)
    assert req["query"] == {"bool": {"filter": [{"term": {"item_id": "i"}}]}}
    req = timeline_request(user("metropolitan"), "i", moved)
    assert {"term": {"force": "metropolitan"}} in req["query"]["bool"]["filter"]


def test_the_live_stream_of_a_duty_officer_carries_the_queue_and_its_alerts() -> None:
    from socialdesk.settings import BaseServiceSettings
    from socialdesk_console.outcomes import OutcomeWatcher

    w = OutcomeWatcher(BaseServiceSettings())
    duty = w.subscribe(None, False, duty=True)
    mersey = w.subscribe("merseyside", False)
    nobody = w.subscribe(None, False)
    routed = {
        "item_id": "i1",
        "type": "routed",
        "seq": 2,
        "data": {"queue": "national", "notify_duty_officers": ["u"], "notify_supervisors": []},
        "item": {"priority": "P1", "force": None, "team": "national-duty"},
    }
    w._publish(routed)
    got = duty.get_nowait()
    assert got["queue"] == "national" and got["notify"] == ["u"]
    assert mersey.empty() and nobody.empty()
    w._publish(
        {
            "item_id": "i2",
            "type": "public_replied",
            "seq": 3,
            "data": {"regraded_to": "P1"},
            "item": {"priority": "P1", "force": "merseyside"},
        }
    )
    assert mersey.get_nowait()["regraded_to"] == "P1" and duty.empty()


def test_duty_queue_rows_for_the_national_board() -> None:
    from datetime import UTC, datetime

    from socialdesk_console.board import duty_queue_rows

    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    items = [
        {"id": "a", "priority": "P1", "owner": None, "text": "help", "platform": "facebook"},
        {"id": "b", "priority": "P3", "owner": "duty.national", "text": "hi"},
    ]
    due = {"a:first_response": {"deadline": "2026-11-20T12:05:00+00:00"}}
    out = duty_queue_rows(items, due, now)
    assert out["open"] == 2 and out["unclaimed"] == 1
    assert out["by_grade"] == {"P1": 1, "P2": 0, "P3": 1, "P4": 0}
    assert out["items"][0]["time_left_s"] == 300 and out["items"][1]["first_response_due"] is None
