"""Ingest's webhooks against a real broker: 200 only after Kafka acknowledged, one
record per platform message however often the platform redelivers (also across a
restart), 400 + dead letter for a shape we don't know, 503 + Retry-After while Kafka is
away."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from socialdesk.config import load_config
from socialdesk.settings import IngestSettings
from socialdesk_ingest import signatures
from socialdesk_ingest.views import create_app
from socialdesk_tools.stack import tansu

from .conftest import Backend
from .helpers import create_topics, read_all

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
CONFIG = load_config(ROOT / "config")
REFUSED = {"unknown_object.json", "activity_unknown.json"}
META = [p for p in sorted((FIXTURES / "meta").glob("*.json")) if p.name not in REFUSED]
X = [p for p in sorted((FIXTURES / "x").glob("activity_*.json")) if p.name not in REFUSED]


def ingest_settings(kafka: str, prefix: str, broker: str = "noida", **kw: object) -> IngestSettings:
    opts: dict[str, object] = {
        "environment": "test",
        "kafka_bootstrap": kafka,
        "kafka_idempotent_producer": broker != "tansu",
        "topic_prefix": prefix,
        "meta_app_secret": "meta-secret",
        "meta_verify_token": "verify-me",
        "x_consumer_secret": "x-secret",
        "ingest_api_keys": "tests:k1",
        "ingest_account_ids_file": FIXTURES / "accounts.yaml",
        "ingest_kafka_timeout_s": 5,
    }
    opts.update(kw)
    return IngestSettings(**opts)  # type: ignore[arg-type]


def signed(path: Path) -> tuple[str, bytes, dict[str, str]]:
    body = path.read_bytes()
    if path.parent.name == "meta":
        return (
            "/webhooks/meta",
            body,
            {"X-Hub-Signature-256": signatures.meta_signature("meta-secret", body)},
        )
    return (
        "/webhooks/x",
        body,
        {"x-twitter-webhooks-signature": signatures.x_signature("x-secret", body)},
    )


@pytest.fixture
async def app_client(noida: Backend, prefix: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = ingest_settings(noida.kafka, prefix)
    create_topics(settings)
    app = create_app(settings, CONFIG)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        client.app = app  # type: ignore[attr-defined]
        yield client
    await app.state.ingest.close()


async def keys_on(kafka: str, topic: str) -> Counter[str]:
    return Counter(k for k, _ in await read_all(kafka, topic) if k is not None)


async def test_every_fixture_lands_once_even_when_redelivered(
    app_client: httpx.AsyncClient, noida: Backend, prefix: str
) -> None:
    expected_mentions: set[str] = set()
    expected_outbound: set[str] = set()
    for path in META + X:
        url, body, headers = signed(path)
        # the platform redelivers: once in sequence, and twice at the same moment
        first = await app_client.post(url, content=body, headers=headers)
        assert first.status_code == 200, (path.name, first.text)
        # 200 means acknowledged: the records are readable at once, no waiting
        got = await keys_on(noida.kafka, prefix + "mentions.raw")
        got_out = await keys_on(noida.kafka, prefix + "posts.outbound")
        n_new = first.json()["accepted"] + first.json()["outbound"]
        assert len(set(got) - expected_mentions) + len(set(got_out) - expected_outbound) == n_new
        expected_mentions |= set(got)
        expected_outbound |= set(got_out)
        again = await asyncio.gather(
            *(app_client.post(url, content=body, headers=headers) for _ in range(2))
        )
        assert all(r.status_code == 200 for r in again)
        assert all(r.json()["duplicates"] == n_new for r in again)
    mentions = await keys_on(noida.kafka, prefix + "mentions.raw")
    outbound = await keys_on(noida.kafka, prefix + "posts.outbound")
    assert len(mentions) == 16 and len(outbound) == 6
    assert set(mentions.values()) == {1} and set(outbound.values()) == {1}
    records = dict(await read_all(noida.kafka, prefix + "mentions.raw"))
    m = records["x:1992900000000000001"]
    assert m["force_account"] == {"platform": "x", "handle": "MerseyPolice"}
    assert m["raw"]["tweet_create_events"][0]["id_str"] == "1992900000000000001"


async def test_redelivery_after_a_restart_is_still_recognised(noida: Backend, prefix: str) -> None:
    """The new process reads back the recent ids from Kafka before it takes deliveries."""
    settings = ingest_settings(noida.kafka, prefix)
    create_topics(settings)
    url, body, headers = signed(FIXTURES / "meta" / "facebook_batch.json")
    for _ in range(2):  # two process lifetimes
        app = create_app(settings, CONFIG)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://i") as client:
            r = await client.post(url, content=body, headers=headers)
            assert r.status_code == 200
        await app.state.ingest.close()
    assert r.json()["duplicates"] == 2 and r.json()["accepted"] == 0  # nothing new
    counts = await keys_on(noida.kafka, prefix + "mentions.raw")
    assert sorted(counts.values()) == [1, 1]


async def test_redelivery_to_another_live_worker_is_recognised(noida: Backend, prefix: str) -> None:
    """Two uvicorn workers at once: each keeps reading back what is produced, so a
    platform's retry that reaches the other one is not produced again."""
    settings = ingest_settings(noida.kafka, prefix, ingest_workers=2)
    create_topics(settings)
    url, body, headers = signed(FIXTURES / "meta" / "facebook_batch.json")
    apps = [create_app(settings, CONFIG) for _ in range(2)]
    clients = [
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://i")
        for app in apps
    ]
    try:
        for app in apps:  # both warm before the first delivery
            app.state.ingest.start_warm_up()
            await asyncio.wait_for(app.state.ingest.deliverer.warm.wait(), 30)
        first = await clients[0].post(url, content=body, headers=headers)
        assert first.status_code == 200 and first.json()["accepted"] == 2
        other = apps[1].state.ingest.deliverer
        for _ in range(100):  # read back: typically tens of milliseconds
            if len(other.seen) >= 2:  # a fresh prefix: only this delivery's two ids
                break
            await asyncio.sleep(0.05)
        again = await clients[1].post(url, content=body, headers=headers)
        assert again.status_code == 200
        assert again.json()["duplicates"] == 2 and again.json()["accepted"] == 0
    finally:
        for client, app in zip(clients, apps, strict=True):
            await client.aclose()
            await app.state.ingest.close()
    counts = await keys_on(noida.kafka, prefix + "mentions.raw")
    assert sorted(counts.values()) == [1, 1]


async def test_unknown_shape_is_400_and_the_body_is_dead_lettered(
    app_client: httpx.AsyncClient, noida: Backend, prefix: str
) -> None:
    for name in ("meta/unknown_object.json", "x/activity_unknown.json"):
        url, body, headers = signed(FIXTURES / name)
        r = await app_client.post(url, content=body, headers=headers)
        assert r.status_code == 400 and "unrecognised payload" in r.json()["error"]
    bad = b'{"object": "page", "entry": [ oops'
    r = await app_client.post(
        "/webhooks/meta",
        content=bad,
        headers={"X-Hub-Signature-256": signatures.meta_signature("meta-secret", bad)},
    )
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
    dead = [v for _, v in await read_all(noida.kafka, prefix + "deadletter")]
    assert [d["reason"] for d in dead] == ["unknown_payload"] * 3
    assert dead[2]["payload"] == bad.decode()
    assert dead[0]["payload"] == (FIXTURES / "meta/unknown_object.json").read_text()
    assert await keys_on(noida.kafka, prefix + "mentions.raw") == Counter()


async def test_bad_signature_produces_nothing(
    app_client: httpx.AsyncClient, noida: Backend, prefix: str
) -> None:
    url, body, _ = signed(META[0])
    r = await app_client.post(url, content=body, headers={"X-Hub-Signature-256": "sha256=00"})
    assert r.status_code == 401
    for topic in ("mentions.raw", "posts.outbound", "deadletter"):
        assert await keys_on(noida.kafka, prefix + topic) == Counter()


async def test_generic_endpoints_still_work(
    app_client: httpx.AsyncClient, noida: Backend, prefix: str
) -> None:
    line = (ROOT / "data/demo/mentions.jsonl").read_text().splitlines()[0]
    r = await app_client.post("/v1/mentions", content=line, headers={"X-Api-Key": "k1"})
    assert r.status_code == 200 and r.json()["accepted"] == 1
    r = await app_client.post("/v1/mentions", content=line, headers={"X-Api-Key": "k1"})
    assert r.json()["duplicates"] == 1
    post = (ROOT / "schemas/examples/posts.outbound/1/x-appeal-missing-child.json").read_bytes()
    r = await app_client.post("/v1/outbound", content=post, headers={"X-Api-Key": "k1"})
    assert r.status_code == 200 and r.json()["outbound"] == 1
    assert sum((await keys_on(noida.kafka, prefix + "mentions.raw")).values()) == 1
    assert list(await keys_on(noida.kafka, prefix + "posts.outbound")) == ["x:1992920000000000003"]


async def test_503_with_retry_after_while_kafka_is_away(prefix: str) -> None:
    """A broker that answered, then vanished (Tansu, killed): 503, and the platform's
    retry succeeds once a broker is back."""
    url, body, headers = signed(META[0])
    with tansu() as addr:
        settings = ingest_settings(addr, prefix, "tansu", ingest_kafka_timeout_s=3)
        create_topics(settings)
        app = create_app(settings, CONFIG)
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://i")
        url1, body1, headers1 = signed(META[1])
        r = await client.post(url1, content=body1, headers=headers1)
        assert r.status_code == 200
    try:
        r = await client.post(url, content=body, headers=headers)
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert json.loads(r.text)["error"] == "kafka unavailable, retry later"
        ready = await client.get("/readyz")
        assert ready.status_code == 503
    finally:
        await client.aclose()
        await app.state.ingest.close()
