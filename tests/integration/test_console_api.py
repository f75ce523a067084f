"""The console against the real local stack (noida-db, every service a subprocess, a
fake OIDC issuer and a fake X API): force isolation on every route, OIDC sign-in,
bad input, actions and their outcomes, replies from templates with delivery retries,
search, audit and the live stream."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from elasticsearch import AsyncElasticsearch
from fastapi.routing import APIRoute
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from starlette.routing import Mount

from socialdesk.config import load_config
from socialdesk.settings import DEV_SECRET, ConsoleSettings
from socialdesk_console.app import create_app
from socialdesk_tools.stack import wait_for
from tests.browser.stack import ConsolePlatform, console_platform, mention

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SCRIPT = "<script>alert('pwned')</script>"
PUBLIC = {
    "/login",
    "/accessibility",  # the accessibility statement, readable before signing in
    "/login/oidc",
    "/auth/callback",
    "/healthz",
    "/readyz",
    "/metrics",
    "/openapi.json",
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("console"))) as p:
        yield p


@pytest.fixture(scope="module")
def items(platform: ConsolePlatform) -> dict[str, dict[str, Any]]:
    """Merseyside items (one with a script in its text, two by one author) and a Met one."""
    r = platform.post_mentions(
        [
            mention("5001", f"man with a knife outside the chippy on Lark Lane right now {SCRIPT}"),
            mention(
                "5002",
                "someone smashed my car window on Smithdown Road last night",
                author="repeat",
            ),
            mention(
                "5003", "lost my purse on the 86 bus to town, anyone handed it in", author="repeat"
            ),
            mention("5004", "bikes tearing round Sefton Park again every night", author="other"),
            mention("5005", "thanks to the officers who helped my nan today", author="welshy"),
            mention(
                "5101", "someone stole my bike outside Brixton tube station", handle="metpoliceuk"
            ),
        ]
    )
    assert r.status_code == 200 and r.json()["accepted"] == 6, r.text
    return {
        n: platform.wait_item(f"x:{n}") for n in ("5001", "5002", "5003", "5004", "5005", "5101")
    }


def anon(p: ConsolePlatform) -> httpx.Client:
    return httpx.Client(base_url=p.console, timeout=30)


def seq_of(p: ConsolePlatform, item_id: str) -> int:
    docs = p.search("items", {"term": {"id": item_id}})
    return int(docs[0]["seq"])


# ---- force isolation on every route ------------------------------------------------
def app_routes() -> list[tuple[str, str]]:
    settings = ConsoleSettings(config_dir=ROOT / "config", environment="test")
    app = create_app(
        settings, load_config(ROOT / "config"), {}, AsyncElasticsearch("http://127.0.0.1:9")
    )
    out = []
    routes = list(app.routes)
    while routes:
        r = routes.pop(0)
        if hasattr(r, "original_router"):  # FastAPI's lazily included router
            routes.extend(r.original_router.routes)
        elif isinstance(r, APIRoute):
            out.extend((m, r.path) for m in sorted(r.methods))
        elif isinstance(r, Mount):
            out.append(("GET", r.path + "/app.css"))
        else:
            out.extend((m, r.path) for m in sorted(getattr(r, "methods", None) or {"GET"}))
    return out


BODY = {
    "type": "claim",
    "payload": {},
    "text": "hello",
    "status": "online",
    "template_id": "thanks",
}


def test_every_route_refuses_another_force_and_nobody(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    target = items["5001"]
    routes = app_routes()
    assert len(routes) > 20
    met = platform.login("op.metropolitan")
    nobody = anon(platform)
    for method, path in routes:
        url = path.replace("{item_id}", target["id"])
        if path == "/api/stream":
            url += f"?item={target['id']}"  # an SSE stream would never end: ask for the item
        if path.startswith("/static"):
            continue  # static assets: CSS and JS, no data
        r = nobody.request(method, url, json=BODY)
        if path in PUBLIC or path == "/":
            assert target["id"] not in r.text
        else:
            ok = r.status_code in (401, 403) or (
                r.status_code == 303 and r.headers["location"] == "/login"
            )
            assert ok, (method, path, r.status_code, r.text[:200])
        if path == "/logout":
            continue  # would sign the Met user out
        r = met.request(method, url, json=BODY)
        if "{item_id}" in path or path == "/api/stream":
            assert r.status_code in (403, 404), (method, path, r.status_code)
        assert target["id"] not in r.text, (method, path)
        assert "chippy on Lark Lane" not in r.text, (method, path)
    # The item is untouched by all of that.
    assert seq_of(platform, target["id"]) == target["seq"]


def test_national_viewer_reads_every_force_and_changes_nothing(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    nat = platform.login("national.viewer")
    forces = {i["force"] for i in nat.get("/api/items", params={"size": 500}).json()["items"]}
    assert {"merseyside", "metropolitan"} <= forces
    r = nat.post(f"/api/items/{items['5004']['id']}/commands", json={"type": "claim"})
    assert r.status_code == 403 and "national_viewer" in r.json()["error"]
    assert nat.get("/api/audit").status_code == 403


# ---- OIDC ----------------------------------------------------------------------------
def oidc_login(p: ConsolePlatform, mode: str) -> tuple[httpx.Client, httpx.Response]:
    p.issuer.mode = mode
    c = anon(p)
    start = c.get("/login/oidc")
    assert start.status_code == 303 and start.headers["location"].startswith(p.issuer.issuer)
    at_idp = c.get(start.headers["location"])
    assert at_idp.status_code == 302
    back = at_idp.headers["location"]
    assert back.startswith(p.console + "/auth/callback?")
    return c, c.get(back)


def test_oidc_sign_in_valid_token(platform: ConsolePlatform) -> None:
    c, done = oidc_login(platform, "valid")
    assert done.status_code == 303 and done.headers["location"] == "/inbox"
    me = c.get("/api/me").json()
    assert (me["username"], me["force"], me["role"], me["auth"]) == (
        "oidc.operator",
        "merseyside",
        "operator",
        "oidc",
    )
    assert "HttpOnly" in done.headers["set-cookie"]


@pytest.mark.parametrize(
    ("mode", "why"),
    [("tampered", "signature"), ("wrong_audience", "audience"), ("expired", "expired")],
)
def test_oidc_refuses_bad_tokens(platform: ConsolePlatform, mode: str, why: str) -> None:
    c, done = oidc_login(platform, mode)
    assert done.status_code == 401 and why in done.text
    assert c.get("/api/me").status_code == 401


def test_oidc_callback_with_forged_state_is_refused(platform: ConsolePlatform) -> None:
    platform.issuer.mode = "valid"
    c = anon(platform)
    start = c.get("/login/oidc")
    back = c.get(start.headers["location"]).headers["location"]
    forged = back.split("state=")[0] + "state=forged"
    assert c.get(forged).status_code == 401
    assert c.get("/api/me").status_code == 401


# ---- bad input -----------------------------------------------------------------------
def test_csrf_missing_or_forged_changes_nothing(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    op = platform.login("op.merseyside")
    iid = items["5004"]["id"]
    before = seq_of(platform, iid)
    for headers in ({"X-CSRF-Token": ""}, {"X-CSRF-Token": "forged"}):
        r = op.post(f"/api/items/{iid}/commands", json={"type": "claim"}, headers=headers)
        assert r.status_code == 403 and "CSRF" in r.json()["error"]
    del op.headers["X-CSRF-Token"]
    assert op.post(f"/api/items/{iid}/commands", json={"type": "claim"}).status_code == 403
    assert op.post("/api/presence", json={"status": "busy"}).status_code == 403
    assert op.post("/logout", data={"csrf": "forged"}).status_code == 403
    assert op.get("/api/me").status_code == 200  # still signed in
    login_page = anon(platform)
    login_page.get("/login")
    r = login_page.post(
        "/login", data={"username": "op.merseyside", "password": "demo-password", "csrf": "x"}
    )
    assert r.status_code == 403
    assert seq_of(platform, iid) == before


def test_expired_forged_and_tampered_sessions_are_refused(platform: ConsolePlatform) -> None:
    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 9 * 3600

    good = platform.login("op.merseyside").cookies["sd_session"]
    salt = "socialdesk-session-id"
    sid = URLSafeTimedSerializer(DEV_SECRET, salt=salt).loads(good)
    c = anon(platform)
    c.cookies.set("sd_session", good)
    assert c.get("/api/me").status_code == 200
    for cookie in (
        URLSafeTimedSerializer(DEV_SECRET, salt=salt, signer=LongAgo).dumps(sid),  # too old
        good[:-4] + "AAAA",  # tampered
        URLSafeTimedSerializer("another-secret", salt=salt).dumps(sid),
        # Signed with the real secret but naming no server-side session: a forged id.
        URLSafeTimedSerializer(DEV_SECRET, salt=salt).dumps({"s": "made-up", "u": sid["u"]}),
        # The old stateless format, even with a valid signature, signs nobody in.
        URLSafeTimedSerializer(DEV_SECRET, salt="socialdesk-session").dumps(
            {"u": "op.merseyside", "n": "x", "f": "merseyside", "r": "force_admin", "t": []}
        ),
    ):
        c = anon(platform)
        c.cookies.set("sd_session", cookie)
        r = c.get("/api/me")
        assert r.status_code == 401 and "sign in again" in r.json()["error"]
        page = c.get("/inbox")
        assert page.status_code == 303 and page.headers["location"] == "/login"


def test_script_in_a_mention_is_escaped_and_csp_forbids_inline(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    op = platform.login("op.merseyside")
    for path in ("/inbox", f"/items/{items['5001']['id']}", "/search?q=chippy"):
        r = op.get(path)
        assert r.status_code == 200, path
        assert SCRIPT not in r.text, path
        assert "&lt;script&gt;" in r.text, path
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["x-frame-options"] == "DENY"
        if path != "/search?q=chippy":
            assert "app;dur=" in r.headers["server-timing"]


def test_other_forces_item_and_unknown_item_look_the_same(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    met = platform.login("op.metropolitan")
    mine, theirs = items["5101"]["id"], items["5002"]["id"]
    assert met.get(f"/api/items/{mine}").status_code == 200
    for iid in (theirs, "itm_doesnotexist"):
        r = met.get(f"/api/items/{iid}")
        assert r.status_code == 404 and r.json() == {"error": "no such item"}
        assert met.post(f"/api/items/{iid}/commands", json={"type": "claim"}).status_code == 404


def test_too_long_reply_and_template_errors_are_4xx_and_send_nothing(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    op = platform.login("op.merseyside")
    iid = items["5003"]["id"]
    before, calls = seq_of(platform, iid), len(platform.x_api.calls)
    r = op.post(f"/api/items/{iid}/reply", json={"text": "a" * 281})
    assert r.status_code == 422 and "280" in r.json()["error"] and r.json()["limit"] == 280
    r = op.post(
        f"/api/items/{iid}/commands", json={"type": "reply", "payload": {"text": "b" * 300}}
    )
    assert r.status_code == 422
    r = op.post(
        f"/api/items/{iid}/replies/preview", json={"source": "Hi {{ author.__class__.__mro__ }}"}
    )
    assert r.status_code == 422 and "error" in r.json()
    r = op.post(f"/api/items/{iid}/replies/preview", json={"source": "Hi {{ nobody }}"})
    assert r.status_code == 422 and "undefined" in r.json()["error"]
    r = op.post(f"/api/items/{iid}/replies/preview", json={"template_id": "nope", "language": "en"})
    assert r.status_code == 422
    r = op.post(
        f"/api/items/{iid}/replies/preview",
        json={"template_id": "crime-reference", "language": "en"},
    )
    assert r.status_code == 422  # the operator must give the reference first
    r = op.post(
        f"/api/items/{iid}/commands", json={"type": "regrade", "payload": {"priority": "P9"}}
    )
    assert r.status_code == 422
    time.sleep(1)
    assert seq_of(platform, iid) == before and len(platform.x_api.calls) == calls


# ---- the workspace: actions, replies, outcomes -----------------------------------------
def test_actions_show_their_outcome_within_a_second(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    op, sup = platform.login("op.merseyside"), platform.login("sup.merseyside")
    iid = items["5002"]["id"]
    url = f"/api/items/{iid}/commands"

    def act(client: httpx.Client, type_: str, **payload: Any) -> httpx.Response:
        t0 = time.perf_counter()
        r = client.post(url, json={"type": type_, "payload": payload})
        assert time.perf_counter() - t0 < 1.0, (type_, time.perf_counter() - t0)
        return r

    assert act(op, "claim").json()["event"]["type"] == "claimed"
    clash = act(sup, "claim")
    assert clash.status_code == 409 and "already claimed by op.merseyside" in clash.json()["reason"]
    assert act(op, "note", text="rang the caller back").json()["event"]["type"] == "noted"
    assert (
        act(op, "regrade", priority="P2", reason="suspect seen").json()["event"]["type"]
        == "regraded"
    )
    assert act(op, "recategorise", intent="crime_report", flags=["weapon"]).status_code == 200
    assert act(op, "await_public").json()["event"]["item"]["status"] == "awaiting_public"
    no_ref = act(op, "resolve", outcome="crime_recorded")
    assert no_ref.status_code == 409 and "crime_reference" in no_ref.json()["reason"]
    done = act(op, "resolve", outcome="crime_recorded", crime_reference="MP/2026/123")
    assert done.json()["event"]["item"]["status"] == "resolved"
    assert act(op, "reopen").json()["event"]["type"] == "reopened"
    assert act(op, "assign", operator="sup.merseyside").status_code == 403  # supervisors only

    # The timeline shows who did what, rejections included.
    def timeline() -> list[str]:
        return [e["type"] for e in op.get(f"/api/items/{iid}/timeline").json()["events"]]

    wait_for(lambda: "reopened" in timeline(), 30, "timeline indexed")
    t = timeline()
    assert t[0] == "created" and "rejected" in t and t.index("claimed") < t.index("resolved")
    history = op.get(f"/api/items/{iid}/history").json()["items"]
    assert [h["id"] for h in history] == [items["5003"]["id"]]


def test_transfer_hands_the_item_to_the_other_force(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    op, met = platform.login("op.merseyside"), platform.login("op.metropolitan")
    iid = items["5005"]["id"]
    r = op.post(
        f"/api/items/{iid}/commands",
        json={"type": "transfer", "payload": {"force": "metropolitan"}},
    )
    assert r.status_code == 200 and r.json()["event"]["item"]["force"] == "metropolitan"
    wait_for(lambda: met.get(f"/api/items/{iid}").status_code == 200, 30, "indexed for the Met")
    assert op.get(f"/api/items/{iid}").status_code == 404


def test_reply_from_a_template_is_delivered_after_retries(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    op = platform.login("op.merseyside")
    iid = items["5004"]["id"]
    templates = op.get(f"/api/items/{iid}/templates").json()
    assert {("report-online", "cy"), ("report-online", "en")} <= {
        (t["id"], t["language"]) for t in templates["templates"]
    }
    pv = op.post(
        f"/api/items/{iid}/replies/preview", json={"template_id": "report-online", "language": "en"}
    )
    assert pv.status_code == 200 and "merseyside.police.uk/ro/report" in pv.json()["text"]
    text = pv.json()["text"] + " (edited)"
    platform.x_api.fail_first = 2
    calls = len(platform.x_api.calls)
    r = op.post(
        f"/api/items/{iid}/reply",
        json={"text": text, "template_id": "report-online", "language": "en"},
    )
    assert r.status_code == 200 and r.json()["event"]["type"] == "replied"

    def deliveries() -> list[str]:
        return [d["action"] for d in op.get(f"/api/items/{iid}/timeline").json()["deliveries"]]

    wait_for(lambda: "reply.delivered" in deliveries(), 60, "delivered")
    assert deliveries().count("reply.send_failed") == 2
    sent = platform.x_api.calls[calls:]
    assert len(sent) == 3 and all(c["body"]["text"] == text for c in sent)
    assert sent[-1]["body"]["reply"] == {"in_reply_to_tweet_id": "5004"}


# ---- inbox, search, audit, stream --------------------------------------------------------
def test_inbox_views_counters_and_order(platform: ConsolePlatform, items: dict[str, Any]) -> None:
    op = platform.login("op.merseyside")
    data = op.get("/api/items").json()
    assert data["items"][0]["priority"] == "P1"
    ranks = [i["priority_rank"] for i in data["items"]]
    assert ranks == sorted(ranks)
    counts = data["counts"]
    assert counts["all_open"] == data["total"] >= 1
    assert counts["unassigned"] <= counts["all_open"]
    mine = op.get("/api/items", params={"view": "mine"}).json()
    assert mine["total"] == counts["mine"]
    p1 = op.get("/api/items", params={"priority": "P1"}).json()
    assert all(i["priority"] == "P1" for i in p1["items"])
    assert op.get("/api/items", params={"view": "bogus"}).status_code == 400


def test_search_highlights_filters_and_pages(
    platform: ConsolePlatform, items: dict[str, Any]
) -> None:
    op, met = platform.login("op.merseyside"), platform.login("op.metropolitan")
    r = op.get("/api/search", params={"q": "chippy"}).json()
    assert r["total"] == 1
    segs = r["hits"][0]["highlight"][0]
    assert {"text": "chippy", "hit": True} in segs
    assert met.get("/api/search", params={"q": "chippy"}).json()["total"] == 0
    by_author = op.get("/api/search", params={"author": "repeat", "size": 1}).json()
    assert by_author["total"] == 2 and by_author["next"]
    page2 = op.get(
        "/api/search", params={"author": "repeat", "size": 1, "after": by_author["next"]}
    ).json()
    assert page2["hits"][0]["item"]["id"] != by_author["hits"][0]["item"]["id"]
    assert (
        op.get(
            "/api/search",
            params={"q": "chippy", "date_from": "2000-01-01", "date_to": "2000-01-02"},
        ).json()["total"]
        == 0
    )
    csv_text = op.get("/api/search/export", params={"q": "chippy"}).text
    assert items["5001"]["id"] in csv_text
    assert op.get("/api/search", params={"after": "%%%"}).status_code == 400


def test_audit_trail_for_force_admins(platform: ConsolePlatform, items: dict[str, Any]) -> None:
    op = platform.login("op.merseyside")
    iid = items["5001"]["id"]
    op.get(f"/items/{iid}")
    op.get("/api/search", params={"q": "purse"})
    op.get("/api/search/export", params={"q": "purse"})
    assert op.get("/api/audit").status_code == 403
    assert op.get("/audit").status_code == 403
    admin = platform.login("admin.merseyside")

    def actions() -> set[str]:
        recs = admin.get("/api/audit", params={"actor_id": "op.merseyside", "size": 500}).json()[
            "records"
        ]
        return {r["action"] for r in recs if r["target_id"] in (iid, None)}

    wait_for(
        lambda: {"item.opened", "items.searched", "items.exported"} <= actions(),
        30,
        "audit indexed",
    )
    rec = admin.get("/api/audit", params={"target_id": iid, "action": "item.opened"}).json()[
        "records"
    ][0]
    assert rec["source_ip"] == "127.0.0.1" and rec["force"] == "merseyside" and rec["at"]
    assert admin.get("/audit").status_code == 200
    met_admin_view = platform.login("op.metropolitan").get("/api/audit")
    assert met_admin_view.status_code == 403


def test_live_stream_carries_a_new_p1(platform: ConsolePlatform, items: dict[str, Any]) -> None:
    op = platform.login("op.merseyside")
    got: list[dict[str, Any]] = []
    with op.stream("GET", "/api/stream", timeout=30) as resp:
        assert resp.status_code == 200
        platform.post_mentions(
            [mention("5201", "he's got a knife and is stabbing people on Bold Street now")]
        )
        deadline = time.monotonic() + 30
        event = None
        for line in resp.iter_lines():
            if line.startswith("event: "):
                event = line[7:]
            if line.startswith("data: ") and event == "item":
                got.append(json.loads(line[6:]))
                if any(g["type"] == "created" and g["priority"] == "P1" for g in got):
                    break
            if time.monotonic() > deadline:
                break
    assert any(g["type"] == "created" and g["priority"] == "P1" for g in got)


def test_openapi_describes_the_api(platform: ConsolePlatform) -> None:
    spec = anon(platform).get("/openapi.json").json()
    for path in (
        "/api/items",
        "/api/items/{item_id}/commands",
        "/api/items/{item_id}/reply",
        "/api/search",
        "/api/audit",
    ):
        assert path in spec["paths"], path
