"""The retention sweeper: deletes the Elasticsearch documents past their period
(socialdesk.retention, config/national/retention.yaml), per force and data class, and
says what it did in one audit record per sweep. The indexer runs it from tick(): it owns
the projection it deletes from. Kafka's own retention.ms deletes the raw mentions."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import AsyncElasticsearch
from prometheus_client import Counter

from socialdesk import indices
from socialdesk.authors import AUTHOR_DAYS, expired_indices
from socialdesk.config import PlatformConfig
from socialdesk.erasing import active_holds
from socialdesk.erasure import hold_query
from socialdesk.es import VersionedDoc, alias, bulk_versioned, ensure_indices
from socialdesk.events import AuditEvent
from socialdesk.post_model import PostStatus
from socialdesk.retention import (
    NO_FORCE,
    SWEEP_ACTION,
    DataClass,
    SweepTarget,
    periods_for,
    sweep_due,
    sweep_targets,
)
from socialdesk.settings import BaseServiceSettings

log = logging.getLogger(__name__)

DELETED = Counter(
    "socialdesk_retention_deleted_total",
    "Documents (author history: daily indices) deleted by the retention sweeper",
    ["data_class"],
)
PAGE = 1000  # items looked up per round: their timelines are deleted with them
ITEM_PARTS = (indices.EVENTS, indices.SLA, indices.CORRECTIONS)
ROLLUP_INDICES = (
    indices.ROLLUPS,
    indices.ROLLUPS_TEAM,
    indices.ROLLUPS_CHANNEL,
    indices.ROLLUPS_TC,
)
RETRY_AFTER = timedelta(minutes=1)
POSTS_WAITING = (PostStatus.scheduled, PostStatus.publishing)  # still to go out


def _of_force(force: str | None) -> dict[str, Any]:
    if force is None:
        return {"bool": {"must_not": {"exists": {"field": "force"}}}}
    return {"term": {"force": force}}


def stale_open(index: str, resp: Any) -> list[VersionedDoc]:
    """Versioned deletes from the open-items index of the closed items a search found."""
    return [
        VersionedDoc(index, h["_id"], int(h["_version"]), {}, delete=True)
        for h in resp["hits"]["hits"]
        if isinstance(h.get("_version"), int) and h["_version"] > 0
    ]


class RetentionSweeper:
    """One sweep every `sweep_interval_minutes`, the first on the first tick."""

    def __init__(
        self,
        es: AsyncElasticsearch,
        settings: BaseServiceSettings,
        config: PlatformConfig,
        clock: Callable[[], datetime],
    ) -> None:
        assert config.retention is not None
        self.es = es
        self.settings = settings
        self.config = config
        self.clock = clock
        self.interval = config.retention.sweep_interval_minutes
        self.last: datetime | None = None

    def _index(self, name: str) -> str:
        return alias(self.settings, name)

    async def maybe_sweep(self) -> list[AuditEvent]:
        """A sweep if one is due; a failed one is tried again a minute later."""
        now = self.clock()
        if not sweep_due(self.last, now, self.interval):
            return []
        try:
            return [await self.sweep(now)]
        except Exception as exc:
            log.warning("retention sweep failed", extra={"error": repr(exc)})
            self.last = now - timedelta(minutes=self.interval) + RETRY_AFTER
            return []

    async def sweep(self, now: datetime) -> AuditEvent:
        """Delete everything past its period at `now`; the audit record of what went."""
        deleted: dict[str, dict[str, int]] = {}
        # on a new deployment the first sweep can come before the first write creates them
        await ensure_indices(self.es, self.settings)
        parts = [self._index(n) for n in (indices.ITEMS, indices.OPEN, indices.AUDIT, *ITEM_PARTS)]
        await self.es.indices.refresh(index=",".join(parts + self._rollups()))
        held = hold_query(await active_holds(self.es, self.settings, now), now)
        for target in sweep_targets(self.config, now):
            n = await self._sweep_one(target, held)
            counts = deleted.setdefault(target.force or NO_FORCE, {})
            counts[target.data_class.value] = n
            DELETED.labels(target.data_class.value).inc(n)
        days = await self._expire_author_days(now)
        DELETED.labels(DataClass.author_history.value).inc(days)
        totals: dict[str, int] = {DataClass.author_history.value: days}
        for counts in deleted.values():
            for dc, n in counts.items():
                totals[dc] = totals.get(dc, 0) + n
        self.last = now
        log.info("retention sweep", extra={"deleted": totals})
        return AuditEvent.by_system(
            "indexer",
            SWEEP_ACTION,
            force=None,
            target_id=None,
            target_type="retention",
            details={"totals": totals, "deleted": deleted},
            role="retention",
            at=now,
        )

    def _rollups(self) -> list[str]:
        return [self._index(n) for n in ROLLUP_INDICES]

    async def _sweep_one(self, target: SweepTarget, held: dict[str, Any] | None) -> int:
        if target.data_class == DataClass.items:
            return await self._sweep_items(target, held)
        if target.data_class == DataClass.audit:
            query = {"range": {"at": {"lt": target.before.isoformat()}}}
            return await self._delete(self._index(indices.AUDIT), target.force, query)
        if target.data_class == DataClass.posts:
            return await self._sweep_posts(target)
        day = {"range": {"day": {"lt": target.before.date().isoformat()}}}
        return await self._delete(",".join(self._rollups()), target.force, day)

    async def _sweep_posts(self, target: SweepTarget) -> int:
        """Posts last changed before the cut-off, drafts included; one still waiting to
        go out stays whatever its age."""
        index = self._index(indices.POSTS)
        if not await self.es.indices.exists(index=index):
            return 0  # no post written yet
        await self.es.indices.refresh(index=index)
        query = {
            "bool": {
                "filter": [{"range": {"updated_at": {"lt": target.before.isoformat()}}}],
                "must_not": [{"terms": {"status": [s.value for s in POSTS_WAITING]}}],
            }
        }
        return await self._delete(index, target.force, query)

    async def _delete(self, index: str, force: str | None, query: dict[str, Any]) -> int:
        resp = await self.es.delete_by_query(
            index=index,
            query={"bool": {"filter": [_of_force(force), query]}},
            conflicts="proceed",
            refresh=True,
        )
        return int(resp.get("deleted", 0))

    async def _sweep_items(self, target: SweepTarget, held: dict[str, Any] | None) -> int:
        """Closed items last changed before the cut-off, with their timelines, clocks and
        corrections; an open item, or one under legal hold, stays whatever its age."""
        query: dict[str, Any] = {
            "bool": {
                "filter": [
                    _of_force(target.force),
                    {"term": {"open": False}},
                    {"range": {"updated_at": {"lt": target.before.isoformat()}}},
                ]
            }
        }
        if held is not None:
            query["bool"]["must_not"] = [held]
        total = 0
        while True:
            resp = await self.es.search(
                index=self._index(indices.ITEMS), query=query, size=PAGE, source=False, version=True
            )
            ids = [h["_id"] for h in resp["hits"]["hits"]]
            if not ids:
                return total
            for part in ITEM_PARTS:
                await self.es.delete_by_query(
                    index=self._index(part),
                    query={"terms": {"item_id": ids}},
                    conflicts="proceed",
                    refresh=True,
                )
            # Their open copies went when they closed; a stale one goes too, at the
            # version seen here, so an item reopened meanwhile (newer) stays open.
            await bulk_versioned(self.es, stale_open(self._index(indices.OPEN), resp))
            resp = await self.es.delete_by_query(
                index=self._index(indices.ITEMS),
                query={"ids": {"values": ids}},
                conflicts="proceed",
                refresh=True,
            )
            n = int(resp.get("deleted", 0))
            total += n
            if len(ids) < PAGE or n == 0:  # n == 0: the same page again would never end
                return total

    async def _expire_author_days(self, now: datetime) -> int:
        """Whole per-author days older than the author history period."""
        keep = periods_for(self.config, None)[DataClass.author_history].days
        stem = alias(self.settings, AUTHOR_DAYS)
        found = await self.es.indices.get(index=f"{stem}-*", expand_wildcards="open")
        old = expired_indices(stem, list(found.body), now.date(), keep)
        if old:
            await self.es.indices.delete(index=",".join(old))
        return len(old)
