"""Kafka adapter for triage: decode, look up author context, grade the batch, produce.

The model is loaded (or trained from the shipped data) once at start-up; each batch is
scored in one vectorised call. Author context is read by id from the `authors` index
(socialdesk.authors) with a short timeout: if Elasticsearch is slow or away the batch
is graded without it (counted in socialdesk_triage_context_misses_total), never held
up or lost.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from elasticsearch import AsyncElasticsearch

from socialdesk.authors import AUTHOR_DAYS, author_key, recent_entries, window_docs
from socialdesk.config import PlatformConfig, load_config
from socialdesk.es import alias, make_es
from socialdesk.events import Mention, utcnow
from socialdesk.kafka import BatchResult, Meta, Output, StreamProcessor, process_each
from socialdesk.metrics import TRIAGE_CONTEXT_MISSES, TRIAGE_MODEL, TRIAGE_SCORED, TRIAGE_SECONDS
from socialdesk.settings import TriageSettings
from socialdesk.stream import serve_processor
from socialdesk.topics import MENTIONS_RAW, MENTIONS_TRIAGED
from socialdesk_triage.scorer import AuthorContext, Scorer, build_scorer
from socialdesk_triage.service import contexts_from_entries, triage_batch, triage_mention

log = logging.getLogger(__name__)

CONTEXT_BACKOFF_MIN_S = 1.0  # after a failed author-context search, skip it this long,
CONTEXT_BACKOFF_MAX_S = 30.0  # doubling while it keeps failing; a success resets it


class TriageProcessor(StreamProcessor):
    service = "triage"
    group_id = "socialdesk-triage"
    topics: Sequence[str] = (MENTIONS_RAW,)

    def __init__(
        self,
        config: PlatformConfig,
        scorer: Scorer | None = None,
        settings: TriageSettings | None = None,
        es: AsyncElasticsearch | None = None,
    ) -> None:
        self.config = config
        self.settings = settings or TriageSettings()
        self.scorer = scorer or build_scorer(
            self.settings.triage_data_dir, self.settings.triage_model_path
        )
        self.es = es
        self._context_paused_until = 0.0
        self._context_backoff_s = 0.0
        TRIAGE_MODEL.info({"version": self.scorer.version})

    def decode(self, topic: str, raw: bytes) -> Mention:
        return Mention.model_validate_json(raw)

    async def author_contexts(self, mentions: Sequence[Mention]) -> dict[str, AuthorContext]:
        if self.es is None or not self.settings.triage_author_context or not mentions:
            return {}
        if time.monotonic() < self._context_paused_until:
            TRIAGE_CONTEXT_MISSES.inc()  # graded without context, as on a timeout
            return {}
        days = self.settings.triage_context_days
        now = utcnow()
        keys = sorted({author_key(m.platform.value, m.author.id) for m in mentions})
        try:
            # By id, not by search: see socialdesk.authors.
            res = await asyncio.wait_for(
                self.es.mget(docs=window_docs(alias(self.settings, AUTHOR_DAYS), keys, now, days)),
                self.settings.triage_context_timeout_s,
            )
        except Exception as exc:
            TRIAGE_CONTEXT_MISSES.inc()
            # Back off rather than ask again at once: a timed-out search keeps the cluster
            # busy after we gave up, and every batch that waits it out is held up.
            self._context_backoff_s = min(
                CONTEXT_BACKOFF_MAX_S, max(CONTEXT_BACKOFF_MIN_S, 2 * self._context_backoff_s)
            )
            self._context_paused_until = time.monotonic() + self._context_backoff_s
            log.debug("author context unavailable", extra={"error": type(exc).__name__})
            return {}
        self._context_backoff_s = 0.0
        found = (d["_source"] for d in res["docs"] if d.get("found"))
        return contexts_from_entries(recent_entries(found, now - timedelta(days=days)), days)

    def _one(self, mention: Any, meta: Meta) -> list[Output]:
        triaged = triage_mention(mention, self.config, scorer=self.scorer)
        return [Output(MENTIONS_TRIAGED, triaged.item_key, triaged)]

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        mentions = [m for m, _ in batch]
        contexts = await self.author_contexts(mentions)
        started = time.perf_counter()
        try:
            triaged = triage_batch(mentions, self.config, self.scorer, contexts)
        except Exception:  # one bad message must not sink the batch: go one by one
            log.exception("batch triage failed; retrying message by message")
            return BatchResult(outputs=process_each(self.service, batch, self._one))
        per = (time.perf_counter() - started) / max(1, len(batch))
        outputs = []
        for t in triaged:
            TRIAGE_SECONDS.observe(per)
            TRIAGE_SCORED.labels(t.triage.priority.value, t.triage.intent.value).inc()
            outputs.append(Output(MENTIONS_TRIAGED, t.item_key, t))
        return BatchResult(outputs=outputs)


def main() -> None:
    settings = TriageSettings()
    config = load_config(settings.config_dir)
    processor = TriageProcessor(config, settings=settings, es=make_es(settings))
    gc.freeze()  # start-up objects (config, model) skip every later collection
    asyncio.run(serve_processor(settings, processor))
