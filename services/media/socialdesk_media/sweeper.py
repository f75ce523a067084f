"""Retention of attachments (config/national/retention.yaml `attachments`, per force):
the objects and their documents past the period are deleted, and one audit record says
how many went. Run from the media processor's tick(), as the indexer runs its sweeper.

The period counts from the fetch: an attachment is kept as long as an item, whose own
period (from its closure) is as long, so the file never outlives a record that needs it
by more than the time the item was open (docs/media.md, Limits)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from elasticsearch import AsyncElasticsearch
from prometheus_client import Counter

from socialdesk import indices
from socialdesk.config import PlatformConfig
from socialdesk.es import alias
from socialdesk.events import AuditEvent
from socialdesk.objectstore import ObjectStore
from socialdesk.retention import NO_FORCE, SWEEP_ACTION, DataClass, cutoff, periods_for, sweep_due
from socialdesk.settings import BaseServiceSettings

log = logging.getLogger(__name__)
DELETED = Counter(
    "socialdesk_media_retention_deleted_total", "Attachments deleted by retention", ["force"]
)
PAGE = 500
RETRY_AFTER = timedelta(minutes=1)


class AttachmentSweeper:
    def __init__(
        self,
        es: AsyncElasticsearch,
        store: ObjectStore,
        settings: BaseServiceSettings,
        config: PlatformConfig,
        clock: Callable[[], datetime],
    ) -> None:
        assert config.retention is not None
        self.es = es
        self.store = store
        self.index = alias(settings, indices.ATTACHMENTS)
        self.config = config
        self.clock = clock
        self.interval = config.retention.sweep_interval_minutes
        self.last: datetime | None = None

    async def maybe_sweep(self) -> list[AuditEvent]:
        """A sweep if one is due; a failed one is tried again a minute later."""
        now = self.clock()
        if not sweep_due(self.last, now, self.interval):
            return []
        try:
            return [await self.sweep(now)]
        except Exception as exc:
            log.warning("attachment retention sweep failed", extra={"error": repr(exc)})
            self.last = now - timedelta(minutes=self.interval) + RETRY_AFTER
            return []

    async def sweep(self, now: datetime) -> AuditEvent:
        deleted: dict[str, int] = {}
        # No index yet (nothing ever kept): each force's count is 0, still said per force.
        present = await self.es.indices.exists(index=self.index)
        if present:
            await self.es.indices.refresh(index=self.index)
        for force in [*sorted(self.config.forces), None]:
            days = periods_for(self.config, force)[DataClass.attachments].days
            n = await self._sweep_force(force, cutoff(now, days)) if present else 0
            deleted[force or NO_FORCE] = n
            DELETED.labels(force or NO_FORCE).inc(n)
        self.last = now
        return AuditEvent.by_system(
            "media",
            SWEEP_ACTION,
            force=None,
            target_id=None,
            target_type="retention",
            details={
                "totals": {DataClass.attachments.value: sum(deleted.values())},
                "deleted": {f: {DataClass.attachments.value: n} for f, n in deleted.items()},
            },
            role="retention",
            at=now,
        )

    async def _sweep_force(self, force: str | None, before: datetime) -> int:
        """Objects first, then the documents: a crash between them leaves a document
        that the next sweep finds again, never an object nobody can find."""
        owner: dict[str, Any] = (
            {"term": {"force": force}}
            if force is not None
            else {"bool": {"must_not": {"exists": {"field": "force"}}}}
        )
        query = {"bool": {"filter": [owner, {"range": {"fetched_at": {"lt": before.isoformat()}}}]}}
        total = 0
        while True:
            resp = await self.es.search(
                index=self.index,
                query=query,
                size=PAGE,
                source_includes=["object_key", "thumbnail_key"],
            )
            hits = resp["hits"]["hits"]
            if not hits:
                return total
            for h in hits:
                for key in (h["_source"].get("object_key"), h["_source"].get("thumbnail_key")):
                    if key:
                        await self.store.delete(key)
            ids = [h["_id"] for h in hits]
            await self.es.delete_by_query(
                index=self.index, query={"ids": {"values": ids}}, refresh=True, conflicts="proceed"
            )
            total += len(ids)
