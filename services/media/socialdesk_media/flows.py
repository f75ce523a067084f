"""Kafka adapter for media: a consumer group over items.events that keeps the attachments
of each new inbound message (keeper.py) and records each in the attachments index.

Per attachment: the bytes go to the object store, then an audit record (acknowledged),
then the document; the offset is committed after the batch. While the object store is
away the batch waits (backoff, readiness false) and nothing is committed, so nothing is
lost; a replay finds the document and does nothing, or rewrites the same object key
(content-addressed) and the same document id, so each attachment is stored once."""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import httpx
from elasticsearch import AsyncElasticsearch
from prometheus_client import Counter

from socialdesk import indices
from socialdesk.backoff import Backoff
from socialdesk.config import PlatformConfig, load_config
from socialdesk.es import EsSink, VersionedDoc, alias, make_es
from socialdesk.events import AuditEvent, ItemEvent, utcnow
from socialdesk.health import make_server, ops_app, run_until_signalled
from socialdesk.kafka import (
    BatchResult,
    DurableWriter,
    KafkaRuntime,
    Meta,
    Output,
    Stopped,
    StreamProcessor,
)
from socialdesk.kafka.outputs import dead_for
from socialdesk.logs import setup_logging
from socialdesk.objectstore import ObjectStore, StoreUnavailable
from socialdesk.topics import AUDIT_EVENTS, ITEMS_EVENTS
from socialdesk_media.attachments import Kept, Pending, Status, pending_of
from socialdesk_media.credentials import Tokens
from socialdesk_media.fetcher import Fetcher
from socialdesk_media.keeper import Keeper
from socialdesk_media.settings import MediaSettings
from socialdesk_media.sweeper import AttachmentSweeper

log = logging.getLogger(__name__)
KEPT = Counter("socialdesk_media_attachments_total", "Attachments by outcome", ["status"])
STORE_WAITS = Counter(
    "socialdesk_media_store_unavailable_total", "Times the object store could not take a write"
)
SEEN_MAX = 50_000  # media ids known done, so a later event on the item asks nothing


class MediaProcessor(StreamProcessor):
    """Processor for KafkaRuntime over items.events: keeps each new attachment once."""

    service = "media"
    group_id = "socialdesk-media"
    topics: Sequence[str] = (ITEMS_EVENTS,)

    def __init__(
        self,
        settings: MediaSettings,
        es: AsyncElasticsearch,
        keeper: Keeper,
        sweeper: AttachmentSweeper | None = None,
    ) -> None:
        self.settings = settings
        self.sink = EsSink(es, settings)
        self.es = es
        self.keeper = keeper
        self.sweeper = sweeper
        self.index = alias(settings, indices.ATTACHMENTS)
        self.store_ok = True
        self.stopping = False
        self.journal = DurableWriter(settings, self.service, lambda: self.stopping)
        self._seen: OrderedDict[str, None] = OrderedDict()

    def decode(self, topic: str, raw: bytes) -> ItemEvent:
        return ItemEvent.model_validate_json(raw)

    async def tick(self) -> BatchResult:
        if self.sweeper is None:
            return BatchResult()
        audit = await self.sweeper.maybe_sweep()
        return BatchResult([Output(AUDIT_EVENTS, e.actor.id, e) for e in audit])

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        """Each event's new attachments; an event whose attachment cannot be recorded for
        a reason waiting will not cure goes to the dead-letter topic, the rest go on."""
        outputs: list[Output] = []
        for ev, meta in batch:
            try:
                await self._keep_all(ev)
            except Stopped:
                raise
            except Exception as exc:
                log.exception("attachment could not be recorded", extra={"offset": meta.offset})
                outputs.append(dead_for(self.service, "attachment_error", repr(exc), ev, meta))
        return BatchResult(outputs)

    async def _keep_all(self, ev: ItemEvent) -> None:
        todo = {p.media_id: p for p in pending_of(ev) if p.media_id not in self._seen}
        if not todo:
            return
        done = await self._recorded(list(todo))
        for media_id, p in todo.items():
            if media_id not in done:
                kept = await self._keep_until_stored(p)
                await self._record(kept)
            self._remember(media_id)

    async def _recorded(self, media_ids: list[str]) -> set[str]:
        """The attachments already in the index (kept before a restart or replay)."""

        async def lookup() -> Any:
            if not await self.es.indices.exists(index=self.index):
                return {"docs": []}
            return await self.es.mget(index=self.index, ids=media_ids, source=False)

        resp = await self.sink.write(lookup)
        return {d["_id"] for d in resp["docs"] if d.get("found")}

    async def _keep_until_stored(self, p: Pending) -> Kept:
        """Keep the attachment, waiting out the object store: the batch (and its commit)
        waits with it, and readiness says so."""
        backoff = Backoff(0.5, 10)
        while True:
            try:
                kept = await self.keeper.keep(p)
                self.store_ok = True
                return kept
            except StoreUnavailable as exc:
                self.store_ok = False
                STORE_WAITS.inc()
                log.warning("object store unavailable, retrying", extra={"error": str(exc)})
                if self.stopping:
                    raise Stopped() from exc
                await backoff.wait()

    async def _record(self, kept: Kept) -> None:
        p = kept.pending
        audit = AuditEvent.by_system(
            "media",
            f"attachment.{kept.status.value}",
            force=p.force,
            target_id=p.item_id,
            details={
                "media_id": p.media_id,
                "mention_id": p.mention_id,
                "sha256": kept.sha256,
                "size": kept.size,
                "content_type": kept.content_type,
                "reason": kept.reason,
                "fetched_at": kept.fetched_at.isoformat(),
            },
        )
        await self.journal.write([Output(AUDIT_EVENTS, audit.actor.id, audit)])
        doc = VersionedDoc(self.index, p.media_id, 1, kept.document(), merge=True)
        rejected = await self.sink.write_versioned([doc])
        if rejected:
            raise RuntimeError(f"attachment document refused: {rejected[0][1]}")
        KEPT.labels(kept.status.value).inc()
        if kept.status is not Status.stored:
            log.info("attachment not kept", extra={"media_id": p.media_id, "why": kept.reason})

    def _remember(self, media_id: str) -> None:
        self._seen[media_id] = None
        if len(self._seen) > SEEN_MAX:
            self._seen.popitem(last=False)


def build(
    settings: MediaSettings,
    es: AsyncElasticsearch,
    store: ObjectStore,
    http: httpx.AsyncClient,
    config: PlatformConfig | None,
    clock: Callable[[], datetime] = utcnow,
) -> MediaProcessor:
    """The processor as the service runs it (and the tests, with their own clock)."""
    fetcher = Fetcher(
        http,
        settings.hosts(settings.media_allowed_hosts),
        settings.hosts(settings.media_token_hosts),
        settings.media_limit_bytes,
    )
    window = timedelta(hours=settings.media_fetch_window_hours)
    keeper = Keeper(
        fetcher, store, Tokens(config), window, clock, attempts=settings.media_fetch_attempts
    )
    sweeper = None
    if config is not None and config.retention is not None:
        sweeper = AttachmentSweeper(es, store, settings, config, clock)
    return MediaProcessor(settings, es, keeper, sweeper)


async def serve(settings: MediaSettings) -> None:
    setup_logging("media", settings.log_level)
    es = make_es(settings)
    store = ObjectStore(settings)
    http = httpx.AsyncClient(timeout=settings.media_fetch_timeout_s, follow_redirects=False)
    proc = build(settings, es, store, http, load_config(settings.config_dir))
    runtime = KafkaRuntime(settings, proc, max_records=50)

    async def ready() -> dict[str, bool]:
        # store_ok is false only while a write is being retried, so it cannot stick.
        return {"kafka": runtime.ready, "object_store": proc.store_ok and await store.ping()}

    server = make_server(
        ops_app("media", ready, settings.environment), settings.http_host, settings.http_port
    )

    def stop() -> None:
        proc.stopping = True
        runtime.stop()
        server.should_exit = True

    try:
        await run_until_signalled("media", [runtime.run(), server.serve()], stop)
    finally:
        await proc.journal.close()
        await http.aclose()
        await es.close()


def main() -> None:
    asyncio.run(serve(MediaSettings()))
