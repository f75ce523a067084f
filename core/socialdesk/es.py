"""Elasticsearch plumbing: client, index templates, versioned indices behind aliases,
externally-versioned bulk upserts so that replays and duplicates are harmless, and the
sink the streaming services write through (an outage is waited out, nothing dropped)."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from elasticsearch import AsyncElasticsearch

from socialdesk import indices
from socialdesk.authors import AUTHOR_DAYS
from socialdesk.backoff import Backoff
from socialdesk.settings import BaseServiceSettings

log = logging.getLogger(__name__)
R = TypeVar("R")

INDEX_VERSION = 1
EXTERNAL = {"version_type": "external"}

_TEXT = {"type": "text", "analyzer": "standard"}
_KW = {"type": "keyword"}
_DATE = {"type": "date"}

# Report cells written by the metrics service (socialdesk_metrics.rollup): the keys are indexed
# for filtering; the counters are stored, not indexed, and summed by the reader, so no
# percentiles or composite aggregation is needed.
ROLLUP_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "cell": _KW,
        "kind": _KW,
        "force": _KW,
        "day": _DATE,
        "team": _KW,
        "channel": _KW,
        "post_kind": _KW,
        "partition": {"type": "integer"},
        "n": {"type": "long"},
        "counts": {"type": "object", "enabled": False},
    },
}


MAPPINGS: dict[str, dict[str, Any]] = {
    "items": {
        "dynamic": False,
        "properties": {
            "id": _KW,
            "key": _KW,
            "force": _KW,
            "team": _KW,
            "status": _KW,
            "open": {"type": "boolean"},
            "priority": _KW,
            "priority_rank": {"type": "integer"},
            "intent": _KW,
            "flags": _KW,
            "urgency": {"type": "float"},
            "owner": _KW,
            "platform": _KW,
            "channel": _KW,
            "author_id": _KW,
            "author_handle": _KW,
            "text": _TEXT,
            "language": _KW,
            "outcome": _KW,
            "created_at": _DATE,
            "updated_at": _DATE,
            "first_mention_at": _DATE,
            "seq": {"type": "long"},
            "sla_first_response_due": _DATE,
        },
    },
    "sla": {
        "dynamic": False,
        "properties": {
            "item_id": _KW,
            "force": _KW,
            "team": _KW,
            "priority": _KW,
            "clock": _KW,
            "state": _KW,
            "deadline": _DATE,
            "at": _DATE,
            "seq": {"type": "long"},
        },
    },
    "corrections": {
        "dynamic": False,
        "properties": {
            "item_id": _KW,
            "force": _KW,
            "text": _TEXT,
            "language": _KW,
            "priority": _KW,
            "intent": _KW,
            "flags": _KW,
            "corrected_by": _KW,
            "at": _DATE,
            "seq": {"type": "long"},
        },
    },
    "events": {
        "dynamic": False,
        "properties": {
            "event_id": _KW,
            "item_id": _KW,
            "force": _KW,
            "type": _KW,
            "seq": {"type": "long"},
            "at": _DATE,
            "actor_id": _KW,
            "command_id": _KW,
        },
    },
    "rollups": ROLLUP_MAPPING,
    # Sub-cells in indices of their own: noida-db reads a whole index for each search,
    # so a whole-force report must not pay for the team and channel sub-cells.
    "rollups_team": ROLLUP_MAPPING,
    "rollups_channel": ROLLUP_MAPPING,
    "rollups_tc": ROLLUP_MAPPING,
    # One document per force post (socialdesk.publishing.Post), at the post's version.
    "posts": {
        "dynamic": False,
        "properties": {
            "id": _KW,
            "force": _KW,
            "status": _KW,
            "kind": _KW,
            "objective": _KW,
            "author_id": _KW,
            "accounts": _KW,
            "created_at": _DATE,
            "updated_at": _DATE,
            "publish_at": _DATE,
            "version": {"type": "long"},
        },
    },
    "audit": {
        "dynamic": False,
        "properties": {
            "event_id": _KW,
            "at": _DATE,
            "actor_id": _KW,
            "role": _KW,
            "action": _KW,
            "target_type": _KW,
            "target_id": _KW,
            "force": _KW,
            "source_ip": _KW,
        },
    },
    # Data protection (socialdesk.erasure): small indices the DPO's actions write.
    "legal-holds": {
        "dynamic": False,
        "properties": {
            "hold_id": _KW,
            "scope": _KW,
            "item_id": _KW,
            "author_key": _KW,
            "platform": _KW,
            "author_id": _KW,
            "force": _KW,
            "until": _DATE,
            "released": {"type": "boolean"},
            "at": _DATE,
        },
    },
    "restrictions": {
        "dynamic": False,
        "properties": {"author_key": _KW, "platform": _KW, "author_id": _KW, "at": _DATE},
    },
    "erasures": {
        "dynamic": False,
        "properties": {
            "request_id": _KW,
            "status": _KW,
            "at": _DATE,
            "author_key": _KW,
            "force": _KW,
        },
    },
    # Attachments kept as evidence (services/media, docs/media.md): found by item for the
    # console, by author_key for erasure and subject access, by age for retention.
    "attachments": {
        "dynamic": False,
        "properties": {
            "media_id": _KW,
            "item_id": _KW,
            "mention_id": _KW,
            "force": _KW,
            "author_key": _KW,
            "platform": _KW,
            "object_key": _KW,
            "sha256": _KW,
            "size": {"type": "long"},
            "content_type": _KW,
            "fetched_at": _DATE,
            "status": _KW,
            "reason": _KW,
        },
    },
}
# The open items (the indexer's second copy of each open item document, deleted when it
# closes): the inbox, board and duty queue search it, so their cost stays by open work
# rather than by the whole history (docs/architecture.md, "Elasticsearch: a projection").
MAPPINGS[indices.OPEN] = MAPPINGS[indices.ITEMS]


# Indices made one per day (`<prefix>-<name>-YYYY.MM.DD`) from a template on first write.
DAILY_MAPPINGS: dict[str, dict[str, Any]] = {
    # Per-author, per-day summaries (socialdesk.authors): read by id, never searched.
    AUTHOR_DAYS: {
        "dynamic": False,
        "properties": {
            "author": _KW,
            "day": _DATE,
            "items": {"type": "object", "enabled": False},
        },
    },
}


def alias(settings: BaseServiceSettings, name: str) -> str:
    return f"{settings.index_prefix}-{name}"


def make_es(settings: BaseServiceSettings) -> AsyncElasticsearch:
    kwargs: dict[str, Any] = {"request_timeout": 15, "retry_on_timeout": True, "max_retries": 2}
    if settings.elasticsearch_api_key is not None:
        kwargs["api_key"] = settings.elasticsearch_api_key.get_secret_value()
    elif settings.elasticsearch_username and settings.elasticsearch_password is not None:
        kwargs["basic_auth"] = (
            settings.elasticsearch_username,
            settings.elasticsearch_password.get_secret_value(),
        )
    if settings.elasticsearch_ca_certs is not None:
        kwargs["ca_certs"] = str(settings.elasticsearch_ca_certs)
    return AsyncElasticsearch(settings.elasticsearch_url, **kwargs)


async def _put_template(
    es: AsyncElasticsearch, stem: str, pattern: str, mapping: dict[str, Any]
) -> None:
    await es.indices.put_index_template(
        name=f"{stem}-template",
        index_patterns=[pattern],
        template={
            "settings": {"number_of_shards": 1, "refresh_interval": "1s"},
            "mappings": mapping,
        },
        priority=100,
    )


async def ensure_indices(es: AsyncElasticsearch, settings: BaseServiceSettings) -> list[str]:
    """Index templates, then `<prefix>-<name>-v<N>` indices behind `<prefix>-<name>` aliases;
    templates alone for the daily indices (created by their first write)."""
    created = []
    for name, mapping in DAILY_MAPPINGS.items():
        stem = alias(settings, name)
        await _put_template(es, stem, f"{stem}-*", mapping)
    for name, mapping in MAPPINGS.items():
        al = alias(settings, name)
        concrete = f"{al}-v{INDEX_VERSION}"
        await _put_template(es, al, f"{al}-v*", mapping)
        if not await es.indices.exists(index=concrete):
            await es.indices.create(
                index=concrete, aliases={al: {"is_write_index": True}}, mappings=mapping
            )
            created.append(concrete)
        elif not await es.indices.exists_alias(name=al):
            await es.indices.put_alias(index=concrete, name=al)
    fresh_open = f"{alias(settings, indices.OPEN)}-v{INDEX_VERSION}"
    if fresh_open in created:
        try:
            await fill_open(es, settings)
        except Exception:
            await es.indices.delete(index=fresh_open)  # made again, and filled, next time
            raise
    return created


async def fill_open(es: AsyncElasticsearch, settings: BaseServiceSettings) -> int:
    """Copy the open items of an existing items index into a new open-items index, at
    their versions (a deployment from before that index; the indexer keeps it after)."""
    items, target = alias(settings, indices.ITEMS), alias(settings, indices.OPEN)
    after: list[Any] | None = None
    copied = 0
    while True:
        kwargs: dict[str, Any] = {"search_after": after} if after is not None else {}
        resp = await es.search(
            index=items,
            query={"bool": {"filter": [{"term": {"open": True}}]}},
            sort=[{"id": "asc"}],
            size=1000,
            version=True,
            **kwargs,
        )
        hits = resp["hits"]["hits"]
        if not hits:
            return copied
        docs = [VersionedDoc(target, h["_id"], int(h["_version"]), h["_source"]) for h in hits]
        outcome = await bulk_versioned(es, docs)
        if outcome.retry or outcome.rejected:
            raise RuntimeError("open items not all copied")
        copied += len(hits)
        after = hits[-1]["sort"]


@dataclass(frozen=True)
class VersionedDoc:
    """A document to index at an external version, or (merge=True) a partial document
    merged into whatever is there (created if absent): the version is then unused."""

    index: str
    id: str
    version: int
    doc: dict[str, Any]
    merge: bool = False
    delete: bool = False  # a delete at this external version (a newer write still wins)


@dataclass(frozen=True)
class BulkOutcome:
    written: int
    skipped: int
    retry: list[VersionedDoc]
    rejected: list[tuple[VersionedDoc, str]]


async def bulk_versioned(es: AsyncElasticsearch, docs: list[VersionedDoc]) -> BulkOutcome:
    """Index documents with external versions (and merge the partial ones). A version
    conflict means a newer or the same event is already indexed, which is success for a
    projection. Documents the cluster could not take right now (429, 5xx) come back to
    retry; documents it refuses outright (a mapping error) come back as rejected, for
    the dead-letter topic."""
    if not docs:
        return BulkOutcome(0, 0, [], [])
    ops: list[dict[str, Any]] = []
    for d in docs:
        if d.merge:
            ops.append({"update": {"_index": d.index, "_id": d.id, "retry_on_conflict": 5}})
            ops.append({"doc": d.doc, "doc_as_upsert": True})
            continue
        if d.delete:
            ops.append(
                {"delete": {"_index": d.index, "_id": d.id, "version": d.version, **EXTERNAL}}
            )
            continue
        ops.append(
            {
                "index": {
                    "_index": d.index,
                    "_id": d.id,
                    "version": d.version,
                    "version_type": "external",
                }
            }
        )
        ops.append(d.doc)
    resp = await es.bulk(operations=ops, refresh=False)
    written = skipped = 0
    retry: list[VersionedDoc] = []
    rejected: list[tuple[VersionedDoc, str]] = []
    for d, entry in zip(docs, resp.get("items", []), strict=False):
        result = next(iter(entry.values()))
        status = int(result.get("status", 500))
        if status < 300:
            written += 1
        elif status == 409 or (status == 404 and d.delete):  # newer, or nothing to delete
            skipped += 1
        elif status == 429 or status >= 500:
            retry.append(d)
        else:
            rejected.append((d, str(result.get("error"))[:500]))
    return BulkOutcome(written, skipped, retry, rejected)


async def bulk_by_index(es: AsyncElasticsearch, docs: list[VersionedDoc]) -> BulkOutcome:
    """One bulk request per index, sent together: noida-db serves each on its own
    connection thread (docs/benchmarks.md). If any request fails the whole call raises
    and the caller retries them all; a document already written is then a harmless 409."""
    groups: dict[str, list[VersionedDoc]] = {}
    for d in docs:
        groups.setdefault(d.index, []).append(d)
    results = await asyncio.gather(
        *(bulk_versioned(es, g) for g in groups.values()), return_exceptions=True
    )
    outcomes: list[BulkOutcome] = []
    for r in results:
        if isinstance(r, BaseException):
            raise r
        outcomes.append(r)
    return BulkOutcome(
        written=sum(o.written for o in outcomes),
        skipped=sum(o.skipped for o in outcomes),
        retry=[d for o in outcomes for d in o.retry],
        rejected=[x for o in outcomes for x in o.rejected],
    )


class EsSink:
    """Where a streaming service writes its projection before the runtime commits: the
    indices are made on first use, and while the cluster is away the write is retried
    with backoff, so a batch is never committed without its documents."""

    def __init__(self, es: AsyncElasticsearch, settings: BaseServiceSettings) -> None:
        self.es = es
        self.settings = settings
        self._indices_ready = False

    async def ready(self) -> bool:
        """For /readyz: the cluster answers."""
        try:
            return bool(await self.es.ping())
        except Exception:
            return False

    async def write(self, send: Callable[[], Awaitable[R]]) -> R:
        """Run `send` (one write) until it succeeds."""
        backoff = Backoff(0.2, 10)
        while True:
            try:
                if not self._indices_ready:
                    await ensure_indices(self.es, self.settings)
                    self._indices_ready = True
                return await send()
            except Exception as exc:
                log.warning("elasticsearch unavailable, retrying", extra={"error": repr(exc)})
                await backoff.wait()

    async def write_versioned(self, docs: list[VersionedDoc]) -> list[tuple[VersionedDoc, str]]:
        """Write every document (or find a newer one there); documents the cluster could
        not take right now are sent again, the ones it refuses outright come back."""
        rejected: list[tuple[VersionedDoc, str]] = []
        backoff = Backoff(0.2, 10)
        pending = docs
        while pending:
            outcome = await self.write(functools.partial(bulk_by_index, self.es, pending))
            rejected.extend(outcome.rejected)
            pending = outcome.retry
            if pending:
                await backoff.wait()
        return rejected
