"""items.commands carries operators' replies and notes about a person for 30 days: with
sealing on, the console seals each command under the item author's key (real Kafka and
Elasticsearch from noida-db, triage and assign running). A note about Joanna is not
readable as stored, opens with the vault, is applied by assign, and after
erase_author_kafka opens no more (docs/data-protection.md, Kafka)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from elasticsearch import AsyncElasticsearch

from socialdesk.es import ensure_indices
from socialdesk.events import Actor, CommandType, ItemCommand, utcnow
from socialdesk.kafka import make_producer, produce_and_wait
from socialdesk.personal import author_key
from socialdesk.settings import IngestSettings
from socialdesk.shred import erase_author_kafka
from socialdesk.topics import ITEMS_COMMANDS
from socialdesk_assign.flows import AssignProcessor
from socialdesk_console.items import sealed_command
from socialdesk_ingest.views import create_app
from socialdesk_triage.flows import TriageProcessor

from .conftest import Backend
from .helpers import Running, create_topics, settings_for, wait_until
from .test_shred import (
    CONFIG,
    POLL,
    A,
    created_texts,
    every_record,
    held,
    mention,
    opened,
    post,
    readable,
    sealing,
)

pytestmark = pytest.mark.integration

TEXT = "@MerseyPolice my neighbour's dog has bitten my son on Park Road"
NOTE = "Joanna says the dog's owner lives at 14 Park Road and has threatened her before"


@pytest.fixture
async def ingest_sealed(noida: Backend, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
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


async def test_a_note_about_a_person_is_sealed_on_items_commands_and_shredded_with_them(
    noida: Backend, prefix: str, ingest_sealed: httpx.AsyncClient
) -> None:
    settings = sealing(settings_for(noida.kafka, prefix, noida.es_url))
    create_topics(settings)
    es = AsyncElasticsearch(settings.elasticsearch_url)
    await ensure_indices(es, settings)
    await es.close()
    assert (await post(ingest_sealed, mention(21, A, TEXT))).status_code == 200
    joanna = author_key("x", A["id"])

    async with (
        Running(settings, TriageProcessor(CONFIG)),
        Running(settings, AssignProcessor(settings, CONFIG)) as assign,
    ):

        async def created() -> str:
            return str((await created_texts(settings)).get(TEXT, {}).get("id", ""))

        item_id = await wait_until(created, within=120)
        note = ItemCommand(
            command_id=str(uuid.uuid4()),
            item_id=item_id,
            type=CommandType.note,
            actor=Actor(kind="operator", id="op.merseyside", force="merseyside"),
            issued_at=utcnow(),
            payload={"text": NOTE, "role": "operator"},
        )
        record = await sealed_command(settings, note, joanna)
        producer = make_producer(settings, "console-api")
        await producer.start()
        try:
            await produce_and_wait(producer, prefix, [record])
        finally:
            await producer.stop()

        # assign opens the sealed command and applies the note to the item.
        async def applied() -> bool:
            return NOTE in held(assign)

        await wait_until(applied, within=60)

    commands = [
        r for r in await every_record(noida.kafka, prefix) if r.topic == prefix + ITEMS_COMMANDS
    ]
    assert len(commands) == 1
    assert readable([commands[0].value or b""], NOTE) == []  # not readable as stored
    assert readable(await opened(settings, commands), NOTE) == [NOTE]  # opens with the key

    report = await erase_author_kafka(settings, joanna, [item_id])
    assert report["key_destroyed"] is True
    commands = [
        r for r in await every_record(noida.kafka, prefix) if r.topic == prefix + ITEMS_COMMANDS
    ]
    assert readable(await opened(settings, commands), NOTE) == []
