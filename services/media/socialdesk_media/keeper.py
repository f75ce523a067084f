"""Keeping one attachment: refuse what the rules refuse, fetch the rest, check it, hash it,
store it. The fetcher and the store are handed in (fetcher.py, socialdesk.objectstore);
what to do when the store is away is the caller's (flows.py waits it out)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx

from socialdesk.backoff import Backoff
from socialdesk.objectstore import ObjectStore
from socialdesk_media.attachments import Kept, Pending, Status, object_key, thumbnail_key
from socialdesk_media.credentials import Tokens
from socialdesk_media.fetcher import Fetched, Fetcher, Refused
from socialdesk_media.sniff import RASTER, Reason, declared_refusal
from socialdesk_media.thumbs import thumbnail

log = logging.getLogger(__name__)
# Not kept because the link no longer worked or never answered: "failed", not "refused".
FAILURES = frozenset({Reason.expired, Reason.fetch_failed})


class Keeper:
    def __init__(
        self,
        fetcher: Fetcher,
        store: ObjectStore,
        tokens: Tokens,
        window: timedelta,
        clock: Callable[[], datetime],
        attempts: int = 3,
    ) -> None:
        self.fetcher = fetcher
        self.store = store
        self.tokens = tokens
        self.window = window
        self.clock = clock
        self.attempts = attempts
        # Fetched but not yet stored (the store was away): not fetched again on the retry.
        self._fetched: dict[str, tuple[datetime, Fetched]] = {}

    def _not_kept(self, p: Pending, reason: Reason, detail: str = "") -> Kept:
        status = Status.failed if reason in FAILURES else Status.refused
        text = f"{reason.value}: {detail}" if detail else reason.value
        return Kept(p, status, self.clock(), reason=text[:300])

    async def keep(self, p: Pending) -> Kept:
        """What became of the attachment. Raises StoreUnavailable (nothing recorded) when
        the object store cannot take it: the caller tries again later."""
        refusal = declared_refusal(p.ref.type)
        if refusal is not None:
            return self._not_kept(p, refusal, p.ref.type)
        held = self._fetched.get(p.media_id)
        if held is None:
            if self.clock() - p.posted_at > self.window:
                return self._not_kept(p, Reason.expired, "past the platform's link lifetime")
            got = await self._fetch(p)
            if isinstance(got, Refused):
                return self._not_kept(p, got.reason, got.detail)
            held = self._fetched[p.media_id] = (self.clock(), got)
        fetched_at, got = held
        sha = hashlib.sha256(got.body).hexdigest()
        key = object_key(p.author_key, p.item_id, sha)
        meta = {"sha256": sha, "media-id": p.media_id, "fetched-at": fetched_at.isoformat()}
        # Content-addressed: a replay (or the same file twice in the item) writes nothing new.
        existing = await self.store.head(key)
        if existing is None or existing.size != len(got.body):
            await self.store.put(key, got.body, got.content_type.value, meta)
        thumb = None
        if got.content_type in RASTER:
            small = await asyncio.to_thread(thumbnail, got.body)
            if small is not None:
                thumb = thumbnail_key(key)
                await self.store.put(thumb, small, "image/png", {"sha256-of": sha})
        del self._fetched[p.media_id]
        return Kept(
            p,
            Status.stored,
            fetched_at,
            object_key=key,
            thumbnail_key=thumb,
            sha256=sha,
            size=len(got.body),
            content_type=got.content_type.value,
        )

    async def _fetch(self, p: Pending) -> Fetched | Refused:
        """The platform is tried a few times (a network blip); then the attachment is
        recorded as failed rather than hold every later message up."""
        token = self.tokens.token(p.force, p.platform, p.account)
        backoff = Backoff(0.5, 5)
        error = ""
        for _ in range(self.attempts):
            try:
                return await self.fetcher.fetch(p.ref.url, token)
            except httpx.HTTPError as exc:
                error = type(exc).__name__
                log.warning("attachment fetch failed", extra={"media_id": p.media_id})
                await backoff.wait()
        return Refused(Reason.fetch_failed, error)
