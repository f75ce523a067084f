"""The erasure drill (issue 24's floor) on the local stack: one member of the public with
50 items across 3 forces, attachments (in the object store and its index), 8 days of
author history and messages in other people's threads, beside other authors; one of
their items under legal hold; Kafka's personal topics sealed per author. After
`socialdesk erase`: nothing in any Elasticsearch index names them except the held item,
no attachment object of theirs is left but the held item's, no Kafka record of theirs
opens (their messages in other people's threads included), the other people's items keep
their own messages, the other authors' counts are unchanged, and the audit trail records
the erasure without their personal data."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from elasticsearch import AsyncElasticsearch
from prometheus_client import REGISTRY

from socialdesk import indices
from socialdesk.config import load_config
from socialdesk.erasing import ATTACHMENTS, place_hold, scan
from socialdesk.erasure import ERASED_ACTION, ERASED_AUTHOR, Hold, HoldScope, Person, Store
from socialdesk.es import alias, ensure_indices
from socialdesk.events import Author, ForceAccount, ItemEvent, Mention, utcnow
from socialdesk.kafka import Output, ProducerHolder, produce_and_wait
from socialdesk.objectstore import ObjectStore, ObjectStoreSettings
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import ITEMS_EVENTS, MENTIONS_RAW
from socialdesk_assign.aggregate import ThreadState, apply_mention
from socialdesk_indexer.flows import IndexerProcessor
from socialdesk_tools.erasure import erase
from tests.unit.conftest import make_triaged

from .conftest import Backend
from .helpers import Running, create_topics, settings_for, wait_until
from .test_shred import every_record, opened

ROOT = Path(__file__).resolve().parents[2]
SUBJECT_ID, SUBJECT_HANDLE, MARK = "subject-31337", "erase_me_please", "SUBJECT-MARK"
FORCES = {"merseyside": "MerseyPolice", "cheshire": "cheshirepolice", "lancashire": "LancsPolice"}
OTHERS = ("other-1", "other-2", "other-3", "other-4")
NEEDLES = [SUBJECT_ID, SUBJECT_HANDLE, MARK]


def mention(n: str, author: str, handle: str, force: str, at: datetime, conv: str) -> Mention:
    text = (
        f"{MARK} my car was scratched again, number {n}"
        if author == SUBJECT_ID
        else (f"someone keeps leaving rubbish by the bins, note {n}")
    )
    return Mention(
        id=f"x:{n}",
        platform="x",
        native_id=n,
        channel="public_mention",
        author=Author(id=author, handle=handle),
        text=text,
        posted_at=at,
        received_at=at,
        force_account=ForceAccount(platform="x", handle=FORCES[force]),
        conversation_id=conv,
    )


def world(now: datetime) -> tuple[list[Mention], list[ItemEvent], list[str], list[str]]:
    """Item events for the subject's 50 items (3 forces, 8 days; someone else wrote in one
    of them), 20 items of others, 3 of which the subject also wrote in: (mentions, events,
    subject's item ids, the others' items they wrote in)."""
    config = load_config(ROOT / "config")
    states: dict[str, ThreadState] = {}
    events: list[ItemEvent] = []
    mentions: list[Mention] = []
    forces = list(FORCES)

    def apply(m: Mention, force: str) -> str:
        mentions.append(m)
        tm = make_triaged(m, force=force)
        applied = apply_mention(states.get(tm.item_key), tm, config, m.posted_at)
        states[tm.item_key] = applied.state
        events.extend(applied.events)
        return applied.events[-1].item_id

    mine = []
    for i in range(50):
        at = now - timedelta(days=i % 8, minutes=i)
        force = forces[i % 3]
        mine.append(apply(mention(f"s{i}", SUBJECT_ID, SUBJECT_HANDLE, force, at, f"cs{i}"), force))
    # Someone else writes in one of the subject's threads: kept for them, without the subject.
    at = now - timedelta(days=2, minutes=1)
    apply(mention("g0", OTHERS[1], f"h_{OTHERS[1]}", forces[2], at, "cs2"), forces[2])
    shared = []
    for j in range(20):
        at = now - timedelta(hours=j + 1)
        author = OTHERS[j % 4]
        force = forces[j % 3]
        item_id = apply(mention(f"o{j}", author, f"h_{author}", force, at, f"co{j}"), force)
        if j < 3:  # the subject joins the thread: an item of several people
            m = mention(
                f"f{j}", SUBJECT_ID, SUBJECT_HANDLE, force, at + timedelta(minutes=5), f"co{j}"
            )
            apply(m, force)
            shared.append(item_id)
    return mentions, events, mine, shared


async def send(settings: BaseServiceSettings, outputs: list[Output]) -> None:
    """Through the kit, as the services write: personal topics sealed per author."""
    holder = ProducerHolder(settings, "drill")
    try:
        await produce_and_wait(
            await holder.get(), settings.topic_prefix, outputs, settings=settings
        )
    finally:
        await holder.reset()


async def every_doc(es: AsyncElasticsearch, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    """(index, source) of every document under the test's prefix."""
    await es.indices.refresh(index=f"{prefix}-*")
    names = (await es.indices.get(index=f"{prefix}-*")).body
    out = []
    for name in sorted(names):
        out.extend([(name, h["_source"]) async for h in scan(es, name, {"match_all": {}})])
    return out


async def readable(settings: BaseServiceSettings, prefix: str) -> Counter[str]:
    """Per topic, the records read raw from the beginning of every topic that, opened with
    the vault as any service would, still contain their id, handle or text."""
    records = await every_record(settings.kafka_bootstrap, prefix)
    clear = await opened(settings, records)
    return Counter(
        r.topic[len(prefix) :]
        for r, text in zip(records, clear, strict=True)
        if any(n.encode() in text for n in NEEDLES)
    )


def names_subject(doc: dict[str, Any], key: str) -> bool:
    text = json.dumps(doc)
    return any(s in text for s in (SUBJECT_ID, SUBJECT_HANDLE, MARK, key))


def per_author(docs: list[tuple[str, dict[str, Any]]], items_index: str) -> Counter[str]:
    return Counter(str(d.get("author_id")) for ix, d in docs if ix.startswith(items_index))


def test_an_erased_person_leaves_nothing_but_held_items_and_others_are_untouched(
    noida: Backend, prefix: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    settings = settings_for(noida.kafka, prefix, noida.es_url).model_copy(
        update={"vault_seal": True, "vault_cache_ttl_s": 2.0}
    )
    create_topics(settings)
    assert noida.stack is not None  # the object store runs beside the local stack
    noida.stack.start_objectstore()
    request.addfinalizer(noida.stack.stop_objectstore)  # the session's stack outlives this test
    bucket = f"drill-{prefix.rstrip('.')}"
    monkeypatch.setenv("SOCIALDESK_S3_ENDPOINT_URL", noida.stack.objectstore_url)
    monkeypatch.setenv("SOCIALDESK_S3_BUCKET", bucket)
    store = ObjectStore(ObjectStoreSettings())
    # The subject's items are up to 49 minutes apart within each of 8 UTC days: run just
    # after midnight, they would spill onto a ninth day (the drill failed 00:00-00:50 UTC).
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    now = max(utcnow(), midnight + timedelta(hours=1))
    mentions, events, mine, shared = world(now)
    subject = Person("x", SUBJECT_ID)
    held_item = mine[1]  # a Cheshire item
    ix_prefix = settings.index_prefix

    async def run() -> None:
        es = AsyncElasticsearch(settings.elasticsearch_url)
        items = alias(settings, indices.ITEMS)
        try:
            await ensure_indices(es, settings)
            await send(settings, [Output(MENTIONS_RAW, m.id, m) for m in mentions])
            await send(settings, [Output(ITEMS_EVENTS, e.item_id, e) for e in events])
            for n, item_id in enumerate([*mine[:10], *shared]):  # an attachment each
                doc = {"item_id": item_id, "author_key": subject.key, "sha256": f"{n:064x}"}
                doc["object_key"] = f"attachments/{subject.key}/{item_id}/{doc['sha256']}"
                await es.index(index=alias(settings, ATTACHMENTS), document=doc)
                await store.put(doc["object_key"], f"{MARK} photo {n}".encode(), "image/jpeg")
            other_key = Person("x", OTHERS[0]).key
            other_object = f"attachments/{other_key}/someone-else/ab"
            await es.index(
                index=alias(settings, ATTACHMENTS),
                document={"item_id": "someone-else", "author_key": other_key, "sha256": "ab"},
            )
            await store.put(other_object, b"their own photo", "image/jpeg")
            await place_hold(
                es,
                settings,
                Hold(
                    hold_id="hold-1",
                    scope=HoldScope.item,
                    force="cheshire",
                    reason="evidence in a live prosecution",
                    by="sup.cheshire",
                    at=now,
                    item_id=held_item,
                ),
            )
            async with Running(settings, IndexerProcessor(settings, es)):

                async def indexed() -> bool:
                    await es.indices.refresh(index=items)
                    got = (await es.count(index=items))["count"]
                    days = await es.indices.get(index=f"{ix_prefix}-author-days-*")
                    return bool(got == 70 and len(days.body) == 8)

                await wait_until(indexed, within=90)
                before = await every_doc(es, ix_prefix)
                kafka_before = await readable(settings, prefix)
                dry = await erase(settings, subject, "dpo.drill", "DPO-REQ-1", dry_run=True)
                assert dry["counts"][Store.items] == 48 and dry["counts"][Store.items_redacted] == 4
                audit = alias(settings, indices.AUDIT)
                now_docs = await every_doc(es, ix_prefix)
                unchanged = [(ix, d) for ix, d in now_docs if not ix.startswith(audit)]
                assert unchanged == [(ix, d) for ix, d in before if not ix.startswith(audit)]
                report = await erase(settings, subject, "dpo.drill", "DPO-REQ-1", dry_run=False)

                async def audited() -> list[dict[str, Any]]:
                    audit = alias(settings, indices.AUDIT)
                    await es.indices.refresh(index=audit)
                    q = {"term": {"action": ERASED_ACTION}}
                    return [h["_source"] async for h in scan(es, audit, q)]

                [record] = await wait_until(audited, within=60)
            after = await every_doc(es, ix_prefix)
            left_objects = await store.list_prefix(f"attachments/{subject.key}/")
            others_objects = await store.list_prefix(other_object)
            kafka_after = await readable(settings, prefix)
        finally:
            await es.close()
            await store.delete_prefix("attachments/")

        assert report["status"] == "done", report
        took = datetime.fromisoformat(report["finished_at"]) - datetime.fromisoformat(report["at"])
        print(f"\nerasure of the subject (70 items indexed): {took.total_seconds():.2f} s")
        assert report["counts"][Store.items] == 48  # 50, less the held one and the shared one
        erased = REGISTRY.get_sample_value("socialdesk_erased_total", {"store": "items"})
        assert erased is not None and erased >= 48  # the metric counts what went
        assert report["counts"][Store.items_redacted] == 4
        assert report["counts"][Store.author_days] == 8  # one per day of history
        assert report["counts"][Store.attachments] == 12  # the held item's stays
        assert [h["item_id"] for h in report["held"]] == [held_item]
        # Nothing names them but the held item and what belongs to it, and the vault's
        # register of destroyed keys (their author key and when: how services learn it).
        register = alias(settings, indices.AUTHOR_ERASURES)
        erased_keys = [d for ix, d in after if ix == register]
        assert erased_keys == [
            {"author_key": subject.key, "erased_at": erased_keys[0]["erased_at"]}
        ]
        left = [(ix, d) for ix, d in after if names_subject(d, subject.key) and ix != register]
        assert {d.get("id") or d.get("item_id") for _, d in left} == {held_item}, [
            (ix, d.get("id") or d.get("item_id"), d.get("type")) for ix, d in left
        ]
        # The shared items keep their own author's message and lose the subject's.
        shared_docs = [d for ix, d in after if ix.startswith(items) and d.get("id") in shared]
        assert len(shared_docs) == 3
        [kept] = [d for ix, d in after if ix.startswith(items) and d.get("id") == mine[2]]
        assert kept["author_id"] == ERASED_AUTHOR and kept["text"].startswith("someone keeps")
        assert [m["author"] for m in kept["messages"]] == [f"h_{OTHERS[1]}"]
        assert all(len(d["messages"]) == 1 and "rubbish" in d["text"] for d in shared_docs)
        # Other authors: the same items as before.
        subject_names = (SUBJECT_ID, ERASED_AUTHOR)
        assert {a: n for a, n in per_author(after, items).items() if a not in subject_names} == {
            a: n for a, n in per_author(before, items).items() if a not in subject_names
        }
        # Objects: only the held item's; the other author's stays.
        assert [k.split("/")[2] for k in left_objects] == [held_item]
        assert others_objects == [other_object]
        assert report["counts"][Store.objects] == 12
        # Kafka: their key is destroyed, and nothing of theirs opens on any topic, their
        # messages in other people's threads included (sealed under their own key).
        assert report["kafka_key_destroyed"] is True
        assert report["counts"][Store.kafka] > 0  # tombstones on the compacted topics
        assert kafka_before[MENTIONS_RAW] == 53 and kafka_before[ITEMS_EVENTS] >= 53
        assert kafka_after == {}, kafka_after
        assert record["actor_id"] == "dpo.drill" and record["target_id"] == report["request_id"]
        assert record["details"]["counts"][Store.items] == 48
        assert not names_subject(record, subject.key)  # the record holds no personal data

    asyncio.run(run())
