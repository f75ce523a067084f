"""`socialdesk erase`, `socialdesk restrict` and `socialdesk sar` as a DPO runs them,
against the local stack (settings from SOCIALDESK_* as in production): a dry run that
changes nothing, a ZIP with the person's items, an erasure that removes them and leaves
another person's, and each run's audit record on audit.events."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from hashlib import sha256
from pathlib import Path

import pytest
from elasticsearch import AsyncElasticsearch

from socialdesk import indices
from socialdesk.erasing import ATTACHMENTS, is_restricted
from socialdesk.es import alias, ensure_indices
from socialdesk.objectstore import ObjectStore, ObjectStoreSettings
from socialdesk.personal import author_key
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import AUDIT_EVENTS
from socialdesk_tools.cli import main

from .conftest import Backend
from .helpers import create_topics, es_items, read_all, settings_for

pytestmark = pytest.mark.integration
KEY = author_key("x", "555")
PHOTO = b"\xff\xd8\xff a photo of the broken shed door"


def item(item_id: str, author: str, text: str) -> dict[str, object]:
    return {
        "id": item_id,
        "force": "merseyside",
        "platform": "x",
        "author_id": author,
        "author_handle": f"h_{author}",
        "text": text,
        "messages": [{"author": f"h_{author}", "direction": "inbound", "text": text}],
        "priority": "P3",
        "reasons": ["a test grade"],
    }


def test_a_dpo_erases_restricts_and_exports_from_the_command_line(
    noida: Backend,
    prefix: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = settings_for(noida.kafka, prefix, noida.es_url)
    create_topics(settings)
    assert noida.stack is not None
    noida.stack.start_objectstore()
    request.addfinalizer(noida.stack.stop_objectstore)  # the session's stack outlives this test
    env = {
        "KAFKA_BOOTSTRAP": noida.kafka,
        "TOPIC_PREFIX": prefix,
        "INDEX_PREFIX": settings.index_prefix,
        "ELASTICSEARCH_URL": settings.elasticsearch_url,
        "ENVIRONMENT": "test",
        "S3_ENDPOINT_URL": noida.stack.objectstore_url,
        "S3_BUCKET": f"cli-{settings.index_prefix}",
    }
    for k, v in env.items():
        monkeypatch.setenv(f"SOCIALDESK_{k}", v)

    async def seed() -> None:
        es = AsyncElasticsearch(settings.elasticsearch_url)
        try:
            await ensure_indices(es, settings)
            for doc in (item("i1", "555", "first of mine"), item("i2", "555", "second of mine")):
                await es.index(index=alias(settings, indices.ITEMS), id=doc["id"], document=doc)
            doc = item("i3", "666", "someone else's")
            await es.index(index=alias(settings, indices.ITEMS), id="i3", document=doc)
            photo = {"item_id": "i1", "author_key": KEY, "sha256": sha256(PHOTO).hexdigest()}
            photo["object_key"] = f"attachments/{KEY}/i1/{photo['sha256']}"
            await es.index(index=alias(settings, ATTACHMENTS), document=photo, refresh=True)
            await ObjectStore(ObjectStoreSettings()).put(photo["object_key"], PHOTO, "image/jpeg")
        finally:
            await es.close()

    asyncio.run(seed())
    who = ["--platform", "x", "--author", "555", "--requested-by", "dpo.merseyside"]

    assert main(["erase", *who, "--reason", "DPO-CLI-1", "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert dry["dry_run"] is True and dry["counts"]["items"] == 2
    assert len(es_items(noida.es_url or "", prefix)) == 3  # nothing changed

    out = tmp_path / "sar.zip"
    assert main(["sar", *who, "--reason", "SAR-CLI-3", "--out", str(out)]) == 0
    z = zipfile.ZipFile(io.BytesIO(out.read_bytes()))
    assert {i["id"] for i in json.loads(z.read("items.json"))} == {"i1", "i2"}
    assert "someone else" not in z.read("messages.json").decode()
    assert z.read(f"attachments/i1/{sha256(PHOTO).hexdigest()}") == PHOTO
    assert json.loads(z.read("manifest.json"))["problems"] == []

    assert main(["restrict", *who, "--reason", "DPO-CLI-2"]) == 0
    assert asyncio.run(_restricted(settings.elasticsearch_url, settings))

    assert main(["erase", *who, "--reason", "DPO-CLI-1"]) == 0
    capsys.readouterr()
    assert [d["id"] for d in es_items(noida.es_url or "", prefix)] == ["i3"]
    assert asyncio.run(ObjectStore(ObjectStoreSettings()).list_prefix("attachments/")) == []

    bad = ["--platform", "myspace", "--author", "1", "--requested-by", "d", "--reason", "R-123"]
    with pytest.raises(SystemExit) as refused:
        main(["erase", *bad])
    assert refused.value.code == 2 and "invalid choice: 'myspace'" in capsys.readouterr().err
    records = [v for _, v in asyncio.run(read_all(noida.kafka, prefix + AUDIT_EVENTS))]
    actions = [v["action"] for v in records]
    [exported] = [v for v in records if v["action"] == "person.access_exported"]
    assert exported["details"]["reason"] == "SAR-CLI-3"  # the disclosure's justification
    assert actions == [
        "erasure.requested",  # before anything is read or changed
        "person.erasure_planned",
        "person.access_exported",
        "person.restricted",
        "erasure.requested",
        "person.erased",
    ]


async def _restricted(url: str, settings: BaseServiceSettings) -> bool:
    es = AsyncElasticsearch(url)
    try:
        return await is_restricted(es, settings, "x", "555")
    finally:
        await es.close()
