"""The media service's rules on their own (docs/media.md): what a file is by its bytes,
which attachments an item event brings and where they are filed, thumbnails, the
fetcher's limit while streaming, the console's serving headers and the settings that
refuse development keys in production."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from pydantic import ValidationError

from socialdesk.events import ItemEvent, MediaRef
from socialdesk.objectstore import ObjectStoreSettings
from socialdesk.personal import author_key
from socialdesk_console.media import sensitive, serving_headers, without_platform_links
from socialdesk_media.attachments import media_id_of, object_key, pending_of, thumbnail_key
from socialdesk_media.fetcher import Fetched, Fetcher, Refused
from socialdesk_media.sniff import ContentType, Reason, declared_refusal, sniff
from socialdesk_media.thumbs import THUMB_PX, thumbnail

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "schemas/examples/items.events/1/created-with-photo.json"


def image(fmt: str, size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (image("JPEG"), ContentType.jpeg),
        (image("PNG"), ContentType.png),
        (image("GIF"), ContentType.gif),
        (image("WEBP"), ContentType.webp),
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", ContentType.mp4),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", ContentType.pdf),
        (
            b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>',
            Reason.forbidden_type,
        ),
        (b"\xef\xbb\xbf  <?xml version='1.0'?>\n<svg/>", Reason.forbidden_type),
        (b"<!DOCTYPE html><html><body>hi</body></html>", Reason.forbidden_type),
        (b"\n\n<HTML><script>alert(1)</script>", Reason.forbidden_type),
        (b"MZ\x90\x00\x03\x00\x00\x00", Reason.unknown_type),  # a Windows program
        (b"\x00\x00\x00\x14ftypqt  ", Reason.unknown_type),  # QuickTime, not MP4
        (b"", Reason.empty),
    ],
)
def test_a_file_is_what_its_bytes_say(head: bytes, expected: ContentType | Reason) -> None:
    assert sniff(head[:512]) == expected


def test_a_type_the_platform_names_as_svg_or_html_is_refused_before_fetching() -> None:
    assert declared_refusal("image/svg+xml") is Reason.forbidden_type
    assert declared_refusal("text/html") is Reason.forbidden_type
    assert declared_refusal("photo") is None and declared_refusal(None) is None


def test_each_attachment_is_named_by_its_message_and_filed_under_its_sender() -> None:
    ev = ItemEvent.model_validate_json(EXAMPLE.read_text())
    assert ev.item is not None
    (p,) = pending_of(ev)
    message = ev.item.messages[0]
    assert p.media_id == media_id_of(str(message.mention_id), 0)
    assert p.media_id == pending_of(ev)[0].media_id  # the same event names it again
    assert p.author_key == author_key("x", ev.item.author.id)
    assert p.ref.alt_text == "A street at night with two people outside a shop"
    assert p.account == "MerseyPolice" and p.force == ev.item.force
    key = object_key(p.author_key, p.item_id, "ab" * 32)
    assert key == f"attachments/{p.author_key}/{p.item_id}/{'ab' * 32}"
    assert thumbnail_key(key).startswith(f"attachments/{p.author_key}/")


def test_a_reply_in_a_public_thread_is_filed_under_whoever_sent_it() -> None:
    data = json.loads(EXAMPLE.read_text())
    other = dict(data["item"]["messages"][0], mention_id="x:999", author_id="someone-else")
    data["item"]["messages"].append(other)
    keys = {p.author_key for p in pending_of(ItemEvent.model_validate(data))}
    assert keys == {author_key("x", data["item"]["author"]["id"]), author_key("x", "someone-else")}


def test_outbound_messages_and_messages_without_media_bring_nothing() -> None:
    data = json.loads(EXAMPLE.read_text())
    data["item"]["messages"][0]["direction"] = "outbound"
    assert pending_of(ItemEvent.model_validate(data)) == []
    data["item"]["messages"][0].update(direction="inbound", media=[])
    assert pending_of(ItemEvent.model_validate(data)) == []


def test_a_thumbnail_is_a_small_png_and_a_broken_image_has_none() -> None:
    small = thumbnail(image("JPEG", (3000, 1000)))
    assert small is not None
    with Image.open(io.BytesIO(small)) as img:
        assert img.format == "PNG" and max(img.size) == THUMB_PX
    assert thumbnail(b"\xff\xd8\xff\xe0 not really a jpeg") is None
    # 8,000 x 8,000 of one colour: a small PNG that would decode to 64 megapixels.
    assert len(bomb := image("PNG", (8000, 8000))) < 1_000_000
    assert thumbnail(bomb) is None


def fetcher_for(body: AsyncIterator[bytes] | bytes, *, length: bool = False) -> Fetcher:
    def answer(request: httpx.Request) -> httpx.Response:
        headers = {"Authorization-Seen": request.headers.get("authorization", "")}
        if isinstance(body, bytes):
            if not length:
                return httpx.Response(200, content=_chunks(body), headers=headers)
            return httpx.Response(200, content=body, headers=headers)
        return httpx.Response(200, content=body, headers=headers)

    http = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return Fetcher(http, frozenset({"cdn.example"}), frozenset({"cdn.example"}), 1024 * 1024)


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for i in range(0, len(body), 65536):
        yield body[i : i + 65536]


def test_the_fetcher_stops_at_the_limit_without_reading_the_rest() -> None:
    read = {"bytes": 0}

    async def endless() -> AsyncIterator[bytes]:
        chunk = b"\xff\xd8\xff\xe0" + bytes(65532)
        while True:
            read["bytes"] += len(chunk)
            yield chunk

    got = asyncio.run(fetcher_for(endless()).fetch("https://cdn.example/a.jpg", None))
    assert got == Refused(Reason.too_large, "1048576 bytes or more")
    assert read["bytes"] <= 1024 * 1024 + 2 * 65536


@pytest.mark.parametrize("length", [True, False])
def test_a_file_of_exactly_the_limit_is_refused_and_one_byte_less_is_kept(length: bool) -> None:
    """The limit is a size refused (issue 24: "an attachment of 20 MB ... refused"), with
    the length declared or not."""
    jpg = image("JPEG")
    limit = 1024 * 1024
    at = jpg + bytes(limit - len(jpg))
    got = asyncio.run(fetcher_for(at, length=length).fetch("https://cdn.example/a.jpg", None))
    assert isinstance(got, Refused) and got.reason is Reason.too_large
    under = at[:-1]
    kept = asyncio.run(fetcher_for(under, length=length).fetch("https://cdn.example/a.jpg", None))
    assert kept == Fetched(under, ContentType.jpeg)


def test_the_fetcher_keeps_an_image_and_refuses_markup_and_other_hosts() -> None:
    jpg = image("JPEG")
    got = asyncio.run(fetcher_for(jpg).fetch("https://cdn.example/a.jpg", "tok"))
    assert got == Fetched(jpg, ContentType.jpeg)
    svg = b"<svg onload='alert(1)'/>" * 40
    assert asyncio.run(fetcher_for(svg).fetch("https://cdn.example/a.jpg", None)) == Refused(
        Reason.forbidden_type
    )
    edge = asyncio.run(fetcher_for(jpg).fetch("https://lhr8-1.cdn.example/a.jpg", None))
    assert edge == Fetched(jpg, ContentType.jpeg)  # a CDN's regional host
    lookalike = asyncio.run(fetcher_for(jpg).fetch("https://evilcdn.example/a.jpg", None))
    assert isinstance(lookalike, Refused) and lookalike.reason is Reason.not_allowed_host
    inside = asyncio.run(fetcher_for(jpg).fetch("http://10.0.0.5/admin", None))
    assert isinstance(inside, Refused) and inside.reason is Reason.not_allowed_host
    big = asyncio.run(
        fetcher_for(bytes(2 * 1024 * 1024), length=True).fetch("https://cdn.example/b.jpg", None)
    )
    assert big == Refused(Reason.too_large, f"{2 * 1024 * 1024} bytes declared")


def test_only_raster_images_are_shown_inline_and_nothing_is_ever_run() -> None:
    jpg = serving_headers("med_x", "image/jpeg")
    assert jpg["Content-Disposition"].startswith("inline")
    assert jpg["X-Content-Type-Options"] == "nosniff"
    assert jpg["Content-Security-Policy"].startswith("sandbox")
    for other in ("application/pdf", "video/mp4"):
        assert serving_headers("med_x", other)["Content-Disposition"].startswith("attachment")


def test_pictures_of_sensitive_items_are_blurred() -> None:
    assert sensitive({"flags": ["child_at_risk"]}) and sensitive({"flags": ["self_harm"]})
    assert sensitive({"flags": ["sexual_offence", "weapon"]})
    assert not sensitive({"flags": ["weapon"]}) and not sensitive({})


def test_the_object_stores_keys_must_be_real_in_production() -> None:
    with pytest.raises(ValidationError, match="SOCIALDESK_S3_ACCESS_KEY_ID"):
        ObjectStoreSettings(environment="production")
    real = ObjectStoreSettings(
        environment="production",
        s3_access_key_id="AKIAREAL",
        s3_secret_access_key="a-real-secret-from-the-secret",
    )
    assert real.s3_secret_access_key.get_secret_value() == "a-real-secret-from-the-secret"
    assert MediaRef(type="photo", url="https://x").alt_text is None


def test_the_json_item_names_no_platform_link_and_gives_the_consoles_route() -> None:
    cdn = "https://pbs.twimg.com/media/van.jpg"
    item = {
        "id": "itm_1",
        "messages": [
            {"text": "the van", "media": [{"type": "photo", "url": cdn, "alt_text": "a van"}]},
            {"text": "no photo"},
        ],
    }
    stored = {
        "media_id": "med_a",
        "status": "stored",
        "sha256": "ab" * 32,
        "object_key": "attachments/k/itm_1/ab",
        "author_key": "k",
    }
    refused = {"media_id": "med_b", "status": "refused", "reason": "forbidden_type"}
    out = without_platform_links(item, [stored, refused])
    assert cdn not in json.dumps(out)
    assert out["messages"][0]["media"] == [{"type": "photo", "alt_text": "a van"}]
    assert [a["href"] for a in out["attachments"]] == ["/items/itm_1/media/med_a", None]
    assert "attachments/k" not in json.dumps(out) and "author_key" not in out["attachments"][0]
