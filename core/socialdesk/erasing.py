"""Erasure of one person across the stores (socialdesk.erasure holds the rules): the
projection and search documents in Elasticsearch, attachment objects, the author-days
history, and the Kafka copies (socialdesk.shred's per-author keys). Used by the
`socialdesk erase` command and the console's data-protection page alike."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from elasticsearch import AsyncElasticsearch, NotFoundError
from prometheus_client import Counter

from socialdesk import indices
from socialdesk.erasure import (
    ErasureReport,
    Hold,
    JobStatus,
    Person,
    Store,
    held_by,
    holds_their_messages,
    is_own_item,
    redact_item,
    shared_with_others,
    their_events_query,
)
from socialdesk.es import alias
from socialdesk.events import utcnow
from socialdesk.settings import BaseServiceSettings

log = logging.getLogger(__name__)

ERASURES = Counter("socialdesk_erasures_total", "Erasure requests run, by outcome", ["status"])
ERASED = Counter(
    "socialdesk_erased_total", "Documents, objects and tombstones an erasure removed", ["store"]
)

PAGE = 500
ITEM_PARTS = {Store.events: indices.EVENTS, Store.sla: indices.SLA}
ATTACHMENTS = getattr(indices, "ATTACHMENTS", "attachments")  # the media branch's index


class Objects(Protocol):
    """The part of socialdesk.objectstore.ObjectStore erasure needs."""

    async def delete_prefix(self, prefix: str) -> int: ...


KafkaEraser = Callable[[BaseServiceSettings, str, list[str]], Awaitable[dict[str, Any]]]
Progress = Callable[[ErasureReport], Awaitable[None]]


def kafka_eraser() -> KafkaEraser | None:
    """socialdesk.shred.erase_author_kafka, or None where it is not installed."""
    try:
        from socialdesk import shred  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    fn: KafkaEraser | None = getattr(shred, "erase_author_kafka", None)
    return fn


def object_prefix(person: Person, item_id: str | None = None) -> str:
    """Where a person's attachment objects live: attachments/{author_key}/{item_id}/..."""
    base = f"attachments/{person.key}/"
    return f"{base}{item_id}/" if item_id else base


@dataclass
class Found:
    """Everything Elasticsearch holds that names the person, split by what happens."""

    person: Person
    own: list[dict[str, Any]] = field(default_factory=list)  # wholly theirs: to delete
    others: list[dict[str, Any]] = field(default_factory=list)  # shared: to redact
    held: list[tuple[dict[str, Any], list[Hold]]] = field(default_factory=list)
    elsewhere: int = 0  # items outside the force the erasure is for: left alone

    @property
    def own_ids(self) -> list[str]:
        return [str(d["id"]) for d in self.own]


async def scan(
    es: AsyncElasticsearch, index: str, query: dict[str, Any]
) -> AsyncIterator[dict[str, Any]]:
    """Every matching hit (with _id, _source and _version), in pages, from one snapshot."""
    try:
        pit = (await es.open_point_in_time(index=index, keep_alive="2m"))["id"]
    except NotFoundError:
        return
    after: list[Any] | None = None
    try:
        while True:
            kwargs: dict[str, Any] = {"search_after": after} if after is not None else {}
            resp = await es.search(
                pit={"id": pit, "keep_alive": "2m"},
                query=query,
                sort=["_shard_doc"],
                size=PAGE,
                version=True,
                **kwargs,
            )
            pit = resp.get("pit_id", pit)
            hits = resp["hits"]["hits"]
            if not hits:
                return
            for h in hits:
                yield h
            after = hits[-1]["sort"]
    finally:
        try:
            await es.close_point_in_time(id=pit)
        except Exception:  # noqa: S110 - the snapshot expires by itself
            pass


async def active_holds(
    es: AsyncElasticsearch, settings: BaseServiceSettings, now: datetime
) -> list[Hold]:
    """Every hold in force at `now`."""
    out = []
    query = {"bool": {"must_not": {"term": {"released": True}}}}
    async for h in scan(es, alias(settings, indices.LEGAL_HOLDS), query):
        hold = Hold.from_document(h["_source"])
        if hold.active(now):
            out.append(hold)
    return out


async def find(
    es: AsyncElasticsearch,
    settings: BaseServiceSettings,
    person: Person,
    now: datetime,
    force: str | None = None,
) -> Found:
    """The person's own items (by platform and author id), then every other item on
    the platform with a message of theirs (by the handles their own items show). With a
    force, only that force's items are to go; the others are counted as elsewhere."""
    holds = await active_holds(es, settings, now)
    items = alias(settings, indices.ITEMS)
    await es.indices.refresh(index=items)
    own_query = {
        "bool": {
            "filter": [
                {"term": {"platform": person.platform}},
                {"term": {"author_id": person.author_id}},
            ]
        }
    }
    own = [h async for h in scan(es, items, own_query)]
    person = person.with_handles(h["_source"].get("author_handle") for h in own)
    found = Found(person)
    # Messages are not indexed field by field: read the platform's items and look.
    others = scan(es, items, {"term": {"platform": person.platform}})
    for hit in [*own, *[h async for h in others if holds_their_messages(h["_source"], person)]]:
        doc = {**hit["_source"], "id": hit["_id"], "_version": hit.get("_version")}
        keep = held_by(doc, holds, now)
        if force is not None and doc.get("force") != force:
            found.elsewhere += 1
        elif keep:
            found.held.append((doc, keep))
        elif is_own_item(doc, person) and not shared_with_others(doc, person):
            found.own.append(doc)
        else:
            found.others.append(doc)
    return found


def new_request_id() -> str:
    return f"era_{uuid.uuid4().hex[:16]}"


class Eraser:
    """One erasure request, step by step, with its report kept current for the page."""

    def __init__(
        self,
        es: AsyncElasticsearch,
        settings: BaseServiceSettings,
        *,
        objects: Objects | None,
        kafka: KafkaEraser | None,
        progress: Progress | None = None,
        clock: Callable[[], datetime] = utcnow,
        force: str | None = None,
    ) -> None:
        self.force = force  # a force's DPO erases that force's copies only
        self.es = es
        self.settings = settings
        self.objects = objects
        self.kafka = kafka
        self.progress = progress
        self.clock = clock

    def _ix(self, name: str) -> str:
        return alias(self.settings, name)

    async def _step(self, report: ErasureReport, step: str) -> None:
        report.step = step
        if self.progress is not None:
            await self.progress(report)

    async def run(
        self,
        person: Person,
        *,
        requested_by: str,
        reason: str,
        dry_run: bool,
        request_id: str | None = None,
    ) -> ErasureReport:
        """Find, then (unless dry_run) erase; the report says what went and what stayed."""
        now = self.clock()
        report = ErasureReport(
            request_id=request_id or new_request_id(),
            author_key=person.key,
            platform=person.platform,
            requested_by=requested_by,
            reason=reason,
            requested_at=now,
            dry_run=dry_run,
            force=self.force,
        )
        try:
            await self._step(report, "finding")
            await self._refresh()
            found = await find(self.es, self.settings, person, now, self.force)
            if found.elsewhere:
                report.problems.append(
                    f"{found.elsewhere} items in other forces left: a national erasure "
                    "(socialdesk erase) or their forces' DPOs erase those"
                )
            report.held = [
                {"item_id": str(d["id"]), "hold_id": hs[0].hold_id, "force": str(d.get("force"))}
                for d, hs in found.held
            ]
            if dry_run:
                await self._count_only(found, report)
            else:
                await self._erase(found, report)
            report.status = JobStatus.done
        except Exception as exc:
            report.status = JobStatus.failed
            report.problems.append(f"{type(exc).__name__}: stopped at step {report.step}")
            log.warning("erasure failed", extra={"request_id": report.request_id})
        report.finished_at = self.clock()
        if not dry_run:
            ERASURES.labels(report.status.value).inc()
            for store, n in report.counts.items():
                ERASED.labels(store.value).inc(n)
        await self._step(report, "finished")
        return report

    async def _refresh(self) -> None:
        """Make every recent write searchable: a message indexed a second ago is found."""
        names = [
            indices.ITEMS,
            indices.OPEN,
            indices.EVENTS,
            indices.SLA,
            indices.CORRECTIONS,
            ATTACHMENTS,
        ]
        patterns = [*(self._ix(n) for n in names), f"{self._ix(indices.AUTHOR_DAYS)}-*"]
        await self.es.indices.refresh(
            index=",".join(patterns), ignore_unavailable=True, allow_no_indices=True
        )

    async def _count(self, index: str, query: dict[str, Any]) -> int:
        try:
            return int((await self.es.count(index=index, query=query))["count"])
        except NotFoundError:
            return 0

    async def _delete(self, index: str, query: dict[str, Any]) -> int:
        try:
            resp = await self.es.delete_by_query(
                index=index, query=query, conflicts="proceed", refresh=True
            )
        except NotFoundError:
            return 0
        return int(resp.get("deleted", 0))

    def _history_query(self, person: Person) -> dict[str, Any]:
        return {"term": {"author": person.history_key}}

    def _attachments_query(self, person: Person, held: list[str]) -> dict[str, Any]:
        query: dict[str, Any] = {"bool": {"filter": [{"term": {"author_key": person.key}}]}}
        if self.force is not None:
            query["bool"]["filter"].append({"term": {"force": self.force}})
        if held:
            query["bool"]["must_not"] = [{"terms": {"item_id": held}}]
        return query

    async def _count_only(self, found: Found, report: ErasureReport) -> None:
        """A dry run: what would go, store by store."""
        person, ids = found.person, found.own_ids
        held = [h["item_id"] for h in report.held]
        report.add(Store.items, len(found.own))
        report.add(Store.items_redacted, len(found.others))
        for store, index in ITEM_PARTS.items():
            report.add(store, await self._count(self._ix(index), {"terms": {"item_id": ids}}))
        if found.others:
            q = their_events_query([str(d["id"]) for d in found.others], person)
            report.add(Store.events, await self._count(self._ix(indices.EVENTS), q))
        corrections = [*ids, *(str(d["id"]) for d in found.others)]
        q = {"terms": {"item_id": corrections}}
        report.add(Store.corrections, await self._count(self._ix(indices.CORRECTIONS), q))
        days = f"{self._ix(indices.AUTHOR_DAYS)}-*"
        report.add(Store.author_days, await self._count(days, self._history_query(person)))
        q = self._attachments_query(person, held)
        report.add(Store.attachments, await self._count(self._ix(ATTACHMENTS), q))

    async def _erase(self, found: Found, report: ErasureReport) -> None:
        person, ids = found.person, found.own_ids
        held = [h["item_id"] for h in report.held]
        await self._step(report, "items")
        for store, index in ITEM_PARTS.items():
            report.add(store, await self._delete(self._ix(index), {"terms": {"item_id": ids}}))
        # Corrections copy an item's first message: theirs, or possibly theirs.
        corrections = [*ids, *(str(d["id"]) for d in found.others)]
        q = {"terms": {"item_id": corrections}}
        report.add(Store.corrections, await self._delete(self._ix(indices.CORRECTIONS), q))
        q = {"ids": {"values": ids}}
        report.add(Store.items, await self._delete(self._ix(indices.ITEMS), q) if ids else 0)
        if ids:  # the open-items copy goes with it (the same item, not counted twice)
            await self._delete(self._ix(indices.OPEN), q)
        await self._step(report, "redacting")
        for doc in found.others:
            await self._redact(doc, person, report)
        if found.others:
            q = their_events_query([str(d["id"]) for d in found.others], person)
            report.add(Store.events, await self._delete(self._ix(indices.EVENTS), q))
        await self._step(report, "author_history")
        days = f"{self._ix(indices.AUTHOR_DAYS)}-*"
        if not found.elsewhere:  # the history is one per person, across forces
            report.add(Store.author_days, await self._delete(days, self._history_query(person)))
        await self._step(report, "attachments")
        q = self._attachments_query(person, held)
        report.add(Store.attachments, await self._delete(self._ix(ATTACHMENTS), q))
        await self._erase_objects(found, report, held)
        await self._step(report, "kafka")
        if not found.elsewhere:  # one key per person: not while another force keeps items
            await self._erase_kafka(found, report)

    async def _redact(self, doc: dict[str, Any], person: Person, report: ErasureReport) -> None:
        version = doc.pop("_version", None)
        new, removed = redact_item(doc, person)
        if not removed:
            return
        kwargs: dict[str, Any] = {}
        if isinstance(version, int) and version > 1:  # the indexer's external version
            kwargs = {"version": version, "version_type": "external_gte"}
        await self.es.index(
            index=self._ix(indices.ITEMS), id=str(doc["id"]), document=new, refresh=True, **kwargs
        )
        if new.get("open"):  # the open-items copy shows the same messages
            await self.es.index(
                index=self._ix(indices.OPEN),
                id=str(doc["id"]),
                document=new,
                refresh=True,
                **kwargs,
            )
        report.add(Store.items_redacted, 1)

    async def _erase_objects(self, found: Found, report: ErasureReport, held: list[str]) -> None:
        if self.objects is None:
            report.problems.append("object store not configured: attachment objects not erased")
            return
        person = found.person
        if not held and self.force is None:
            report.add(Store.objects, await self.objects.delete_prefix(object_prefix(person)))
            return
        for item_id in [*found.own_ids, *(str(d["id"]) for d in found.others)]:
            n = await self.objects.delete_prefix(object_prefix(person, item_id))
            report.add(Store.objects, n)

    async def _erase_kafka(self, found: Found, report: ErasureReport) -> None:
        if self.kafka is None:
            report.problems.append("socialdesk.shred not installed: Kafka copies not shredded")
            return
        if report.held:  # one key per author: the held items' Kafka copies go too
            report.problems.append(
                "held items keep their Elasticsearch record; their Kafka copies are unreadable"
            )
        if not self.settings.sealing:
            report.problems.append(
                "Kafka's personal topics are not sealed here (SOCIALDESK_VAULT_SEAL off): "
                "their records stay readable until each topic's retention ends"
            )
        result = await self.kafka(self.settings, found.person.key, found.own_ids)
        report.kafka_key_destroyed = bool(result.get("key_destroyed"))
        report.add(Store.kafka, int(result.get("tombstones_total", 0)))


async def place_hold(es: AsyncElasticsearch, settings: BaseServiceSettings, hold: Hold) -> None:
    """Record a legal hold (refreshed, so a sweep or erasure that follows sees it)."""
    await es.index(
        index=alias(settings, indices.LEGAL_HOLDS),
        id=hold.hold_id,
        document=hold.document(),
        refresh=True,
    )


async def release_hold(
    es: AsyncElasticsearch, settings: BaseServiceSettings, hold_id: str, force: str | None
) -> bool:
    """End a hold early; False if there is no such hold in that force."""
    index = alias(settings, indices.LEGAL_HOLDS)
    try:
        doc = await es.get(index=index, id=hold_id)
    except NotFoundError:
        return False
    if doc["_source"].get("force") != force:
        return False
    await es.update(index=index, id=hold_id, doc={"released": True}, refresh=True)
    return True


async def holds_on(
    es: AsyncElasticsearch, settings: BaseServiceSettings, doc: dict[str, Any], now: datetime
) -> list[Hold]:
    """The active holds that keep one item (its projection document)."""
    return held_by(doc, await active_holds(es, settings, now), now)


async def set_restricted(
    es: AsyncElasticsearch,
    settings: BaseServiceSettings,
    person: Person,
    *,
    by: str,
    reason: str,
    restricted: bool,
) -> None:
    """Mark (or unmark) a person restricted: their items are for the DPO only."""
    index = alias(settings, indices.RESTRICTIONS)
    if not restricted:
        try:
            await es.delete(index=index, id=person.key, refresh=True)
        except NotFoundError:
            pass
        return
    doc = {
        "author_key": person.key,
        "platform": person.platform,
        "author_id": person.author_id,
        "by": by,
        "reason": reason,
        "at": utcnow().isoformat(),
    }
    await es.index(index=index, id=person.key, document=doc, refresh=True)


async def is_restricted(
    es: AsyncElasticsearch, settings: BaseServiceSettings, platform: str, author_id: str
) -> bool:
    """Whether the item author's processing is restricted (one get by id)."""
    key = Person(platform, author_id).key
    try:
        return bool(await es.exists(index=alias(settings, indices.RESTRICTIONS), id=key))
    except NotFoundError:
        return False


def object_store(settings: BaseServiceSettings) -> Any:
    """The attachment object store (socialdesk.objectstore, configured from SOCIALDESK_S3_*),
    or None where attachments are not built into this install: the report then says
    objects were not erased."""
    try:
        from socialdesk import objectstore  # type: ignore[attr-defined,unused-ignore]
    except ImportError:
        return None
    return objectstore.ObjectStore(objectstore.ObjectStoreSettings())
