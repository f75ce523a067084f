"""Kafka adapter for the indexer: decode, build documents, bulk-index with external
versions, and only then let the runtime commit. Elasticsearch down: retry, never drop."""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from aiokafka.structs import TopicPartition
from elasticsearch import AsyncElasticsearch

from socialdesk import indices
from socialdesk.authors import (
    AUTHOR_DAYS,
    ENTRY_EVENTS,
    author_day_document,
    day_index,
    expired_indices,
    merge_documents,
)
from socialdesk.config import PlatformConfig, load_config
from socialdesk.es import EsSink, VersionedDoc, alias, make_es
from socialdesk.events import AuditEvent, ItemEvent, SlaEvent, utcnow
from socialdesk.kafka import BatchResult, Meta, Output, StreamProcessor
from socialdesk.kafka.client import topic_name
from socialdesk.kafka.outputs import dead_for
from socialdesk.publishing import PostEvent
from socialdesk.retention import DataClass, periods_for
from socialdesk.settings import BaseServiceSettings
from socialdesk.stream import serve_processor
from socialdesk.topics import AUDIT_EVENTS, ITEMS_EVENTS, POSTS_EVENTS, SLA_EVENTS
from socialdesk_indexer.documents import (
    audit_document,
    correction_document,
    event_document,
    item_document,
    sla_document,
)
from socialdesk_indexer.posts import post_docs
from socialdesk_indexer.sweeper import RetentionSweeper

log = logging.getLogger(__name__)


def open_doc(index: str, item_id: str, seq: int, doc: dict[str, Any]) -> VersionedDoc:
    """The item's entry in the open-items index at the same version as the items index:
    the document while it is open, a versioned delete once it is not, so a late replay
    of an older open version cannot bring a closed item back, and a reopen (a newer
    version) does."""
    if doc.get("open"):
        return VersionedDoc(index, item_id, seq, doc)
    return VersionedDoc(index, item_id, seq, {}, delete=True)


class IndexerProcessor(StreamProcessor):
    service = "indexer"
    group_id = "socialdesk-indexer"
    topics: Sequence[str] = (ITEMS_EVENTS, SLA_EVENTS, AUDIT_EVENTS, POSTS_EVENTS)

    def __init__(
        self,
        settings: BaseServiceSettings,
        es: AsyncElasticsearch,
        clock: Callable[[], datetime] = utcnow,
        config: PlatformConfig | None = None,
    ) -> None:
        self.settings = settings
        self.es = es
        self.clock = clock
        self.sink = EsSink(es, settings)
        self._next_sweep = 0.0
        # Without a config (some tests) there is no policy to sweep by.
        self.sweeper = (
            RetentionSweeper(es, settings, config, clock)
            if config is not None and config.retention is not None
            else None
        )
        self.sweeps = False
        # One period for author history: the retention policy's; the setting only
        # where no policy is loaded (some tests).
        self.history_days = (
            periods_for(config, None)[DataClass.author_history].days
            if config is not None and config.retention is not None
            else settings.author_history_days
        )

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        # One instance sweeps: the one holding items.events partition 0 (every instance
        # sweeping would only repeat the work and the audit record).
        first = topic_name(self.settings, ITEMS_EVENTS)
        self.sweeps = any(tp.topic == first and tp.partition == 0 for tp in partitions)

    async def on_revoke(self, partitions: set[TopicPartition]) -> None:
        self.sweeps = False

    async def tick(self) -> BatchResult:
        """The retention sweep when due; its audit record goes to audit.events, where
        this service indexes it like any other."""
        if self.sweeper is None or not self.sweeps:
            return BatchResult()
        records = await self.sweeper.maybe_sweep()
        return BatchResult(outputs=[Output(AUDIT_EVENTS, r.actor.id, r) for r in records])

    def _history_starts(self) -> date:
        return self.clock().date() - timedelta(days=self.history_days)

    async def expire_author_days(self) -> list[str]:
        """Delete the per-author day indices older than the author history period: along
        with the first batch, then hourly (a failure is retried a minute later; indexing
        does not wait on it)."""
        now = time.monotonic()
        if now < self._next_sweep:
            return []
        self._next_sweep = now + 60
        stem = alias(self.settings, AUTHOR_DAYS)
        try:
            found = await self.es.indices.get(index=f"{stem}-*", expand_wildcards="open")
            old = expired_indices(stem, list(found.body), self.clock().date(), self.history_days)
            if old:
                await self.es.indices.delete(index=",".join(old))
                log.info("expired per-author day indices", extra={"deleted": len(old)})
        except Exception as exc:
            log.warning("author day retention failed", extra={"error": repr(exc)})
            return []
        self._next_sweep = now + 3600
        return old

    def decode(self, topic: str, raw: bytes) -> Any:
        if topic == ITEMS_EVENTS:
            return ItemEvent.model_validate_json(raw)
        if topic == SLA_EVENTS:
            return SlaEvent.model_validate_json(raw)
        if topic == POSTS_EVENTS:
            return PostEvent.model_validate_json(raw)
        return AuditEvent.model_validate_json(raw)

    def to_docs(self, value: Any) -> list[VersionedDoc]:
        s = self.settings
        if isinstance(value, ItemEvent):
            # Timeline entries never change: version 1, so a replay is a harmless 409.
            out = [VersionedDoc(alias(s, indices.EVENTS), value.event_id, 1, event_document(value))]
            doc = item_document(value)
            if doc is not None:
                out.append(VersionedDoc(alias(s, indices.ITEMS), value.item_id, value.seq, doc))
                out.append(open_doc(alias(s, indices.OPEN), value.item_id, value.seq, doc))
                author = author_day_document(doc) if value.type in ENTRY_EVENTS else None
                # A day already past the history kept is left alone: writing it would
                # bring back an index the retention sweep deleted, for no reader.
                if author is not None and author[0] >= self._history_starts():
                    day, day_id, day_doc = author
                    index = day_index(alias(s, AUTHOR_DAYS), day)
                    out.append(VersionedDoc(index, day_id, 0, day_doc, merge=True))
            corr = correction_document(value)
            if corr is not None:
                out.append(
                    VersionedDoc(alias(s, indices.CORRECTIONS), value.item_id, value.seq, corr)
                )
            return out
        if isinstance(value, SlaEvent):
            return [
                VersionedDoc(
                    alias(s, indices.SLA),
                    f"{value.item_id}:{value.clock}",
                    value.seq,
                    sla_document(value),
                )
            ]
        if isinstance(value, PostEvent):
            return post_docs(s, value)
        assert isinstance(value, AuditEvent)
        return [VersionedDoc(alias(s, indices.AUDIT), value.event_id, 1, audit_document(value))]

    async def drop_stale_open(
        self, docs: list[tuple[VersionedDoc, Meta, Any]]
    ) -> list[tuple[VersionedDoc, Meta, Any]]:
        """Open-index writes older than the item the items index holds are left out:
        noida-db forgets a deleted document's version (Elasticsearch after
        `index.gc_deletes`), so a redelivered open event would bring a closed item back."""
        open_ix = alias(self.settings, indices.OPEN)
        ids = [d.id for d, _, _ in docs if d.index == open_ix]
        if not ids:
            return docs
        items_ix = alias(self.settings, indices.ITEMS)
        resp = await self.sink.write(
            functools.partial(self.es.mget, index=items_ix, ids=ids, source=False)
        )
        held = {d["_id"]: int(d.get("_version") or 0) for d in resp["docs"] if d.get("found")}
        return [e for e in docs if e[0].index != open_ix or e[0].version >= held.get(e[0].id, 0)]

    async def write_open_first(self, docs: list[VersionedDoc]) -> list[tuple[VersionedDoc, str]]:
        """The open-items writes, made searchable, then the rest: whoever sees an item's
        change in the items index (search, a test waiting on it) finds the inbox agrees.
        Each index becomes searchable on its own refresh otherwise."""
        open_ix = alias(self.settings, indices.OPEN)
        first = [d for d in docs if d.index == open_ix]
        rejected = await self.sink.write_versioned(first) if first else []
        if first:
            await self.sink.write(functools.partial(self.es.indices.refresh, index=open_ix))
        rest = [d for d in docs if d.index != open_ix]
        return rejected + await self.sink.write_versioned(rest)

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        docs: list[tuple[VersionedDoc, Meta, Any]] = []
        for value, meta in batch:
            docs.extend((doc, meta, value) for doc in self.to_docs(value))
        # Within one batch only the newest version of a document matters; partial
        # documents of the same id are merged into one (later entries win).
        newest: dict[tuple[str, str], tuple[VersionedDoc, Meta, Any]] = {}
        for entry in docs:
            d = entry[0]
            k = (d.index, d.id)
            if d.merge and k in newest:
                both = merge_documents([newest[k][0].doc, d.doc])
                newest[k] = (VersionedDoc(d.index, d.id, 0, both, merge=True), entry[1], entry[2])
            elif k not in newest or newest[k][0].version < d.version:
                newest[k] = entry
        pending = await self.drop_stale_open(list(newest.values()))
        by_id = {(d.index, d.id): (meta, value) for d, meta, value in pending}
        rejected = await self.write_open_first([d for d, _, _ in pending])
        outputs: list[Output] = []
        for doc, reason in rejected:
            meta, value = by_id[(doc.index, doc.id)]
            outputs.append(dead_for(self.service, "index_rejected", reason, value, meta))
        await self.expire_author_days()
        return BatchResult(outputs=outputs)


def main() -> None:
    settings = BaseServiceSettings()
    es = make_es(settings)
    proc = IndexerProcessor(settings, es, config=load_config(settings.config_dir))
    asyncio.run(
        serve_processor(settings, proc, {"elasticsearch": proc.sink.ready}, max_records=2000)
    )
