"""Legal holds against the retention sweeper (socialdesk_indexer.sweeper) on the local
stack: a closed item past its period is kept while held (by item or by author), and goes
at the next sweep once the hold is released; an unheld one beside it goes at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

from elasticsearch import AsyncElasticsearch

from socialdesk import indices
from socialdesk.config import load_config
from socialdesk.erasing import place_hold, release_hold
from socialdesk.erasure import Hold, HoldScope
from socialdesk.es import alias, ensure_indices
from socialdesk.events import utcnow
from socialdesk.retention import SWEEP_ACTION
from socialdesk_indexer.flows import IndexerProcessor

from .conftest import Backend
from .helpers import Running, create_topics, settings_for, wait_until
from .test_retention_sweep import MINE, Clock, item, two_forces


def test_held_items_outlive_their_period_until_the_hold_is_released(
    noida: Backend, prefix: str, tmp_path: Path
) -> None:
    settings = settings_for(noida.kafka, prefix, noida.es_url)
    create_topics(settings)
    config = load_config(two_forces(tmp_path))
    now = utcnow()
    clock = Clock(now)
    docs = {
        "held-item": item("held-item", MINE, 400, now),
        "held-author": item("held-author", MINE, 400, now) | {"platform": "x", "author_id": "77"},
        "free": item("free", MINE, 400, now),
    }
    by_item = Hold("h-item", HoldScope.item, MINE, "CPS case 1", "sup", now, item_id="held-item")
    by_author = Hold(
        "h-author",
        HoldScope.author,
        MINE,
        "court order 2",
        "dpo",
        now,
        platform="x",
        author_id="77",
        until=now + timedelta(days=10),
    )

    async def run() -> None:
        es = AsyncElasticsearch(settings.elasticsearch_url)
        items = alias(settings, indices.ITEMS)
        audit = alias(settings, indices.AUDIT)

        async def ids() -> set[str]:
            await es.indices.refresh(index=items)
            res = await es.search(index=items, query={"match_all": {}}, size=100)
            return {h["_id"] for h in res["hits"]["hits"]}

        async def sweeps() -> int:
            await es.indices.refresh(index=audit)
            return int(
                (await es.count(index=audit, query={"term": {"action": SWEEP_ACTION}}))["count"]
            )

        try:
            await ensure_indices(es, settings)
            for item_id, doc in docs.items():
                await es.index(index=items, id=item_id, document=doc)
            await place_hold(es, settings, by_item)
            await place_hold(es, settings, by_author)
            async with Running(
                settings, IndexerProcessor(settings, es, clock=clock, config=config)
            ):
                await wait_until(lambda: _at_least(sweeps, 1), within=90)
                assert await ids() == {"held-item", "held-author"}
                assert await release_hold(es, settings, "h-item", MINE)
                assert not await release_hold(es, settings, "h-author", "cheshire")  # not theirs
                clock.now = now + timedelta(days=11)  # the author hold has ended too
                await wait_until(lambda: _at_least(sweeps, 2), within=60)
                assert await ids() == set()
        finally:
            await es.close()

    asyncio.run(run())


async def _at_least(count: Any, n: int) -> bool:
    return bool(await count() >= n)
