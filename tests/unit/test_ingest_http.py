"""The HTTP checks that answer before Kafka is ever reached: handshakes, signatures
(401, nothing produced), body size (413), floods (429), unconfigured platforms (404).
The Kafka address is a closed port, so a request that got as far as producing would
answer 503: these tests prove the earlier answers come first. Paths that produce are
tested against a real broker in tests/integration/test_ingest_*.py."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from socialdesk.config import PlatformConfig
from socialdesk.settings import IngestSettings
from socialdesk_ingest import signatures
from socialdesk_ingest.views import create_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
META = sorted((FIXTURES / "meta").glob("*.json"))
X = sorted((FIXTURES / "x").glob("activity_*.json"))


def make_client(config: PlatformConfig, **overrides: object) -> TestClient:
    opts: dict[str, object] = {
        "environment": "test",
        "kafka_bootstrap": "127.0.0.1:9",
        "meta_app_secret": "meta-secret",
        "meta_verify_token": "verify-me",
        "x_consumer_secret": "x-secret",
        "ingest_api_keys": "tests:k1",
        "ingest_account_ids_file": FIXTURES / "accounts.yaml",
        "ingest_kafka_timeout_s": 1,
    }
    opts.update(overrides)
    return TestClient(create_app(IngestSettings(**opts), config))  # type: ignore[arg-type]


@pytest.fixture
def client(platform_config: PlatformConfig) -> TestClient:
    return make_client(platform_config)


def test_meta_handshake(client: TestClient) -> None:
    q = {"hub.mode": "subscribe", "hub.verify_token": "verify-me", "hub.challenge": "1158201444"}
    r = client.get("/webhooks/meta", params=q)
    assert r.status_code == 200 and r.text == "1158201444"
    assert r.headers["content-type"].startswith("text/plain")
    assert client.get("/webhooks/meta", params={**q, "hub.verify_token": "nope"}).status_code == 403
    assert client.get("/webhooks/meta", params={**q, "hub.mode": "x"}).status_code == 403
    assert client.get("/webhooks/meta").status_code == 403


def test_x_crc(client: TestClient) -> None:
    r = client.get("/webhooks/x", params={"crc_token": "abc"})
    assert r.status_code == 200
    assert r.json() == signatures.x_crc_response("x-secret", "abc")
    assert client.get("/webhooks/x").status_code == 400


@pytest.mark.parametrize("path", META, ids=lambda p: p.name)
def test_meta_bad_or_missing_signature_is_401(client: TestClient, path: Path) -> None:
    body = path.read_bytes()
    for headers in (
        {},
        {"X-Hub-Signature-256": signatures.meta_signature("wrong-secret", body)},
        {"X-Hub-Signature-256": signatures.meta_signature("meta-secret", body + b"\n")},
        {"X-Hub-Signature-256": "garbage"},
    ):
        r = client.post("/webhooks/meta", content=body, headers=headers)
        assert r.status_code == 401, headers
        assert r.json()["error"] == "missing or invalid signature"


@pytest.mark.parametrize("path", X, ids=lambda p: p.name)
def test_x_bad_or_missing_signature_is_401(client: TestClient, path: Path) -> None:
    body = path.read_bytes()
    for headers in (
        {},
        {"x-twitter-webhooks-signature": signatures.x_signature("wrong", body)},
        {"x-twitter-webhooks-signature": signatures.meta_signature("x-secret", body)},
    ):
        assert client.post("/webhooks/x", content=body, headers=headers).status_code == 401


@pytest.mark.parametrize("path", [*META[:2], *X[:2]], ids=lambda p: p.name)
def test_good_signature_gets_past_the_checks(client: TestClient, path: Path) -> None:
    """A valid signature reaches the Kafka step (here a closed port: 503 + Retry-After)."""
    body = path.read_bytes()
    if path.parent.name == "meta":
        r = client.post(
            "/webhooks/meta",
            content=body,
            headers={"X-Hub-Signature-256": signatures.meta_signature("meta-secret", body)},
        )
    else:
        r = client.post(
            "/webhooks/x",
            content=body,
            headers={"x-twitter-webhooks-signature": signatures.x_signature("x-secret", body)},
        )
    assert r.status_code == 503 and r.headers["retry-after"] == "5"


def test_body_over_the_limit_is_413_by_header_and_by_stream(
    platform_config: PlatformConfig,
) -> None:
    client = make_client(platform_config, max_body_bytes=2048)
    big = b'{"object":"page","entry":[]}' + b" " * 4096
    sig = {"X-Hub-Signature-256": signatures.meta_signature("meta-secret", big)}
    assert client.post("/webhooks/meta", content=big, headers=sig).status_code == 413

    def chunks() -> object:  # no Content-Length: counted while streaming
        for _ in range(4):
            yield b" " * 1024

    r = client.post("/webhooks/meta", content=chunks(), headers=sig)  # type: ignore[arg-type]
    assert r.status_code == 413
    r = client.post("/v1/mentions", content=big, headers={"X-Api-Key": "k1"})
    assert r.status_code == 413
    lying = {**sig, "Content-Length": "not-a-number"}
    assert client.post("/webhooks/meta", content=b"{}", headers=lying).status_code in (400, 413)


def test_flood_from_one_source_is_429(platform_config: PlatformConfig) -> None:
    client = make_client(platform_config, ingest_rate_per_s=0.5, ingest_rate_burst=5)
    codes = [client.post("/webhooks/meta", content=b"{}").status_code for _ in range(8)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429] * 3
    r = client.post("/webhooks/meta", content=b"{}")
    assert int(r.headers["retry-after"]) >= 1
    # another source (the X endpoint, a separate bucket) is unaffected
    assert client.post("/webhooks/x", content=b"{}").status_code == 401
    codes = [
        client.post("/v1/mentions", content=b"{}", headers={"X-Api-Key": "k1"}).status_code
        for _ in range(7)
    ]
    assert codes[-1] == 429


def test_unconfigured_platform_is_404(platform_config: PlatformConfig) -> None:
    client = make_client(
        platform_config,
        environment="production",
        meta_app_secret=None,
        meta_verify_token=None,
        x_consumer_secret=None,
    )
    assert client.post("/webhooks/meta", content=b"{}").status_code == 404
    assert client.get("/webhooks/meta").status_code == 404
    assert client.get("/webhooks/x", params={"crc_token": "a"}).status_code == 404


def test_generic_endpoint_needs_its_api_key(client: TestClient) -> None:
    assert client.post("/v1/mentions", content=b"{}").status_code == 401
    assert (
        client.post("/v1/outbound", content=b"{}", headers={"X-Api-Key": "no"}).status_code == 401
    )


def _asgi_post(app: Any, path: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Drive the app as an ASGI server would; returns what it sent."""
    sent: list[dict[str, Any]] = []
    inbox = iter(messages)

    async def receive() -> dict[str, Any]:
        return next(inbox, {"type": "http.disconnect"})

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8081),
    }
    asyncio.run(app(scope, receive, send))
    return sent


def test_webhook_posts_are_served_in_front_of_fastapi(platform_config: PlatformConfig) -> None:
    """The fast path answers like the FastAPI routes did (JSON error bodies), and a sender
    that goes away before its body is complete gets nothing and produces nothing."""
    app = make_client(platform_config).app
    assert set(app.fast_posts) == {"/webhooks/meta", "/webhooks/x"}  # type: ignore[attr-defined]
    sent = _asgi_post(app, "/webhooks/x", [{"type": "http.request", "body": b"{}"}])
    assert sent[0]["status"] == 401
    assert (b"content-type", b"application/json") in sent[0]["headers"]
    assert json.loads(sent[1]["body"]) == {"error": "missing or invalid signature"}
    gone = [{"type": "http.request", "body": b"{", "more_body": True}]
    assert _asgi_post(app, "/webhooks/meta", gone) == []


def test_webhook_fast_path_answers_500_on_a_bug(
    platform_config: PlatformConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = make_client(platform_config)

    async def broken(*args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(client.app.state.ingest, "platform_delivery", broken)  # type: ignore[attr-defined]
    body = META[0].read_bytes()
    sig = {"X-Hub-Signature-256": signatures.meta_signature("meta-secret", body)}
    r = client.post("/webhooks/meta", content=body, headers=sig)
    assert r.status_code == 500 and r.json() == {"error": "internal error"}
