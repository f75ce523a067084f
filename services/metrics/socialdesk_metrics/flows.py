"""Kafka adapter for metrics: per item (and per outbound post) the facts the reports
count, in a changelog-backed store; the cells they add up to, rebuilt from the facts on
assignment and kept current per batch; every changed cell written to the `rollups`
indices at most every `metrics_flush_s` (2 s), on stop, and whole on assignment.
Elasticsearch down: retry, never drop.

Cells are written per input partition (the partition is part of the document id), so
instances that own different partitions never write the same document; the reader sums
them. Days older than `metrics_keep_days` are final: their facts leave the store and
their cells stay in the index as they are.

An SLA result (met, breached) read before its item's facts (the topics are read at
their own pace, so after a restart or on a first run from the beginning it happens) is
kept in the store as a PendingSla and joins the facts when they come.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.structs import TopicPartition
from elasticsearch import AsyncElasticsearch, NotFoundError
from elasticsearch.helpers import async_bulk
from prometheus_client import Counter as PCounter
from prometheus_client import Gauge

from socialdesk import indices
from socialdesk.cells import INDEX_OF_KIND, local_day_hour
from socialdesk.config import PlatformConfig, load_config
from socialdesk.es import EsSink, alias, make_es
from socialdesk.events import ItemEvent, OutboundPost, SlaEvent
from socialdesk.kafka import BatchResult, Meta, Output, StreamProcessor, process_each
from socialdesk.settings import MetricsSettings
from socialdesk.statestore import ChangelogStore
from socialdesk.stream import serve_processor
from socialdesk.topics import ITEMS_EVENTS, METRICS_CHANGELOG, POSTS_OUTBOUND, SLA_EVENTS
from socialdesk_metrics.rollup import (
    Cells,
    Facts,
    ItemFacts,
    PendingSla,
    PostFacts,
    cell_documents,
    decode_facts,
    encode_facts,
    facts_from_item_event,
    facts_with_sla,
    pending_with_sla,
    post_facts,
    with_pending,
)

log = logging.getLogger(__name__)

CELLS_WRITTEN = PCounter("socialdesk_metrics_cells_written_total", "Report cells written")
LATE = PCounter(
    "socialdesk_metrics_late_events_total",
    "Events for items on days already final (older than the keep window), not counted",
)
LOOKUP_FAILED = PCounter(
    "socialdesk_metrics_repeat_lookup_failures_total",
    "Author look-ups that failed (those items are not counted as repeat contacts)",
)
FACTS = Gauge("socialdesk_metrics_facts", "Items and posts whose facts are kept")


class MetricsProcessor(StreamProcessor):
    service = "metrics"
    group_id = "socialdesk-metrics"
    topics: Sequence[str] = (ITEMS_EVENTS, SLA_EVENTS, POSTS_OUTBOUND)

    def __init__(
        self, settings: MetricsSettings, config: PlatformConfig, es: AsyncElasticsearch
    ) -> None:
        self.settings = settings
        self.config = config
        self.es = es
        self.items_index = alias(settings, indices.ITEMS)
        self.store: ChangelogStore[Facts] = ChangelogStore(
            settings, METRICS_CHANGELOG, decode_facts, encode_facts
        )
        self.stores = (self.store,)
        self.sink = EsSink(es, settings)
        self.cells: dict[int, Cells] = {}
        self._repeat: dict[str, bool] = {}
        self._sealed_at = 0.0
        self._flush_due = 0.0

    # ---- decoding and the per-message function ----------------------------------

    def decode(self, topic: str, raw: bytes) -> Any:
        if topic == ITEMS_EVENTS:
            return ItemEvent.model_validate_json(raw)
        if topic == SLA_EVENTS:
            return SlaEvent.model_validate_json(raw)
        return OutboundPost.model_validate_json(raw)

    def horizon(self) -> str:
        """The first local day whose cells may still change."""
        day = datetime.now(UTC) - timedelta(days=self.settings.metrics_keep_days)
        return local_day_hour(day.timestamp())[0]

    def _cells(self, partition: int) -> Cells:
        return self.cells.setdefault(partition, Cells())

    def _one(self, value: Any, meta: Meta) -> list[Output]:
        p = meta.partition
        if isinstance(value, OutboundPost):
            key = f"post:{value.id}"
            if self.store.get(p, key) is not None:
                return []  # a redelivery: counted once
            force = self.config.force_for_account(
                value.force_account.platform.value, value.force_account.handle
            )
            pf = post_facts(value, force)
            if pf is None:
                return []
            if local_day_hour(pf.posted)[0] < self.horizon():
                LATE.inc()
                return []
            self.store.put(p, key, pf)
            self._cells(p).add_post(pf)
            return []
        key = f"item:{value.item_id}"
        before = self.store.get(p, key)
        assert before is None or isinstance(before, ItemFacts)
        pending_key = f"sla:{value.item_id}"
        if isinstance(value, SlaEvent):
            if before is None:  # the item's facts have not arrived yet: keep the outcome
                pending = self.store.get(p, pending_key)
                assert pending is None or isinstance(pending, PendingSla)
                kept = pending_with_sla(pending, value)
                if kept is not None and kept is not pending:
                    self.store.put(p, pending_key, kept)
                return []
            after = facts_with_sla(before, value)
        else:
            if before is None and value.item is not None:
                if local_day_hour(value.item.created_at.timestamp())[0] < self.horizon():
                    LATE.inc()
                    return []
            after = facts_from_item_event(before, value, self._repeat.get(value.item_id, False))
            if before is None and after is not None:
                pending = self.store.get(p, pending_key)
                if isinstance(pending, PendingSla):
                    after = with_pending(after, pending)
                    self.store.delete(p, pending_key)
        if after is not None and after is not before:
            self.store.put(p, key, after)
            self._cells(p).replace_item(before, after)
        return []

    # ---- batches -----------------------------------------------------------------

    def _rebuild(self, partitions: set[int]) -> None:
        for p in partitions:
            cells = Cells()
            for facts in self.store.partitions.get(p, {}).values():
                if isinstance(facts, PostFacts):
                    cells.add_post(facts)
                elif isinstance(facts, ItemFacts):
                    cells.replace_item(None, facts)
            self.cells[p] = cells  # every cell dirty: rewritten once after a restore

    async def _lookup_repeats(self, batch: list[tuple[Any, Meta]]) -> None:
        """Which new items come from an author who wrote to the same force within the
        repeat window: one query per batch (items may live on other partitions)."""
        self._repeat = {}
        new: list[tuple[str, str, str, float]] = []
        for value, meta in batch:
            if (
                isinstance(value, ItemEvent)
                and value.item is not None
                and value.item.force is not None
                and self.store.get(meta.partition, f"item:{value.item_id}") is None
            ):
                it = value.item
                new.append((it.id, it.force or "", it.author.id, it.created_at.timestamp()))
        if not new:
            return
        window = self.settings.metrics_repeat_window_days * 86400
        earliest = min(c for *_, c in new) - window
        seen: dict[tuple[str, str], list[tuple[float, str]]] = {}
        for item_id, force, author, created in new:
            seen.setdefault((force, author), []).append((created, item_id))
        try:
            resp = await asyncio.wait_for(
                self.es.search(
                    index=self.items_index,
                    query={
                        "bool": {
                            "filter": [
                                {"terms": {"author_id": sorted({a for _, _, a, _ in new})}},
                                {"range": {"created_at": {"gte": int(earliest * 1000)}}},
                            ]
                        }
                    },
                    source_includes=["id", "force", "author_id", "created_at"],
                    size=1000,
                ),
                timeout=self.settings.metrics_lookup_timeout_s,
            )
            for hit in resp["hits"]["hits"]:
                s = hit["_source"]
                created = datetime.fromisoformat(s["created_at"]).timestamp()
                seen.setdefault((s.get("force") or "", s.get("author_id") or ""), []).append(
                    (created, s.get("id") or "")
                )
        except NotFoundError:
            pass  # no items index yet: nobody has written before
        except Exception as exc:
            LOOKUP_FAILED.inc(len(new))
            log.warning("repeat-contact look-up failed", extra={"error": repr(exc)})
        for item_id, force, author, created in new:
            self._repeat[item_id] = any(
                other != item_id and created - window <= at < created
                for at, other in seen[(force, author)]
            )

    async def flush(self) -> None:
        """Write every cell changed since the last flush."""
        self._flush_due = time.monotonic() + self.settings.metrics_flush_s
        docs = [
            {
                "_op_type": "index",
                "_index": alias(self.settings, INDEX_OF_KIND[doc["kind"]]),
                "_id": doc_id,
                "_source": doc,
            }
            for p, cells in self.cells.items()
            for doc_id, doc in cell_documents(cells, p)
        ]
        if docs:
            await self.sink.write(
                functools.partial(async_bulk, self.es, docs, chunk_size=1000, max_retries=2)
            )
            CELLS_WRITTEN.inc(len(docs))

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        await self._lookup_repeats(batch)
        outputs = process_each(self.service, batch, self._one)
        await self._flush_when_due()
        FACTS.set(len(self.store))
        return BatchResult(outputs=outputs)

    async def _flush_when_due(self) -> None:
        """Cells are overwritten at every flush, so at most every `metrics_flush_s`: a
        busy cell is written once for many batches. The facts behind them are in the
        changelog, and a restart rebuilds and writes every cell, so nothing is lost."""
        if time.monotonic() >= self._flush_due:
            await self.flush()

    async def on_restored(self, partitions: set[int]) -> None:
        self._rebuild(partitions)

    async def on_stop(self) -> None:
        await self.flush()

    async def tick(self) -> BatchResult:
        """Cells due to be written; about once an hour, days past the keep window
        become final."""
        await self._flush_when_due()
        if time.monotonic() - self._sealed_at < 3600:
            return BatchResult()
        self._sealed_at = time.monotonic()
        horizon = self.horizon()
        for p, key, facts in list(self.store.items()):
            if isinstance(facts, PostFacts):
                at = facts.posted
            elif isinstance(facts, ItemFacts):
                at = facts.created
            else:
                at = facts.at  # an outcome whose item never came
            if local_day_hour(at)[0] < horizon:
                self.store.delete(p, key)
        for cells in self.cells.values():
            cells.forget_days_before(horizon)
        return BatchResult()

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        """Cells follow the store: dropped for partitions that moved away, built for the
        ones just read back (a partition kept across the rebalance keeps its cells)."""
        owned = {tp.partition for tp in partitions}
        for p in set(self.cells) - owned:
            del self.cells[p]
        self._rebuild(owned - set(self.cells))
        await self.flush()


def main() -> None:
    settings = MetricsSettings()
    config = load_config(settings.config_dir)
    es = make_es(settings)
    proc = MetricsProcessor(settings, config, es)
    gc.freeze()  # start-up objects (config, modules) skip every later collection
    asyncio.run(
        serve_processor(settings, proc, {"elasticsearch": proc.sink.ready}, max_records=2000)
    )
