"""Images on an X post: each image the post names is fetched and checked by its own
magic bytes before anything is uploaded, then uploaded (POST /2/media/upload) and given
its alt text (POST /2/media/metadata); the post then names the media ids. An upload is
not a post: one repeated after a crash leaves an unused media id, nothing public.
Limits and their sources: docs/outbound.md."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx

from socialdesk.objectstore import ContentType
from socialdesk_outbound.reply import PermanentSendError, TemporarySendError

MAX_IMAGES = 4  # photos per X post
IMAGE_BYTES = 5 * 1024 * 1024  # JPEG, PNG, WebP (and a still GIF) on X
GIF_BYTES = 15 * 1024 * 1024  # an animated GIF, alone in its post
ALT_TEXT_CHARS = 1000  # X's alt text limit (the console's PostMedia allows the same)
CHUNK = 64 * 1024

# The platform's POST wrapper (HttpPublisher._post): its error rules apply to uploads too.
PostFn = Callable[..., Awaitable[dict[str, Any]]]


class MediaCategory(StrEnum):
    """X's media_category for a post's media."""

    tweet_image = "tweet_image"
    tweet_gif = "tweet_gif"


@dataclass(frozen=True)
class Image:
    """One checked image: its bytes, its type by magic bytes, its alt text."""

    body: bytes
    content_type: ContentType
    alt_text: str

    @property
    def category(self) -> MediaCategory:
        gif = self.content_type == ContentType.gif
        return MediaCategory.tweet_gif if gif else MediaCategory.tweet_image


def sniff_raster(head: bytes) -> ContentType | None:
    """The image type the bytes start with; None for anything X does not take as a
    photo (SVG, HTML, PDF, video), whatever the link or its server claims."""
    if head.startswith(b"\xff\xd8\xff"):
        return ContentType.jpeg
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return ContentType.png
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return ContentType.gif
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return ContentType.webp
    return None


async def fetch_images(
    http: httpx.AsyncClient,
    media: tuple[tuple[str, str], ...],
    internal_ok: frozenset[str] = frozenset(),
) -> list[Image]:
    """Every image of the post, checked; the first one X would refuse stops the post
    before any upload, with the reason an officer reads."""
    if len(media) > MAX_IMAGES:
        raise PermanentSendError(f"X takes at most {MAX_IMAGES} images per post, not {len(media)}")
    images = []
    for n, (url, alt) in enumerate(media, 1):
        await _refuse_internal(n, url, internal_ok)
        images.append(await _fetch(http, n, url, alt))
    if len(images) > 1 and any(i.category == MediaCategory.tweet_gif for i in images):
        raise PermanentSendError("X takes a GIF only as the one image of its post")
    return images


async def _refuse_internal(n: int, url: str, internal_ok: frozenset[str]) -> None:
    """An author's link must not make outbound fetch from inside the network (SSRF):
    a host resolving to a private, loopback or link-local address is refused unless listed."""
    host = urlsplit(url).hostname
    if not host or host in internal_ok:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    except OSError as exc:
        raise TemporarySendError(f"image {n}: its host did not resolve") from exc
    for info in infos:
        addr = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if not addr.is_global:
            raise PermanentSendError(
                f"image {n}: its link points inside the network; give a public address"
            )


async def _fetch(http: httpx.AsyncClient, n: int, url: str, alt: str) -> Image:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentSendError(f"image {n}: only an http(s) link can be posted to X")
    if len(alt) > ALT_TEXT_CHARS:
        raise PermanentSendError(f"image {n}: alt text over X's {ALT_TEXT_CHARS} characters")
    try:
        async with http.stream("GET", url) as resp:
            if resp.status_code == 429 or resp.status_code >= 500:
                raise TemporarySendError(f"image {n}: its host answered {resp.status_code}")
            if resp.status_code >= 300:
                raise PermanentSendError(f"image {n}: its link answered {resp.status_code}")
            body = await _read(resp, n)
    except httpx.HTTPError as exc:
        raise TemporarySendError(f"image {n}: its host unreachable: {type(exc).__name__}") from exc
    kind = sniff_raster(body[:16])
    if kind is None:
        raise PermanentSendError(
            f"image {n}: not a JPEG, PNG, GIF or WebP by its own bytes "
            "(SVG and other files are not posted)"
        )
    limit = GIF_BYTES if kind == ContentType.gif else IMAGE_BYTES
    if len(body) > limit:
        raise PermanentSendError(f"image {n}: {len(body)} bytes; X takes up to {limit}")
    return Image(body, kind, alt)


async def _read(resp: httpx.Response, n: int) -> bytes:
    """The body, stopping at the first byte past the largest limit."""
    body = bytearray()
    async for chunk in resp.aiter_bytes(CHUNK):
        body.extend(chunk)
        if len(body) > GIF_BYTES:
            raise PermanentSendError(f"image {n}: over {GIF_BYTES} bytes; too large for X")
    return bytes(body)


async def upload_images(
    post: PostFn, base_url: str, images: list[Image], headers: dict[str, str]
) -> list[str]:
    """Upload each image and set its alt text; the media ids, in the author's order."""
    ids: list[str] = []
    for n, image in enumerate(images, 1):
        uploaded = await post(
            f"{base_url}/2/media/upload",
            "X",
            files={"media": (f"image{n}", image.body, image.content_type.value)},
            data={"media_category": image.category.value},
            headers=headers,
        )
        media_id = str((uploaded.get("data") or {}).get("id") or "")
        if not media_id:
            raise PermanentSendError(f"X's upload of image {n} returned no media id")
        if image.alt_text:
            body = {"id": media_id, "metadata": {"alt_text": {"text": image.alt_text}}}
            await post(f"{base_url}/2/media/metadata", "X", json=body, headers=headers)
        ids.append(media_id)
    return ids
