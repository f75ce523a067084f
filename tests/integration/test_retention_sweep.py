"""The retention sweeper (socialdesk_indexer.sweeper) on the local stack: documents written
with old timestamps are deleted once past their force's period, as the indexer's clock
moves; newer ones, open items and another force's documents stay; each sweep leaves an
audit record (through audit.events, indexed like any other) with its counts."""

from __future__ import annotations

import asyncio
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from elasticsearch import AsyncElasticsearch
from prometheus_client import REGISTRY

from socialdesk import indices
from socialdesk.authors import AUTHOR_DAYS, day_index
from socialdesk.config import load_config
from socialdesk.es import DAILY_MAPPINGS, alias, ensure_indices
from socialdesk.events import utcnow
from socialdesk.retention import SWEEP_ACTION
from socialdesk_indexer.flows import IndexerProcessor

from .conftest import Backend
from .helpers import Running, create_topics, settings_for, wait_until

ROOT = Path(__file__).resolve().parents[2]
MINE, OTHER = "merseyside", "cheshire"


def two_forces(tmp: Path) -> Path:
    """config/ with Merseyside (its own shorter periods) and Cheshire (the national)."""
    root = tmp / "config"
    shutil.copytree(ROOT / "config" / "national", root / "national")
    shutil.copytree(ROOT / "config" / "calendars", root / "calendars")
    (root / "forces").mkdir()
    for force in (MINE, OTHER):
        shutil.copy(ROOT / "config" / "forces" / f"{force}.yaml", root / "forces")
    path = root / "forces" / f"{MINE}.yaml"
    data = yaml.safe_load(path.read_text())
    data["retention"] = {
        "items": {"days": 365, "reason": "test: a force that keeps items a year"},
        "audit": {"days": 400, "reason": "test: a force that keeps audit 400 days"},
        "reports_rollups": {"days": 100, "reason": "test: a force that keeps 100 days"},
    }
    path.write_text(yaml.safe_dump(data))
    return root


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def item(item_id: str, force: str, age_days: int, now: datetime, *, open_: bool = False) -> Any:
    return {
        "id": item_id,
        "force": force,
        "open": open_,
        "status": "new" if open_ else "closed",
        "updated_at": (now - timedelta(days=age_days)).isoformat(),
        "created_at": (now - timedelta(days=age_days + 1)).isoformat(),
    }


def test_the_sweeper_deletes_what_is_past_each_forces_period_as_the_clock_moves(
    noida: Backend, prefix: str, tmp_path: Path
) -> None:
    settings = settings_for(noida.kafka, prefix, noida.es_url)
    create_topics(settings)
    config = load_config(two_forces(tmp_path))
    now = utcnow()
    clock = Clock(now)
    items = {
        "old-mine": item("old-mine", MINE, 366, now),  # past Merseyside's year
        "young-mine": item("young-mine", MINE, 300, now),  # due 65 days later
        "open-mine": item("open-mine", MINE, 3000, now, open_=True),  # open: never
        "old-other": item("old-other", OTHER, 366, now),  # Cheshire keeps six years
        "ancient-other": item("ancient-other", OTHER, 2200, now),  # past six years
    }
    audit = {
        "a-old-mine": (MINE, 401),
        "a-new-mine": (MINE, 10),
        "a-old-other": (OTHER, 401),
        "a-none": (None, 401),  # of no force: the national seven years
    }
    rollups = {"r-old-mine": (MINE, 101), "r-new-mine": (MINE, 99), "r-old-other": (OTHER, 101)}
    posts = {  # the national six years for both forces
        "p-old-mine": (MINE, "published", 2200),
        "p-draft-other": (OTHER, "draft", 2200),  # abandoned: goes too
        "p-scheduled-mine": (MINE, "scheduled", 2200),  # still to go out: stays
        "p-new-mine": (MINE, "published", 10),
    }
    stem = alias(settings, AUTHOR_DAYS)
    old_day = day_index(stem, now.date() - timedelta(days=9))
    kept_day = day_index(stem, now.date() - timedelta(days=8))

    async def run() -> None:
        es = AsyncElasticsearch(settings.elasticsearch_url)
        ix = {
            name: alias(settings, name) for name in vars(indices).values() if isinstance(name, str)
        }

        async def ids(index: str) -> set[str]:
            await es.indices.refresh(index=index)
            res = await es.search(index=index, query={"match_all": {}}, size=100)
            return {h["_id"] for h in res["hits"]["hits"]}

        async def sweeps() -> list[dict[str, Any]]:
            await es.indices.refresh(index=ix[indices.AUDIT])
            res = await es.search(
                index=ix[indices.AUDIT],
                query={"term": {"action": SWEEP_ACTION}},
                sort=[{"at": "desc"}],
                size=10,
            )
            return [h["_source"] for h in res["hits"]["hits"]]

        try:
            await ensure_indices(es, settings)
            for name in (old_day, kept_day):
                await es.indices.create(index=name, mappings=DAILY_MAPPINGS[AUTHOR_DAYS])
            for item_id, doc in items.items():
                await es.index(index=ix[indices.ITEMS], id=item_id, document=doc)
                ev = {"item_id": item_id, "force": doc["force"], "at": doc["updated_at"]}
                await es.index(index=ix[indices.EVENTS], id=f"ev-{item_id}", document=ev)
                await es.index(index=ix[indices.SLA], id=f"sla-{item_id}", document=ev)
            # The open copies: the open item's, and a stale one of a swept closed item
            # (its close written to the items index at a newer version than the copy).
            await es.index(index=ix[indices.OPEN], id="open-mine", document=items["open-mine"])
            ext = {"version_type": "external"}
            old_doc = items["old-mine"]
            await es.index(
                index=ix[indices.ITEMS], id="old-mine", document=old_doc, version=5, **ext
            )
            stale = {**old_doc, "open": True}
            await es.index(index=ix[indices.OPEN], id="old-mine", document=stale, version=3, **ext)
            for event_id, (force, age) in audit.items():
                at = (now - timedelta(days=age)).isoformat()
                doc = {"event_id": event_id, "at": at, "force": force, "action": "item.viewed"}
                await es.index(index=ix[indices.AUDIT], id=event_id, document=doc)
            for cell, (force, age) in rollups.items():
                day = (now - timedelta(days=age)).date().isoformat()
                doc = {"cell": cell, "force": force, "day": day, "n": 1}
                await es.index(index=ix[indices.ROLLUPS_TEAM], id=cell, document=doc)
            for post_id, (force, status, age) in posts.items():
                at = (now - timedelta(days=age)).isoformat()
                doc = {"id": post_id, "force": force, "status": status, "updated_at": at}
                await es.index(index=ix[indices.POSTS], id=post_id, document=doc)
            proc = IndexerProcessor(settings, es, clock=clock, config=config)
            async with Running(settings, proc):
                [first] = await wait_until(sweeps, within=90)
                assert await ids(ix[indices.ITEMS]) == {"young-mine", "open-mine", "old-other"}
                assert await ids(ix[indices.EVENTS]) == {
                    "ev-young-mine",
                    "ev-open-mine",
                    "ev-old-other",
                }
                assert "sla-old-mine" not in await ids(ix[indices.SLA])
                assert await ids(ix[indices.OPEN]) == {"open-mine"}
                left = await ids(ix[indices.AUDIT])
                assert {"a-new-mine", "a-old-other", "a-none"} <= left
                assert "a-old-mine" not in left
                assert await ids(ix[indices.ROLLUPS_TEAM]) == {"r-new-mine", "r-old-other"}
                assert not await es.indices.exists(index=old_day)
                assert await es.indices.exists(index=kept_day)
                deleted = first["details"]["deleted"]
                assert await ids(ix[indices.POSTS]) == {"p-scheduled-mine", "p-new-mine"}
                assert deleted[MINE] == {"items": 1, "audit": 1, "reports_rollups": 1, "posts": 1}
                assert deleted[OTHER] == {"items": 1, "audit": 0, "reports_rollups": 0, "posts": 1}
                assert first["details"]["totals"]["author_history"] == 1
                assert first["actor_id"] == "indexer"
                # The clock moves on 70 days: the young item is past the year now.
                clock.now = now + timedelta(days=70)
                await wait_until(lambda: _count(sweeps, 2), within=60)
                assert await ids(ix[indices.ITEMS]) == {"open-mine", "old-other"}
            swept = REGISTRY.get_sample_value(
                "socialdesk_retention_deleted_total", {"data_class": "items"}
            )
            assert swept is not None and swept >= 3
        finally:
            await es.close()

    asyncio.run(run())


async def _count(sweeps: Any, n: int) -> bool:
    return len(await sweeps()) >= n
