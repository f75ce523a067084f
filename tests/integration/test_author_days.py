"""Per-author history (socialdesk.authors) on a real Elasticsearch protocol: the indexer
writes an item into its day's index, created from the template, and deletes the days
older than author_history_days; the window triage reads finds it."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

from elasticsearch import AsyncElasticsearch

from socialdesk.authors import AUTHOR_DAYS, day_index, window_docs
from socialdesk.config import load_config
from socialdesk.es import DAILY_MAPPINGS, alias, ensure_indices
from socialdesk.events import utcnow
from socialdesk.topics import ITEMS_EVENTS
from socialdesk_assign.aggregate import apply_mention
from socialdesk_indexer.flows import IndexerProcessor
from tests.unit.conftest import make_mention, make_triaged

from .conftest import Backend
from .helpers import Running, create_topics, produce, settings_for, wait_until

ROOT = Path(__file__).resolve().parents[2]


def test_the_indexer_keeps_each_authors_days_and_expires_old_ones(
    noida: Backend, prefix: str
) -> None:
    settings = settings_for(noida.kafka, prefix, noida.es_url)
    create_topics(settings)
    now = utcnow()
    created = apply_mention(
        None,
        make_triaged(make_mention("my neighbour has not been seen for days, curtains shut")),
        load_config(ROOT / "config"),
        now - timedelta(minutes=5),
    ).events[-1]
    assert created.type == "created" and created.item is not None
    stem = alias(settings, AUTHOR_DAYS)
    today = now.date()
    old = day_index(stem, today - timedelta(days=settings.author_history_days + 1))
    kept = day_index(stem, today - timedelta(days=settings.author_history_days))

    async def run() -> None:
        es = AsyncElasticsearch(settings.elasticsearch_url)
        try:
            await ensure_indices(es, settings)
            for name in (old, kept):
                await es.indices.create(index=name, mappings=DAILY_MAPPINGS[AUTHOR_DAYS])
            await produce(
                noida.kafka,
                prefix + ITEMS_EVENTS,
                [(created.item_id, created.model_dump_json().encode())],
            )
            key = f"{created.item.platform.value}:{created.item.author.id}"
            async with Running(settings, IndexerProcessor(settings, es)):

                async def written() -> bool:
                    res = await es.mget(docs=window_docs(stem, [key], now, 7))
                    return any(d.get("found") for d in res["docs"])

                await wait_until(written, within=60)

                async def expired() -> bool:
                    return not await es.indices.exists(index=old)

                await wait_until(expired, within=30)
            res = await es.mget(docs=window_docs(stem, [key], now, 7))
            [doc] = [d["_source"] for d in res["docs"] if d.get("found")]
            entry = doc["items"][created.item_id]
            assert entry["priority"] == created.item.priority.value
            assert entry["intent"] == created.item.intent.value
            mapping = (await es.indices.get_mapping(index=day_index(stem, today))).body
            [m] = mapping.values()
            assert m["mappings"]["properties"]["items"]["enabled"] is False  # the template's
            assert await es.indices.exists(index=kept)  # inside the history: kept
        finally:
            await es.close()

    asyncio.run(run())
