"""Crypto-shredding on the real local stack (noida-db: Kafka and Elasticsearch): two
members of the public write in through ingest, their mentions run through triage,
assign, sla and the indexer; one of them is erased (erase_author_kafka). Then every
record of every topic, read from the beginning with a plain consumer and opened with
the vault itself, shows nothing of the erased person, while the other's records open,
and the services go on processing both (the erased person, writing again, is a new
person with a new key)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition
from elasticsearch import AsyncElasticsearch
from prometheus_client import REGISTRY

from socialdesk.config import load_config
from socialdesk.es import ensure_indices
from socialdesk.kafka.sealing import Sealer, personal_topics
from socialdesk.personal import author_key
from socialdesk.settings import BaseServiceSettings, IngestSettings
from socialdesk.shred import erase_author_kafka, readable_about
from socialdesk.topics import ASSIGN_CHANGELOG, DEADLETTER, ITEMS_EVENTS, MENTIONS_RAW
from socialdesk.vault import make_vault
from socialdesk_assign.flows import AssignProcessor
from socialdesk_indexer.flows import IndexerProcessor
from socialdesk_ingest.views import create_app
from socialdesk_sla.flows import SlaProcessor
from socialdesk_triage.flows import TriageProcessor

from .conftest import Backend
from .helpers import Running, create_topics, settings_for, wait_until

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
CONFIG = load_config(ROOT / "config")
POLL = 1.0  # how often a service asks which authors were erased (the cache: 60 s)

A = {"id": "7100000001", "handle": "jo_erase_me", "display_name": "Joanna Erasable"}
B = {"id": "7200000002", "handle": "sam_keep_me", "display_name": "Samuel Keepable"}
A_DM = "my ex keeps turning up at my flat on Quarry Lane, I'm scared"
A_PUBLIC = "@MerseyPolice someone smashed the window of my car on Ivy Terrace"
A_MEDIA = "https://pbs.example/media/jo-flat-door-9f1c.jpg"
A_BAD = "this line from Joanna names a field ingest does not know"
B_PUBLIC = "@MerseyPolice bike stolen outside Lime Street station this morning"
A_REPLY = "@sam_keep_me I saw two lads with bolt croppers there at 8, Joanna"
B_AGAIN = "@MerseyPolice it was a red Raleigh, frame number starts WX"
A_AGAIN = "sorry, one more thing: he has a key to the building"
A_SECRETS = (A["id"], A["handle"], A["display_name"], A_DM, A_PUBLIC, A_MEDIA, A_BAD, A_REPLY)
B_DATA = (B["id"], B["handle"], B["display_name"], B_PUBLIC)


def mention(n: int, who: dict[str, str], text: str, **kw: Any) -> dict[str, Any]:
    native = f"18600000000{n:04d}"  # a post id, not the author's id
    body: dict[str, Any] = {
        "id": f"x:{native}",
        "platform": "x",
        "native_id": native,
        "channel": "public_mention",
        "author": who,
        "text": text,
        "language": None,
        "posted_at": "2026-12-07T10:00:00Z",
        "received_at": "2026-12-07T10:00:01Z",
        "force_account": {"platform": "x", "handle": "MerseyPolice"},
        "conversation_id": native,
        "in_reply_to_id": None,
        "media": [],
        "links": [],
        "raw": {"source": "test"},
    }
    body.update(kw)
    return body


def sealing(settings: BaseServiceSettings) -> BaseServiceSettings:
    return settings.model_copy(update={"vault_seal": True, "vault_erasure_poll_s": POLL})


@pytest.fixture
async def ingest(noida: Backend, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = IngestSettings(
        environment="test",
        kafka_bootstrap=noida.kafka,
        topic_prefix=prefix,
        index_prefix=prefix.rstrip("."),
        elasticsearch_url=noida.es_url or "",
        ingest_api_keys="tests:k1",  # type: ignore[arg-type]
        vault_seal=True,
        vault_erasure_poll_s=POLL,
    )
    app = create_app(settings, CONFIG)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        yield client
    await app.state.ingest.close()


async def post(client: httpx.AsyncClient, *bodies: dict[str, Any]) -> httpx.Response:
    lines = "\n".join(json.dumps(b) for b in bodies)
    return await client.post("/v1/mentions", content=lines, headers={"X-Api-Key": "k1"})


async def every_record(kafka: str, prefix: str) -> list[ConsumerRecord]:
    """Every record of every topic of this test, from the beginning, as stored."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None, enable_auto_commit=False)
    await consumer.start()
    out: list[ConsumerRecord] = []
    try:
        topics = sorted(t for t in await consumer.topics() if t.startswith(prefix))
        tps = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        todo = {tp for tp in tps if ends[tp] > 0}
        while todo:
            for recs in (await consumer.getmany(*todo, timeout_ms=500)).values():
                out.extend(recs)
            todo = {tp for tp in todo if await consumer.position(tp) < ends[tp]}
    finally:
        await consumer.stop()
    return out


async def opened(settings: BaseServiceSettings, records: list[ConsumerRecord]) -> list[bytes]:
    """Each record's key and value as anyone holding the vault key would read them."""
    es = AsyncElasticsearch(settings.elasticsearch_url)
    try:
        sealer = Sealer(make_vault(settings, es), personal_topics(), settings.topic_prefix)
        recs = await sealer.open(records)
    finally:
        await es.close()
    return [(r.key or b"") + b" " + (r.value or b"") for r, _ in recs]


def readable(texts: list[bytes], *secrets: str) -> list[str]:
    return [s for s in secrets if any(s.encode() in t for t in texts)]


async def created_texts(settings: BaseServiceSettings) -> dict[str, dict[str, Any]]:
    """Each created item's first message text -> the item, from items.events opened."""
    topic = settings.topic_prefix + ITEMS_EVENTS
    records = [r for r in await every_record(settings.kafka_bootstrap, settings.topic_prefix)]
    values = await opened(settings, [r for r in records if r.topic == topic])
    out: dict[str, dict[str, Any]] = {}
    for raw in values:
        ev = json.loads(raw.split(b" ", 1)[1] or b"{}")
        if ev.get("type") == "created":
            out[ev["item"]["messages"][0]["text"]] = ev["item"]
    return out


async def test_erased_author_leaves_no_readable_kafka_record_and_others_flow_on(
    noida: Backend, prefix: str, ingest: httpx.AsyncClient
) -> None:
    settings = sealing(settings_for(noida.kafka, prefix, noida.es_url))
    create_topics(settings)
    es = AsyncElasticsearch(settings.elasticsearch_url)
    await ensure_indices(es, settings)
    a_dm = mention(1, A, A_DM, channel="direct_message", conversation_id=None)
    a_dm["media"] = [{"type": "image", "url": A_MEDIA}]
    r = await post(ingest, a_dm, mention(2, A, A_PUBLIC), mention(3, B, B_PUBLIC))
    assert r.status_code == 200 and r.json()["accepted"] == 3
    bad = await post(ingest, mention(4, A, A_BAD, unknown_field=1))
    assert bad.status_code == 400  # refused, and dead-lettered with Joanna's data in it

    async with (
        Running(settings, TriageProcessor(CONFIG)),
        Running(settings, AssignProcessor(settings, CONFIG)) as assign,
        Running(settings, SlaProcessor(settings, CONFIG)),
        Running(settings, IndexerProcessor(settings, es, config=CONFIG)),
    ):

        async def three() -> dict[str, dict[str, Any]]:
            items = await created_texts(settings)
            return items if len(items) >= 3 else {}

        items = await wait_until(three, within=120)
        a_items = [items[A_DM]["id"], items[A_PUBLIC]["id"]]
        a_dm_key = items[A_DM]["key"]

        # Joanna also replies in Samuel's public thread: one item, two people's data.
        b_post = mention(3, B, B_PUBLIC)["native_id"]
        reply = mention(7, A, A_REPLY, channel="reply", conversation_id=b_post)
        assert (await post(ingest, {**reply, "in_reply_to_id": b_post})).status_code == 200

        async def joined() -> bool:
            return A_REPLY in held(assign)

        await wait_until(joined, within=60)

        await sealed_at_rest_and_open_with_the_key(settings)

        report = await erase_author_kafka(settings, author_key("x", A["id"]), a_items)
        assert report["key_destroyed"] is True
        assert report["tombstones"][ASSIGN_CHANGELOG] == 2

        clear = await opened(settings, await every_record(noida.kafka, prefix))
        assert readable(clear, *A_SECRETS) == []
        assert set((await readable_about(settings, list(A_SECRETS))).values()) == {0}
        assert readable(clear, *B_DATA) == list(B_DATA)

        # The running assign lets go of what it held about Joanna (it learns of the
        # erasure within POLL, long before its 60 s key cache would have).
        async def forgotten() -> bool:
            state = held(assign)
            return A_DM not in state and A_REPLY not in state and B_PUBLIC in state

        await wait_until(forgotten, within=30)

        # The running services carry on: Samuel writes again, and Joanna, writing again
        # in the same direct-message thread, is a new person to them: a new key, and the
        # thread begins again with none of her old messages.
        a_dm_again = mention(6, A, A_AGAIN, channel="direct_message", conversation_id=None)
        again = await post(ingest, mention(5, B, B_AGAIN), a_dm_again)
        assert again.json()["accepted"] == 2

        async def both() -> dict[str, dict[str, Any]]:
            got = await created_texts(settings)
            return got if {B_AGAIN, A_AGAIN} <= set(got) else {}

        items = await wait_until(both, within=90)
        assert [m["text"] for m in items[A_AGAIN]["messages"]] == [A_AGAIN]
        assert items[A_AGAIN]["key"] == a_dm_key  # the same thread
        assert items[A_AGAIN]["seq"] == 1  # begun afresh: nothing of the erased thread
        final = await opened(settings, await every_record(noida.kafka, prefix))
        assert readable(final, A_DM, A_PUBLIC, A_MEDIA, A_BAD, A_REPLY) == []

    # A restart restores assign's state from its changelog: Joanna's old threads are
    # gone (tombstoned, and their sealed states unreadable), Samuel's are back.
    skipped_before = erased_count(ASSIGN_CHANGELOG)
    async with Running(settings, AssignProcessor(settings, CONFIG)) as restarted:

        async def restored() -> str:
            # every partition read back (a rebalance may move some while it settles)
            state = held(restarted)
            return state if B_PUBLIC in state and A_AGAIN in state else ""

        # a fresh member's rebalance and restore are slow on a loaded 2-core machine
        state = await wait_until(restored, within=180, explain=restarted.explain)
        assert A_DM not in state and A_PUBLIC not in state and A_REPLY not in state
    # her old thread states were read, skipped as erased and counted, not dead-lettered
    assert erased_count(ASSIGN_CHANGELOG) > skipped_before
    dead = [r for r in await every_record(noida.kafka, prefix) if r.topic.endswith(DEADLETTER)]
    assert len(dead) == 1  # only the line ingest refused
    await es.close()


async def sealed_at_rest_and_open_with_the_key(settings: BaseServiceSettings) -> None:
    """Before the erasure: nothing of Joanna's is readable as stored, all of it opens."""
    prefix = settings.topic_prefix
    stored = await every_record(settings.kafka_bootstrap, prefix)
    assert {r.topic[len(prefix) :] for r in stored} >= {
        MENTIONS_RAW,
        ITEMS_EVENTS,
        ASSIGN_CHANGELOG,
        DEADLETTER,
    }
    raw = [(r.key or b"") + b" " + (r.value or b"") for r in stored]
    assert readable(raw, *A_SECRETS) == []
    assert set(readable(await opened(settings, stored), *A_SECRETS)) == set(A_SECRETS)
    before = await readable_about(settings, list(A_SECRETS))
    # the check reads every topic, not just the first it meets
    assert {t for t, n in before.items() if n} >= {MENTIONS_RAW, ITEMS_EVENTS, ASSIGN_CHANGELOG}


def erased_count(topic: str) -> float:
    value = REGISTRY.get_sample_value("socialdesk_kafka_erased_records_total", {"topic": topic})
    return value or 0.0


def held(assign: Running) -> str:
    """Everything assign holds in its state store, as text."""
    store = assign.runtime.proc.store  # type: ignore[attr-defined]
    return json.dumps([v.model_dump(mode="json") for _, _, v in store.items()])
