"""The console's live pages read open work only (issue 26, item 2), against the real
local stack: a new P1 is in the inbox, its counters and the supervisor board's
unassigned list; once resolved it leaves all three while search of the archive still
finds it; reopened, it is back. The item page lists the author's other items."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from socialdesk_tools.stack import wait_for
from tests.browser.stack import ConsolePlatform, console_platform, mention

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("openinbox"))) as p:
        yield p


def listed(client: httpx.Client, item_id: str) -> bool:
    return any(
        i["id"] == item_id for i in client.get("/api/items", params={"size": 200}).json()["items"]
    )


def on_board(sup: httpx.Client, item_id: str) -> bool:
    return any(u["id"] == item_id for u in sup.get("/api/board").json()["unassigned"])


def test_a_closed_item_leaves_the_live_pages_and_stays_searchable(
    platform: ConsolePlatform,
) -> None:
    r = platform.post_mentions(
        [
            mention(
                "6101", "man waving a knife about outside the Spar on Picton Road", author="pic"
            ),
            mention("6102", "my shed was broken into on Picton Road last week", author="pic"),
        ]
    )
    assert r.status_code == 200, r.text
    item: dict[str, Any] = platform.wait_item("x:6101")
    other = platform.wait_item("x:6102")
    iid = item["id"]
    op, sup = platform.login("op.merseyside"), platform.login("sup.merseyside")
    wait_for(lambda: listed(op, iid), 30, "the new item in the inbox")
    p1_before = op.get("/api/items").json()["counts"]["p1"]
    assert item["priority"] == "P1" and p1_before >= 1
    wait_for(lambda: on_board(sup, iid), 30, "the unassigned P1 on the board")

    # The item page lists the author's other item (their day summaries, by id).
    history = op.get(f"/api/items/{iid}/history").json()["items"]
    assert [h["id"] for h in history] == [other["id"]]

    url = f"/api/items/{iid}/commands"
    assert op.post(url, json={"type": "claim", "payload": {}}).status_code == 200
    done = op.post(url, json={"type": "resolve", "payload": {"outcome": "signposted"}})
    assert done.status_code == 200 and done.json()["event"]["item"]["status"] == "resolved"
    wait_for(lambda: not listed(op, iid), 30, "the resolved item gone from the inbox")
    assert op.get("/api/items").json()["counts"]["p1"] == p1_before - 1
    assert not on_board(sup, iid)
    found = op.get("/api/search", params={"q": "Spar Picton"}).json()
    assert [h["item"]["id"] for h in found["hits"]] == [iid]  # the archive still has it
    page = op.get(f"/items/{iid}")  # and its page, which links the author's archive
    assert page.status_code == 200 and f'href="/search?author={item["author_id"]}"' in page.text

    assert op.post(url, json={"type": "reopen", "payload": {}}).status_code == 200
    wait_for(lambda: listed(op, iid), 30, "the reopened item back in the inbox")
    assert op.get("/api/items").json()["counts"]["p1"] == p1_before
