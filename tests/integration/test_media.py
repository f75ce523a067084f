"""Attachments kept as evidence, on the whole platform (noida-db, moto's S3 server, every
service a subprocess) with a stand-in platform CDN: what is refused and why while the
message still reaches its item, the object store down for a minute with nothing lost
or stored twice, the bytes the console serves hashing to what the index recorded, the
route's isolation and audit, and retention with a clock that moves (docs/media.md)."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from elasticsearch import AsyncElasticsearch
from PIL import Image

from socialdesk.config import load_config
from socialdesk.events import utcnow
from socialdesk.objectstore import ObjectStore, ObjectStoreSettings
from socialdesk.personal import author_key
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import DEADLETTER, ITEMS_EVENTS
from socialdesk_media.sweeper import AttachmentSweeper
from socialdesk_tools.stack import wait_for
from tests.browser.stack import ConsolePlatform, console_platform, mention

from .helpers import produce, read_all

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
)


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (800, 600)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG", quality=90)
    return out.getvalue()


PHOTOS = {f"photo{n}.jpg": jpeg((40 * n, 90, 200 - 30 * n)) for n in range(1, 6)}
TWENTY_MB = 20_000_000  # issue 24's floor: "an attachment of 20 MB ... refused"


def padded_jpeg(size: int) -> bytes:
    head = PHOTOS["photo1.jpg"]
    return head + bytes(size - len(head))


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ConsolePlatform]:
    with console_platform(Path(tmp_path_factory.mktemp("media"))) as p:
        p.cdn.files.update({name: (body, "image/jpeg") for name, body in PHOTOS.items()})
        p.cdn.files["evil.jpg"] = (SVG, "image/jpeg")  # an SVG that says it is a JPEG
        p.cdn.files["dm-photo.jpg"] = (PHOTOS["photo5.jpg"], "image/jpeg")
        p.cdn.files["twenty-mb.jpg"] = (padded_jpeg(TWENTY_MB), "image/jpeg")
        p.cdn.files["just-under.jpg"] = (padded_jpeg(TWENTY_MB - 1), "image/jpeg")
        yield p


def store_of(p: ConsolePlatform) -> ObjectStore:
    return ObjectStore(ObjectStoreSettings(s3_endpoint_url=p.stack.objectstore_url))


def attachments(p: ConsolePlatform, item_id: str) -> list[dict[str, Any]]:
    return p.search("attachments", {"term": {"item_id": item_id}})


def wait_attachments(p: ConsolePlatform, item_id: str, n: int, within: float = 90) -> list[Any]:
    found: list[dict[str, Any]] = []

    def check() -> bool:
        found[:] = attachments(p, item_id)
        return len(found) >= n

    wait_for(check, within, f"{n} attachments of {item_id}")
    return sorted(found, key=lambda d: d["media_id"])


def photo(p: ConsolePlatform, name: str, alt: str | None = None) -> dict[str, Any]:
    return {"type": "photo", "url": f"{p.cdn_url}/media/{name}", "alt_text": alt}


def test_refused_attachments_say_why_and_the_message_still_reaches_its_item(
    platform: ConsolePlatform,
) -> None:
    """A file of exactly 20 MB (its length declared), a 64 MB one sent with no length and
    an SVG that calls itself a JPEG are refused with their reasons; the photo beside them
    and a file one byte under 20 MB are stored; the item has the message; the page shows
    the reasons and the alt text and never the platform's link."""
    p = platform
    media = [
        photo(p, "photo1.jpg", "A silver car with a smashed back window"),
        photo(p, "evil.jpg"),
        photo(p, "huge.jpg"),
        photo(p, "twenty-mb.jpg"),
        photo(p, "just-under.jpg"),
    ]
    text = "someone smashed my car window on Smithdown Road last night, photos attached"
    r = p.post_mentions([mention("7001", text, author="carowner", media=media)])
    assert r.status_code == 200, r.text
    item = p.wait_item("x:7001")
    assert [m["text"] for m in item["messages"]] == [text]
    docs = wait_attachments(p, item["id"], 5)
    stored = [d for d in docs if d["status"] == "stored"]
    refused = sorted(d["reason"] for d in docs if d["status"] == "refused")
    assert refused == [
        "forbidden_type",
        f"too_large: {TWENTY_MB} bytes declared",  # refused before reading it
        f"too_large: {TWENTY_MB} bytes or more",  # no length: refused while reading
    ]
    (under,) = [d for d in stored if d["size"] == TWENTY_MB - 1]
    assert under["sha256"] == hashlib.sha256(padded_jpeg(TWENTY_MB - 1)).hexdigest()
    (kept,) = [d for d in stored if d is not under]
    assert kept["sha256"] == hashlib.sha256(PHOTOS["photo1.jpg"]).hexdigest()
    assert kept["content_type"] == "image/jpeg" and kept["size"] == len(PHOTOS["photo1.jpg"])
    assert kept["author_key"] == author_key("x", "carowner")
    assert kept["object_key"] == f"attachments/{kept['author_key']}/{item['id']}/{kept['sha256']}"
    assert kept["alt_text"] == "A silver car with a smashed back window"
    assert all(d["sha256"] is None for d in docs if d["status"] == "refused")

    op = p.login("op.merseyside")
    page = op.get(f"/items/{item['id']}")
    assert page.status_code == 200
    assert "attachment refused: forbidden_type" in page.text
    assert "attachment refused: too_large" in page.text
    assert 'alt="A silver car with a smashed back window"' in page.text
    assert p.cdn_url not in page.text  # never a link to the platform's host
    assert f"/items/{item['id']}/media/{kept['media_id']}?size=thumb" in page.text
    # The JSON item neither: each attachment by the console's route, refusals with reasons.
    api = op.get(f"/api/items/{item['id']}")
    assert api.status_code == 200 and p.cdn_url not in api.text
    hrefs = {a["media_id"]: a["href"] for a in api.json()["attachments"]}
    assert hrefs[kept["media_id"]] == f"/items/{item['id']}/media/{kept['media_id']}"
    assert list(hrefs.values()).count(None) == 3  # the SVG, the 20 MB and the 64 MB files


def test_the_console_serves_the_stored_bytes_safely_to_the_items_force_only(
    platform: ConsolePlatform,
) -> None:
    """The SHA-256 in the index is the SHA-256 of the bytes the console serves; served
    with the sniffed type, nosniff and a sandbox; a thumbnail is a small PNG; another
    force gets 404 and nobody signed in 401; each opening is audited as media.viewed."""
    p = platform
    r = p.post_mentions(
        [
            mention(
                "7101",
                "this van has been parked on the pavement for weeks",
                author="neigh",
                media=[photo(p, "photo2.jpg", "A white van on a pavement")],
            )
        ]
    )
    assert r.status_code == 200, r.text
    item = p.wait_item("x:7101")
    (doc,) = wait_attachments(p, item["id"], 1)
    url = f"/items/{item['id']}/media/{doc['media_id']}"

    op = p.login("op.merseyside")
    full = op.get(url)
    assert full.status_code == 200
    assert hashlib.sha256(full.content).hexdigest() == doc["sha256"]
    assert full.content == PHOTOS["photo2.jpg"]
    assert full.headers["content-type"] == "image/jpeg"
    assert full.headers["x-content-type-options"] == "nosniff"
    assert full.headers["content-security-policy"].startswith("sandbox")
    assert full.headers["content-disposition"].startswith("inline")
    thumb = op.get(url, params={"size": "thumb"})
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/png"
    assert max(Image.open(io.BytesIO(thumb.content)).size) <= 240

    assert p.login("op.metropolitan").get(url).status_code == 404
    assert httpx.get(p.console + url, timeout=30).status_code == 401
    assert op.get(url, params={"size": "huge"}).status_code == 422
    assert op.get(f"/items/{item['id']}/media/med_{'0' * 24}").status_code == 404

    def viewed() -> bool:
        found = p.search("audit", {"term": {"action": "media.viewed"}})
        mine = [a for a in found if a.get("target_id") == item["id"]]
        return len(mine) >= 2

    wait_for(viewed, 60, "media.viewed audit records")


def test_a_poison_item_event_goes_to_the_dead_letter_topic_with_its_reason(
    platform: ConsolePlatform,
) -> None:
    """An items.events record media cannot read is a dead letter naming media and why;
    the attachments after it are still kept."""
    p = platform
    poison = [("itm_poison", b'{"item_id": "itm_poison", "not": "an item event"}')]
    asyncio.run(produce(p.stack.kafka, p.prefix + ITEMS_EVENTS, poison))

    def dead() -> list[dict[str, Any]]:
        records = asyncio.run(read_all(p.stack.kafka, p.prefix + DEADLETTER))
        return [v for k, v in records if k == "itm_poison" and v.get("service") == "media"]

    wait_for(lambda: bool(dead()), 60, "media's dead letter")
    (letter,) = dead()
    assert letter["reason"] == "invalid_payload" and letter["origin"]["topic"] == ITEMS_EVENTS
    m = mention(
        "7401",
        "after the bad record: a photo of the damage",
        author="after",
        media=[photo(p, "photo1.jpg")],
    )
    assert p.post_mentions([m]).status_code == 200
    (doc,) = wait_attachments(p, p.wait_item("x:7401")["id"], 1)
    assert doc["status"] == "stored"


def test_a_platform_token_is_sent_where_the_host_needs_it(platform: ConsolePlatform) -> None:
    """A direct message's file behind the account's token (North Wales's NWPolice): fetched
    with that token, read-only from the variable config/forces names."""
    p = platform
    m = mention(
        "7201",
        "here is the photo of the man who took my bag",
        author="dmsender",
        handle="NWPolice",
        media=[photo(p, "dm-photo.jpg")],
    )
    m["channel"] = "direct_message"
    assert p.post_mentions([m]).status_code == 200
    item = p.wait_item("x:7201")
    (doc,) = wait_attachments(p, item["id"], 1)
    assert doc["status"] == "stored"
    assert {c["auth"] for c in p.cdn.calls if c["name"] == "dm-photo.jpg"} == {
        f"Bearer {p.cdn.token}"
    }


def test_a_link_past_the_platforms_lifetime_is_recorded_as_expired_not_fetched(
    platform: ConsolePlatform,
) -> None:
    p = platform
    p.cdn.files["old.jpg"] = (PHOTOS["photo1.jpg"], "image/jpeg")
    m = mention(
        "7501",
        "found this photo from last week of the van that hit my wall",
        author="late",
        media=[photo(p, "old.jpg")],
    )
    m["posted_at"] = (utcnow() - timedelta(days=2)).isoformat()
    assert p.post_mentions([m]).status_code == 200
    (doc,) = wait_attachments(p, p.wait_item("x:7501")["id"], 1)
    assert doc["status"] == "failed" and doc["reason"].startswith("expired")
    assert "old.jpg" not in [c["name"] for c in p.cdn.calls]


def test_the_store_down_for_a_minute_loses_nothing_and_stores_each_once(
    platform: ConsolePlatform,
) -> None:
    """moto's S3 server stopped for 60 s while attachments arrive: items still flow, media
    is not ready and keeps nothing; restarted (its recording replayed), every attachment
    is stored exactly once, and the one stored before the outage is still there."""
    p = platform
    before = p.post_mentions(
        [
            mention(
                "7301",
                "graffiti on the bus shelter again",
                author="early",
                media=[photo(p, "photo3.jpg")],
            )
        ]
    )
    assert before.status_code == 200
    early = p.wait_item("x:7301")
    (early_doc,) = wait_attachments(p, early["id"], 1)

    p.stack.stop_objectstore()
    wait_for(lambda: not p.stack.ready("media"), 60, "media not ready with the store down")
    during = [
        mention(
            f"73{n}",
            f"another photo of the same fly-tipping, number {n}",
            author=f"tipper{n}",
            media=[photo(p, "photo4.jpg"), photo(p, "photo5.jpg")],
        )
        for n in (11, 12, 13)
    ]
    assert p.post_mentions(during).status_code == 200
    items = [p.wait_item(f"x:73{n}") for n in (11, 12, 13)]  # the items flow regardless
    started = time.monotonic()
    while time.monotonic() - started < 60:
        assert all(not attachments(p, i["id"]) for i in items)
        assert not p.stack.ready("media")
        time.sleep(5)

    p.stack.start_objectstore()
    wait_for(lambda: p.stack.ready("media"), 120, "media ready again")
    store = store_of(p)
    for i in items:
        docs = wait_attachments(p, i["id"], 2)
        assert [d["status"] for d in docs] == ["stored", "stored"]
        keys = asyncio.run(store.list_prefix(f"attachments/{docs[0]['author_key']}/{i['id']}/"))
        originals = sorted(k for k in keys if not k.endswith(".thumb"))
        assert originals == sorted(d["object_key"] for d in docs)  # one object each
        for d in docs:
            got = asyncio.run(store.get(d["object_key"]))
            assert got is not None and hashlib.sha256(got.body).hexdigest() == d["sha256"]
    # Fetched once each, held while the store was away, not fetched again on every retry.
    assert [c["name"] for c in p.cdn.calls].count("photo4.jpg") == 3
    assert len(attachments(p, early["id"])) == 1
    kept = asyncio.run(store.get(early_doc["object_key"]))
    assert kept is not None and kept.body == PHOTOS["photo3.jpg"]


def test_retention_deletes_objects_and_documents_past_the_period(
    platform: ConsolePlatform,
) -> None:
    """The sweeper with a clock that moves: today nothing is due; 2,191 days on (the
    national period is 2,190) every attachment and its document have gone, audited."""
    p = platform
    config = load_config(ROOT / "config")
    settings = BaseServiceSettings(
        elasticsearch_url=p.stack.es_url, index_prefix=p.prefix.rstrip("."), environment="test"
    )
    store = store_of(p)
    now = utcnow()
    clock = {"now": now}

    async def run() -> tuple[int, int, int, dict[str, Any]]:
        es = AsyncElasticsearch(p.stack.es_url)
        try:
            sweeper = AttachmentSweeper(es, store, settings, config, lambda: clock["now"])
            first = await sweeper.sweep(clock["now"])
            left_today = len(await store.list_prefix("attachments/"))
            clock["now"] = now + timedelta(days=2191)
            later = await sweeper.sweep(clock["now"])
            left = len(await store.list_prefix("attachments/"))
            return (
                first.details["totals"]["attachments"],
                left_today,
                left,
                later.details,
            )
        finally:
            await es.close()

    stored_before = [d for d in p.search("attachments", {"match_all": {}}, size=500)]
    assert stored_before
    first, left_today, left, details = asyncio.run(run())
    assert first == 0 and left_today > 0
    assert details["totals"]["attachments"] == len(stored_before)
    assert details["deleted"]["merseyside"]["attachments"] > 0
    assert left == 0
    assert p.search("attachments", {"match_all": {}}) == []
