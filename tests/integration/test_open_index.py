"""The open-items index on a real Elasticsearch protocol (issue 26, item 2): the indexer
keeps each open item there beside the full history, takes it out when it closes (a
versioned delete, so a late replay of the open version does not bring it back), puts
it back when it is reopened, and an erasure removes it there too. A deployment from
before the index gets its open items copied in when the index is made."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

from elasticsearch import AsyncElasticsearch

from socialdesk import indices
from socialdesk.config import load_config
from socialdesk.erasing import Eraser
from socialdesk.erasure import JobStatus, Person
from socialdesk.es import alias, ensure_indices
from socialdesk.events import ItemEvent, ItemEventType, utcnow
from socialdesk.taxonomy import ItemStatus, Outcome
from socialdesk.topics import ITEMS_EVENTS
from socialdesk_assign.aggregate import apply_mention
from socialdesk_indexer.flows import IndexerProcessor
from tests.unit.conftest import make_mention, make_triaged

from .conftest import Backend
from .helpers import Running, create_topics, produce, settings_for, wait_until

ROOT = Path(__file__).resolve().parents[2]


def created_event(text: str, author_id: str) -> ItemEvent:
    mention = make_mention(text, author_id=author_id, conversation_id=f"c-{uuid.uuid4().hex}")
    ev = apply_mention(
        None,
        make_triaged(mention),
        load_config(ROOT / "config"),
        utcnow() - timedelta(minutes=5),
    ).events[-1]
    assert ev.type == ItemEventType.created and ev.item is not None
    return ev


def later(ev: ItemEvent, kind: ItemEventType, status: ItemStatus, seq: int) -> ItemEvent:
    """The same item after a close or a reopen, as assign would publish it."""
    assert ev.item is not None
    outcome = Outcome.signposted if status == ItemStatus.resolved else None
    item = ev.item.model_copy(update={"status": status, "outcome": outcome, "seq": seq})
    return ev.model_copy(
        update={"event_id": str(uuid.uuid4()), "seq": seq, "type": kind, "item": item}
    )


async def open_doc(es: AsyncElasticsearch, index: str, item_id: str) -> dict[str, Any] | None:
    resp = await es.options(ignore_status=404).get(index=index, id=item_id)
    return resp.get("_source") if resp.get("found") else None


def test_an_item_is_in_the_open_index_while_open_and_erasure_takes_it_out(
    noida: Backend, prefix: str
) -> None:
    settings = settings_for(noida.kafka, prefix, noida.es_url)
    create_topics(settings)
    created = created_event("my neighbour has not been seen for days, curtains shut", "7001")
    other = created_event("lads on off-road bikes tearing round the park again", "7002")
    item_id = created.item_id
    topic = prefix + ITEMS_EVENTS
    open_ix, items_ix = alias(settings, indices.OPEN), alias(settings, indices.ITEMS)

    async def send(*events: ItemEvent) -> None:
        await produce(
            noida.kafka, topic, [(e.item_id, e.model_dump_json().encode()) for e in events]
        )

    async def run() -> None:
        es = AsyncElasticsearch(settings.elasticsearch_url)
        try:
            await ensure_indices(es, settings)
            async with Running(settings, IndexerProcessor(settings, es)):
                await send(created, other)

                async def shown() -> bool:
                    return await open_doc(es, open_ix, item_id) is not None

                await wait_until(shown, within=60)
                doc = await open_doc(es, open_ix, item_id)
                full = await es.get(index=items_ix, id=item_id)
                assert doc == full["_source"]  # the same document: queries need no change
                assert full["_version"] == created.seq

                # Closed: gone from the open index, still in the history.
                await send(later(created, ItemEventType.resolved, ItemStatus.resolved, 2))

                async def gone() -> bool:
                    return await open_doc(es, open_ix, item_id) is None

                await wait_until(gone, within=60)
                kept = (await es.get(index=items_ix, id=item_id))["_source"]
                assert kept["status"] == "resolved" and kept["open"] is False

                # A late redelivery of the open version does not bring it back.
                await send(created)
                marker = later(other, ItemEventType.regraded, ItemStatus.new, 2)
                await send(marker)

                async def regraded() -> bool:
                    got = await es.get(index=items_ix, id=other.item_id)
                    return bool(got["_version"] == 2)

                await wait_until(regraded, within=60)  # the replay was handled before it
                assert await open_doc(es, open_ix, item_id) is None

                # Reopened: back, at its new version.
                await send(later(created, ItemEventType.reopened, ItemStatus.new, 3))
                await wait_until(shown, within=60)
                back = await es.get(index=open_ix, id=item_id)
                assert back["_version"] == 3 and back["_source"]["status"] == "new"

            # Erasure takes the author's open item out of the open index too.
            assert created.item is not None
            person = Person(created.item.platform.value, created.item.author.id)
            report = await Eraser(es, settings, objects=None, kafka=None).run(
                person, requested_by="dpo.test", reason="test", dry_run=False
            )
            assert report.status == JobStatus.done, report.problems
            await es.indices.refresh(index=open_ix)
            assert await open_doc(es, open_ix, item_id) is None
            # Another author's open item bearing their handle is redacted, not deleted:
            # the open copy shows exactly what the history shows.
            redacted = (await es.get(index=items_ix, id=other.item_id))["_source"]
            assert await open_doc(es, open_ix, other.item_id) == redacted
        finally:
            await es.close()

    asyncio.run(run())


def test_a_new_open_index_is_filled_with_the_open_items_already_indexed(
    noida: Backend, prefix: str
) -> None:
    settings = settings_for(noida.kafka, prefix, noida.es_url)
    open_ix, items_ix = alias(settings, indices.OPEN), alias(settings, indices.ITEMS)

    async def run() -> None:
        es = AsyncElasticsearch(settings.elasticsearch_url)
        try:
            await ensure_indices(es, settings)
            await es.indices.delete(index=f"{open_ix}-v1")  # as before the index existed
            for n in range(3):
                doc = {"id": f"i{n}", "force": "merseyside", "open": n != 1, "status": "new"}
                await es.index(
                    index=items_ix, id=f"i{n}", document=doc, version=5 + n, version_type="external"
                )
            await es.indices.refresh(index=items_ix)
            await ensure_indices(es, settings)
            await es.indices.refresh(index=open_ix)
            got = await es.search(index=open_ix, query={"match_all": {}}, version=True, size=10)
            found = {h["_id"]: h["_version"] for h in got["hits"]["hits"]}
            assert found == {"i0": 5, "i2": 7}  # the open ones, at their versions
        finally:
            await es.close()

    asyncio.run(run())
