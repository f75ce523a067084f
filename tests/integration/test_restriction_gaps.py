"""A restricted person (GDPR Art. 18) on the whole platform (noida-db, moto's S3 server,
every service a subprocess): operators cannot open their attachments, their items leave
the inbox counters and the live stream, while the DPO still sees all of it; and a DPO
working in Welsh gets the subject access summary in Welsh (docs/data-protection.md)."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from socialdesk.events import item_key_of
from socialdesk_tools.stack import wait_for
from tests.browser.stack import ConsolePlatform, console_platform, mention, sla_warning

pytestmark = pytest.mark.integration


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 60, 40)).save(out, format="JPEG", quality=90)
    return out.getvalue()


PHOTO = jpeg()


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("restrict"))) as p:
        p.cdn.files["door.jpg"] = (PHOTO, "image/jpeg")
        yield p


def form(client: httpx.Client, **fields: Any) -> dict[str, Any]:
    return {"csrf": client.headers["X-CSRF-Token"], **fields}


def open_count(client: httpx.Client) -> int:
    return int(client.get("/api/counts").json()["all_open"])


def settled(read: Any, want: Any, within: float = 15) -> bool:
    """Whether read() gives want within a few seconds (lists cache restrictions 5 s)."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if read() == want:
            return True
        time.sleep(0.5)
    return False


class Live:
    """An operator's live inbox stream, read in a thread: the item ids it announced."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.items: list[str] = []
        self.stop = threading.Event()
        self.opened = threading.Event()
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.opened.wait(30), "the live stream did not open"

    def _read(self) -> None:
        with self.client.stream("GET", "/api/stream", timeout=None) as r:
            assert r.status_code == 200
            self.opened.set()
            for line in r.iter_lines():
                if self.stop.is_set():
                    return
                if line.startswith("data: "):
                    change = json.loads(line[6:])
                    if change.get("kind") == "item":
                        self.items.append(change["item_id"])


def test_a_restricted_persons_attachments_counts_and_live_rows_are_the_dpos_only(
    platform: ConsolePlatform,
) -> None:
    p = platform
    photo = {"type": "photo", "url": f"{p.cdn_url}/media/door.jpg", "alt_text": "a door"}
    r = p.post_mentions(
        [
            mention("7301", "my front door was kicked in", author="rsub", media=[photo]),
            mention("7302", "the same car is outside my house every night", author="rsub"),
            mention("7303", "a lamp post is down on Bold Street", author="rother"),
        ]
    )
    assert r.status_code == 200, r.text
    kicked, car, lamp = (p.wait_item(f"x:{n}") for n in ("7301", "7302", "7303"))
    wait_for(
        lambda: bool(p.search("attachments", {"term": {"item_id": kicked["id"]}})),
        90,
        "the photo stored",
    )
    (att,) = p.search("attachments", {"term": {"item_id": kicked["id"]}})
    url = f"/items/{kicked['id']}/media/{att['media_id']}"
    dpo = p.login("dpo.merseyside")
    op = p.login("op.merseyside")
    assert op.get(url).content == PHOTO  # before: the operator sees the photo
    before_op, before_dpo = open_count(op), open_count(dpo)

    r = dpo.post(
        "/data-protection/restrict",
        data=form(dpo, platform="x", author="rsub", reason="REQ-RESTRICT-9"),
    )
    assert r.status_code == 200 and 'id="done"' in r.text

    # The attachment: refused to the operator (the error page, saying why), served to
    # the DPO; the thumbnail likewise.
    refused = op.get(url)
    assert refused.status_code == 403 and PHOTO not in refused.content
    assert "restricted" in refused.text
    assert op.get(url, params={"size": "thumb"}).status_code == 403
    assert dpo.get(url).content == PHOTO

    # The counters: the operator's no longer count the person's two open items.
    assert settled(lambda: open_count(op), before_op - 2), (open_count(op), before_op)
    assert open_count(dpo) == before_dpo
    listing = op.get("/api/items", params={"size": 200}).json()
    assert listing["counts"]["all_open"] == listing["total"] == before_op - 2

    # The live stream: a new message from the restricted person reaches the DPO's
    # stream, not the operator's; another person's does reach the operator.
    op_live, dpo_live = Live(p.login("op.merseyside")), Live(p.login("dpo.merseyside"))
    try:
        r = p.post_mentions(
            [
                mention("7304", "he is back outside again tonight", author="rsub"),
                mention("7305", "the lamp post is sparking now", author="rother2"),
            ]
        )
        assert r.status_code == 200, r.text
        again, sparks = (p.wait_item(f"x:{n}")["id"] for n in ("7304", "7305"))
        wait_for(lambda: sparks in op_live.items, 30, "the other person's row, live")
        wait_for(lambda: again in dpo_live.items, 30, "the restricted row, for the DPO")
        assert again not in op_live.items
    finally:
        op_live.stop.set()
        dpo_live.stop.set()
    assert car["id"] and lamp["id"]


def test_a_welsh_dpos_subject_access_summary_is_in_welsh(platform: ConsolePlatform) -> None:
    p = platform
    r = p.post_mentions([mention("7311", "my bike was stolen from the station", author="rcy")])
    assert r.status_code == 200, r.text
    p.wait_item("x:7311")
    dpo = p.login("dpo.merseyside")
    dpo.cookies.set("sd_lang", "cy")
    r = dpo.post(
        "/data-protection/access", data=form(dpo, platform="x", author="rcy", reason="SAR-2026-008")
    )
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    summary = zipfile.ZipFile(io.BytesIO(r.content)).read("summary.html").decode()
    assert '<html lang="cy">' in summary
    assert "<h1>Gwybodaeth a gedwir amdanoch chi</h1>" in summary
    assert "<h2>Eich negeseuon</h2>" in summary
    assert "my bike was stolen from the station" in summary
    # In English, the same export is in English.
    dpo.cookies.set("sd_lang", "en")
    r = dpo.post(
        "/data-protection/access", data=form(dpo, platform="x", author="rcy", reason="SAR-2026-008")
    )
    summary = zipfile.ZipFile(io.BytesIO(r.content)).read("summary.html").decode()
    assert "<h1>Information held about you</h1>" in summary


def test_a_restricted_persons_rows_leave_the_supervisors_board(platform: ConsolePlatform) -> None:
    p = platform
    r = p.post_mentions(
        [
            mention("7321", "a man keeps shouting at my children from his car", author="rboard"),
            mention("7322", "a burst water main is flooding Hope Street", author="rboard2"),
        ]
    )
    assert r.status_code == 200, r.text
    theirs, other = (p.wait_item(f"x:{n}") for n in ("7321", "7322"))
    for item in (theirs, other):
        p.produce("sla.events", item_key_of(item["id"]), sla_warning(item))
    sup = p.login("sup.merseyside")

    def at_risk() -> set[str]:
        return {r["item_id"] for r in sup.get("/api/board").json()["at_risk"]}

    wait_for(lambda: {theirs["id"], other["id"]} <= at_risk(), 30, "both rows on the board")
    dpo = p.login("dpo.merseyside")
    r = dpo.post(
        "/data-protection/restrict",
        data=form(dpo, platform="x", author="rboard", reason="REQ-RESTRICT-10"),
    )
    assert r.status_code == 200 and 'id="done"' in r.text
    assert settled(lambda: theirs["id"] in at_risk(), False), "their row is still there"
    board = sup.get("/api/board").json()
    assert other["id"] in {r["item_id"] for r in board["at_risk"]}
    assert "shouting at my children" not in json.dumps(board)
