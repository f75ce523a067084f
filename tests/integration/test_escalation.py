"""Issue 19 on the local stack (noida-db, every service a subprocess, as `make run` starts
them: no account ids in ingest's settings):

- Facebook and Instagram webhook deliveries reach the force whose Page or Instagram
  account they name; one from a page no force lists goes to the national duty queue,
  alerts its duty officer, is shown on the national board, and is claimed and
  transferred to a force with its history kept.
- A follow-up message that makes an item P1 moves its first-response deadline to 15
  minutes after first contact."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from socialdesk.settings import DEV_SECRET
from socialdesk_ingest.signatures import meta_signature
from socialdesk_tools.stack import wait_for
from tests.browser.stack import ConsolePlatform, console_platform, mention

pytestmark = pytest.mark.integration
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "meta"
UNLISTED_PAGE = "104899999999999"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("escalation"))) as p:
        yield p


def post_meta(p: ConsolePlatform, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    headers = {
        "X-Hub-Signature-256": meta_signature(DEV_SECRET, body),
        "Content-Type": "application/json",
    }
    r = httpx.post(p.ingest + "/webhooks/meta", content=body, headers=headers, timeout=30)
    assert r.status_code == 200, r.text
    return r


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return data


def sla_clock(p: ConsolePlatform, item_id: str, clock: str) -> dict[str, Any]:
    docs = p.search("sla", {"term": {"item_id": item_id}})
    return next((d for d in docs if d["clock"] == clock), {})


def test_meta_deliveries_reach_their_force_and_unknown_pages_the_duty_queue(
    platform: ConsolePlatform,
) -> None:
    duty = platform.login("duty.national")  # signs in: online, so assign can alert it
    op = platform.login("op.merseyside")
    viewer = platform.login("national.viewer")
    # The duty officer's presence must reach assign before the item arrives.
    time.sleep(3)

    facebook = fixture("facebook_message.json")
    instagram = fixture("instagram_message.json")
    stranded = copy.deepcopy(facebook)
    stranded["entry"][0]["id"] = UNLISTED_PAGE
    ev = stranded["entry"][0]["messaging"][0]
    ev["recipient"]["id"] = UNLISTED_PAGE
    ev["sender"]["id"] = "6012345678904444"
    ev["message"]["mid"] = "m_Unlisted1aB2cD3eF4gH5iJ6kL7mN8oP"
    ev["message"]["text"] = "someone is smashing my back window right now, I am hiding upstairs"
    for payload in (facebook, instagram, stranded):
        post_meta(platform, payload)

    fb_item = platform.wait_item(
        f"facebook:{facebook['entry'][0]['messaging'][0]['message']['mid']}"
    )
    ig_mid = instagram["entry"][0]["messaging"][0]["message"]["mid"]
    ig_item = platform.wait_item(f"instagram:{ig_mid}")
    assert fb_item["force"] == "merseyside" and ig_item["force"] == "merseyside"
    assert op.get(f"/api/items/{fb_item['id']}").status_code == 200

    item = platform.wait_item("facebook:m_Unlisted1aB2cD3eF4gH5iJ6kL7mN8oP")
    item_id = item["id"]
    assert item.get("force") is None and item["team"] == "national-duty"
    # Nobody's force: hidden from force operators, in the duty officer's inbox.
    assert op.get(f"/api/items/{item_id}").status_code == 404
    inbox = duty.get("/api/items", params={"view": "all_open"}).json()
    assert item_id in [i["id"] for i in inbox["items"]]
    assert all(not i.get("force") for i in inbox["items"])
    assert duty.get(f"/api/items/{fb_item['id']}").status_code == 404

    # The duty officer was alerted (assign's routed event names them).
    def routed() -> dict[str, Any] | None:
        events = duty.get(f"/api/items/{item_id}/timeline").json()["events"]
        return next((e for e in events if e["type"] == "routed"), None)

    wait_for(lambda: routed() is not None, 30, "routed event in the timeline")
    alert = routed()
    assert alert is not None and alert["data"]["queue"] == "national"
    assert alert["data"]["notify_duty_officers"] == ["duty.national"], alert

    # The national board shows the queue.
    board = viewer.get("/api/national/duty-queue").json()
    assert item_id in [r["item_id"] for r in board["items"]]
    assert board["unclaimed"] >= 1 and board["role"] == "national_duty"
    assert op.get("/api/national/duty-queue").status_code == 403
    page = viewer.get("/reports/national")
    assert page.status_code == 200 and 'id="duty-queue"' in page.text

    # The national viewer may read but not act; the duty officer claims and transfers.
    assert viewer.post(f"/api/items/{item_id}/commands", json={"type": "claim"}).status_code == 403
    r = duty.post(f"/api/items/{item_id}/commands", json={"type": "claim"})
    assert r.status_code == 200, r.text
    r = duty.post(
        f"/api/items/{item_id}/commands",
        json={"type": "note", "payload": {"text": "rang back: address is in Bootle"}},
    )
    assert r.status_code == 200, r.text
    r = duty.post(
        f"/api/items/{item_id}/commands",
        json={"type": "transfer", "payload": {"force": "merseyside", "team": "digital-desk"}},
    )
    assert r.status_code == 200, r.text

    def moved() -> bool:
        return op.get(f"/api/items/{item_id}").status_code == 200

    wait_for(moved, 30, "the transferred item in Merseyside's inbox")
    got = op.get(f"/api/items/{item_id}").json()
    assert got["force"] == "merseyside" and got["owner"] is None
    assert [m["text"] for m in got["messages"]] == [
        "someone is smashing my back window right now, I am hiding upstairs",
        "rang back: address is in Bootle",
    ]

    def whole_history() -> bool:
        types = [e["type"] for e in op.get(f"/api/items/{item_id}/timeline").json()["events"]]
        return {"created", "routed", "claimed", "noted", "transferred"} <= set(types)

    wait_for(whole_history, 30, "the item's whole history for its new force")
    assert duty.get(f"/api/items/{item_id}").status_code == 404  # no longer the queue's
    claim = op.post(f"/api/items/{item_id}/commands", json={"type": "claim"})
    assert claim.status_code == 200, claim.text


def test_a_follow_up_that_escalates_moves_the_deadline(platform: ConsolePlatform) -> None:
    """Issue 19: a P2 direct message, then 'he's outside now...' on the same thread: the
    item is P1 and its first response is due 15 minutes after first contact, not 60."""

    def dm(n: str, text: str) -> dict[str, Any]:
        m = mention(n, text, author="walton_lou")
        m["channel"] = "direct_message"
        return m

    first = dm("7001", "my ex keeps turning up at my house and won't leave me alone, what can I do")
    r = platform.post_mentions([first])
    assert r.status_code == 200, r.text
    item = platform.wait_item("x:7001")
    item_id = item["id"]
    assert item["priority"] == "P2", item["priority"]  # the grade the issue saw
    before = sla_clock(platform, item_id, "first_response")
    started = datetime.fromisoformat(before["started_at"])
    assert datetime.fromisoformat(before["deadline"]) == started + timedelta(hours=1)

    follow = dm(
        "7002", "he's outside now banging on the door, he's got a knife and says he'll kill me"
    )
    assert platform.post_mentions([follow]).status_code == 200

    def escalated() -> bool:
        clock = sla_clock(platform, item_id, "first_response")
        return clock.get("priority") == "P1" and clock.get("state") == "recalculated"

    wait_for(escalated, 60, "first-response clock recalculated under P1")
    after = sla_clock(platform, item_id, "first_response")
    assert datetime.fromisoformat(after["deadline"]) == started + timedelta(minutes=15)
    resolution = sla_clock(platform, item_id, "resolution")
    assert datetime.fromisoformat(resolution["deadline"]) == started + timedelta(hours=4)
    docs = platform.search("items", {"term": {"id": item_id}})
    assert docs[0]["priority"] == "P1" and len(docs[0]["messages"]) == 2
    # The inbox shows the P1 with under 15 minutes left, not 59.
    op = platform.login("op.merseyside")
    inbox = op.get("/api/items", params={"view": "all_open", "priority": "P1"}).json()
    row = next(i for i in inbox["items"] if i["id"] == item_id)
    assert datetime.fromisoformat(row["sla_due"]) == started + timedelta(minutes=15)
