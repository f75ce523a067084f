"""The adapters to the platforms: one publisher per API, and the recorder for
development. Each says whether sending the same reply again is safe (`idempotent`),
which decides what a restart does with a reply that may already have gone."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Protocol

import httpx

from socialdesk.events import utcnow
from socialdesk.settings import OutboundSettings
from socialdesk_outbound.credentials import PUBLISHED, Credentials
from socialdesk_outbound.posting import PostDelivery
from socialdesk_outbound.reply import (
    CredentialsError,
    OutboundReply,
    PermanentSendError,
    PostByHand,
    ReplyByHand,
    TemporarySendError,
)
from socialdesk_outbound.x_media import fetch_images, upload_images


class Publisher(Protocol):
    async def send(self, reply: OutboundReply) -> str:
        """Send; return the platform's id for the message sent."""

    def idempotent(self, reply: OutboundReply) -> bool:
        """True if sending this reply twice posts it once (the platform dedups by key)."""

    async def publish(self, post: PostDelivery) -> str:
        """Post from one account; return the platform's id for the post."""

    def idempotent_post(self, post: PostDelivery) -> bool:
        """True if publishing this delivery twice posts it once."""


class HttpPublisher:
    """A platform API over HTTP with the token of the account replying. Neither X nor the
    Graph API takes an idempotency key, so a resend is a second post."""

    def __init__(self, base_url: str, credentials: Credentials, http: httpx.AsyncClient) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.http = http

    def _token(self, reply: OutboundReply | PostDelivery) -> str:
        """The account's token; none at all makes the reply (or post) a task for an
        officer."""
        token = self.credentials.token(reply)
        if token.value is None:
            where = f" (set {token.variable})" if token.variable else ""
            what = "post" if isinstance(reply, PostDelivery) else "reply"
            error = PostByHand if isinstance(reply, PostDelivery) else ReplyByHand
            raise error(
                f"no credentials for {reply.platform} account {_account(reply)}{where}: "
                f"{what} by hand"
            )
        return token.value

    def idempotent(self, reply: OutboundReply) -> bool:
        return False

    def idempotent_post(self, post: PostDelivery) -> bool:
        return False

    async def _post(self, url: str, platform: str, **kwargs: Any) -> dict[str, Any]:
        """POST; a network error, 429 or 5xx is temporary, any other 4xx permanent."""
        try:
            resp = await self.http.post(url, **kwargs)
        except httpx.HTTPError as exc:
            raise TemporarySendError(f"{platform} unreachable: {exc!r}") from exc
        if resp.status_code == 429 or resp.status_code >= 500:
            raise TemporarySendError(f"{platform} answered {resp.status_code}", _retry_after(resp))
        if resp.status_code == 401:
            # The body is not kept: the token is never logged, even echoed back.
            raise CredentialsError(
                f"undeliverable: credentials: {platform} refused the account's token (401); "
                "renew it"
            )
        if resp.status_code >= 400:
            raise PermanentSendError(
                f"{platform} refused the reply ({resp.status_code}): {resp.text[:200]}"
            )
        data: dict[str, Any] = resp.json()
        return data


class XPublisher(HttpPublisher):
    """X API v2: a reply to a post, or a direct message to the author."""

    # hosts on private addresses a post's images may come from (x_media._refuse_internal)
    internal_ok: frozenset[str] = frozenset()

    async def send(self, reply: OutboundReply) -> str:
        headers = {"Authorization": f"Bearer {self._token(reply)}"}
        if reply.channel == "direct_message":
            url = f"{self.base_url}/2/dm_conversations/with/{reply.author_id}/messages"
            body: dict[str, Any] = {"text": reply.text}
        else:
            url = f"{self.base_url}/2/tweets"
            body = {"text": reply.text}
            if reply.in_reply_to:
                body["reply"] = {"in_reply_to_tweet_id": reply.in_reply_to}
        data = (await self._post(url, "X", json=body, headers=headers)).get("data") or {}
        return str(data.get("id") or data.get("dm_event_id") or "")

    async def publish(self, post: PostDelivery) -> str:
        """A post from the account, with its images (each uploaded with its alt text
        first: x_media.py). Every image is checked before any upload, so one X would
        refuse fails the post with nothing sent."""
        headers = {"Authorization": f"Bearer {self._token(post)}"}
        body: dict[str, Any] = {"text": post.text}
        if post.media:
            images = await fetch_images(self.http, post.media, self.internal_ok)
            ids = await upload_images(self._post, self.base_url, images, headers)
            body["media"] = {"media_ids": ids}
        url = f"{self.base_url}/2/tweets"
        data = (await self._post(url, "X", json=body, headers=headers)).get("data")
        return str((data or {}).get("id") or "")


class MetaPublisher(HttpPublisher):
    """Graph API for Facebook and Instagram: a comment reply, or a message."""

    async def send(self, reply: OutboundReply) -> str:
        params = {"access_token": self._token(reply)}
        if reply.channel == "direct_message":
            url = f"{self.base_url}/me/messages"
            body: dict[str, Any] = {
                "recipient": {"id": reply.author_id},
                "message": {"text": reply.text},
                "messaging_type": "RESPONSE",
            }
        elif reply.in_reply_to:
            edge = "replies" if reply.platform == "instagram" else "comments"
            url = f"{self.base_url}/{reply.in_reply_to}/{edge}"
            body = {"message": reply.text}
        else:
            raise PermanentSendError("nothing to reply to on this platform message")
        data = await self._post(url, reply.platform, json=body, params=params)
        return str(data.get("id") or data.get("message_id") or "")

    async def publish(self, post: PostDelivery) -> str:
        """A Page post (its first link previewed; images attached, each with its alt
        text), or an Instagram image post (a container, then publishing it)."""
        params = {"access_token": self._token(post)}
        if post.platform == "instagram":
            return await self._instagram(post, params)
        body: dict[str, Any] = {"message": post.text}
        if post.links:
            body["link"] = post.links[0]
        photos = []
        for url, alt in post.media:
            uploaded = await self._post(
                f"{self.base_url}/me/photos",
                "facebook",
                json={"url": url, "published": False, "alt_text_custom": alt},
                params=params,
            )
            photos.append({"media_fbid": str(uploaded.get("id") or "")})
        if photos:
            body["attached_media"] = photos
        data = await self._post(f"{self.base_url}/me/feed", "facebook", json=body, params=params)
        return str(data.get("id") or "")

    async def _instagram(self, post: PostDelivery, params: dict[str, str]) -> str:
        if len(post.media) != 1 or not post.account_id:
            raise PostByHand(
                "Instagram takes one image per post from here, and the account's id "
                "(account_ids in the force's config): post it from the Instagram app"
            )
        url, alt = post.media[0]
        base = f"{self.base_url}/{post.account_id}"
        body = {"image_url": url, "caption": post.text, "alt_text": alt}
        made = await self._post(f"{base}/media", "instagram", json=body, params=params)
        done = await self._post(
            f"{base}/media_publish",
            "instagram",
            json={"creation_id": str(made.get("id") or "")},
            params=params,
        )
        return str(done.get("id") or "")


class RecorderPublisher:
    """Development: appends each reply to a JSONL file instead of posting it. Idempotent
    by event id, so a replayed event is recorded once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sent: set[str] = set()
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    self.sent.add(json.loads(line)["event_id"])
                except (ValueError, KeyError):
                    continue

    def idempotent(self, reply: OutboundReply) -> bool:
        return True

    async def send(self, reply: OutboundReply) -> str:
        return await self._record(reply.event_id, asdict(reply))

    def idempotent_post(self, post: PostDelivery) -> bool:
        return True

    async def publish(self, post: PostDelivery) -> str:
        return await self._record(post.delivery_id, {**asdict(post), "event_id": post.delivery_id})

    async def _record(self, key: str, data: dict[str, Any]) -> str:
        if key not in self.sent:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            line = json.dumps({**data, "sent_at": utcnow().isoformat()}) + "\n"
            await asyncio.to_thread(_append, self.path, line)
            self.sent.add(key)
        return f"recorded:{key}"


def _append(path: Path, line: str) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(line)
        f.flush()


class PlatformRouter:
    """One publisher per platform; platforms without one fail permanently (visible)."""

    def __init__(
        self, by_platform: dict[str, Publisher], fallback: Publisher | None = None
    ) -> None:
        self.by_platform = by_platform
        self.fallback = fallback

    def _for(self, reply: OutboundReply) -> Publisher | None:
        return self.by_platform.get(reply.platform, self.fallback)

    def idempotent(self, reply: OutboundReply) -> bool:
        pub = self._for(reply)
        return pub is None or pub.idempotent(reply)  # no publisher: nothing was ever sent

    async def send(self, reply: OutboundReply) -> str:
        pub = self._for(reply)
        if pub is None:
            raise ReplyByHand(f"no publisher for {reply.platform}: reply by hand")
        return await pub.send(reply)

    def idempotent_post(self, post: PostDelivery) -> bool:
        pub = self.by_platform.get(post.platform, self.fallback)
        return pub is None or pub.idempotent_post(post)

    async def publish(self, post: PostDelivery) -> str:
        pub = self.by_platform.get(post.platform, self.fallback)
        if pub is None:
            raise PostByHand(f"no publisher for {post.platform}: post it by hand")
        return await pub.publish(post)


def _retry_after(resp: httpx.Response) -> float | None:
    """The wait a 429 asks for: Retry-After in seconds (Meta, most APIs), else X's
    x-rate-limit-reset (the epoch second the window reopens)."""
    try:
        if "retry-after" in resp.headers:
            return max(0.0, float(resp.headers["retry-after"]))
        if "x-rate-limit-reset" in resp.headers:
            return max(0.0, float(resp.headers["x-rate-limit-reset"]) - time.time())
    except ValueError:
        return None
    return None


def _account(reply: OutboundReply | PostDelivery) -> str:
    return f"@{reply.account.lstrip('@')}" if reply.account else "(unknown account)"


def make_publisher(
    settings: OutboundSettings, http: httpx.AsyncClient, credentials: Credentials
) -> Publisher:
    """The recorder, or the platforms' publishers with each account's token."""
    if settings.publisher_mode == "recorder":
        # Only the platforms production can post to: the rest are replied to by hand here too.
        recorder = RecorderPublisher(settings.reply_recorder_path)
        return PlatformRouter({p.value: recorder for p in PUBLISHED})
    meta = MetaPublisher(settings.meta_graph_base_url, credentials, http)
    x = XPublisher(settings.x_api_base_url, credentials, http)
    x.internal_ok = frozenset(settings.publish_image_internal_hosts)
    return PlatformRouter(
        {
            "x": x,
            "facebook": meta,
            "instagram": meta,
        }
    )
