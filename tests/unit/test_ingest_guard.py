"""Signatures, handshakes, token buckets, the redelivery cache, the stream's backoff and
the settings' production guard: plain code, no broker, no network."""

from __future__ import annotations

import base64
import hashlib
import hmac

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from socialdesk.backoff import Backoff
from socialdesk.settings import DEV_SECRET, IngestSettings
from socialdesk_ingest import signatures
from socialdesk_ingest.guard import SeenCache, TokenBucket
from socialdesk_ingest.xstream import FilteredStream

BODY = b'{"object":"page","entry":[]}'


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_meta_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    want = "sha256=" + hmac.new(b"app-secret", BODY, hashlib.sha256).hexdigest()
    assert signatures.meta_signature("app-secret", BODY) == want
    assert signatures.verify_meta("app-secret", BODY, want)
    assert not signatures.verify_meta("app-secret", BODY + b" ", want)  # raw bytes, not JSON
    assert not signatures.verify_meta("other", BODY, want)
    assert not signatures.verify_meta("app-secret", BODY, None)
    assert not signatures.verify_meta("app-secret", BODY, "sha1=" + want[7:])


def test_meta_handshake() -> None:
    ok = signatures.meta_handshake("tok", "subscribe", "tok", "1158201444")
    assert ok == "1158201444"
    assert signatures.meta_handshake("tok", "subscribe", "wrong", "1") is None
    assert signatures.meta_handshake("tok", "unsubscribe", "tok", "1") is None
    assert signatures.meta_handshake("", "subscribe", "", "1") is None


def test_x_crc_and_signature_are_base64_hmac_sha256() -> None:
    digest = hmac.new(b"consumer", b"crc123", hashlib.sha256).digest()
    want = {"response_token": "sha256=" + base64.b64encode(digest).decode()}
    assert signatures.x_crc_response("consumer", "crc123") == want
    sig = signatures.x_signature("consumer", BODY)
    assert signatures.verify_x("consumer", BODY, sig)
    assert not signatures.verify_x("consumer", BODY, sig.replace("sha256=", "sha256=A"))
    assert not signatures.verify_x("consumer", BODY, None)


def test_token_bucket_per_key_refills_at_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(rate=10, burst=3, clock=clock)
    assert [bucket.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a") == pytest.approx(0.1)
    assert bucket.take("b") == 0.0  # another sender is unaffected
    clock.t += 0.1
    assert bucket.take("a") == 0.0
    clock.t += 100
    assert [bucket.take("a") for _ in range(4)][-1] > 0  # never more than the burst


def test_token_bucket_forgets_idle_keys() -> None:
    bucket = TokenBucket(rate=1, burst=1, clock=Clock(), max_keys=2)
    for k in ("a", "b", "c"):
        bucket.take(k)
    assert bucket.take("a") == 0.0  # 'a' was forgotten: a full bucket again


def test_seen_cache_window_and_bound() -> None:
    clock = Clock()
    seen = SeenCache(window_s=60, max_entries=3, clock=clock)
    seen.add(["x:1", "x:2"])
    assert "x:1" in seen and "x:3" not in seen
    clock.t += 61
    assert "x:1" not in seen
    seen.add(["x:3", "x:4", "x:5", "x:6"])
    assert len(seen) == 3 and "x:3" not in seen and "x:6" in seen
    seen.add(["x:7"], at=clock.t - 120)  # recovered from Kafka, written long ago
    assert "x:7" not in seen


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    b = Backoff(1, 8, jitter=0.5)  # the X stream's waits: each in [half, full]
    waits = [b.delay() for _ in range(6)]
    for n, w in enumerate(waits):
        full = min(8, 2**n)
        assert full / 2 <= w <= full
    b.reset()
    assert b.delay() <= 1


def test_stream_waits_for_rate_limit_reset() -> None:
    s = FilteredStream("http://x", "t", _noop, clock=lambda: 1000.0)
    assert s._reset_wait(httpx.Headers({"x-rate-limit-reset": "1030"})) == 30
    spent = {"x-rate-limit-remaining": "0", "x-rate-limit-reset": "1012"}
    assert s._reset_wait(httpx.Headers(spent)) == 12
    left = {"x-rate-limit-remaining": "3", "x-rate-limit-reset": "1012"}
    assert s._reset_wait(httpx.Headers(left)) is None


async def _noop(obj: object) -> None:
    return None


def test_ingest_settings_refuse_development_secrets_in_production() -> None:
    base = {"environment": "production", "ingest_api_keys": "meta:k" * 3}
    ok = IngestSettings(**base)  # type: ignore[arg-type]
    assert ok.meta_app_secret is None  # not configured: Meta webhooks answer 404
    for field, env in [
        ("meta_app_secret", "META_APP_SECRET"),
        ("meta_verify_token", "META_VERIFY_TOKEN"),
        ("x_consumer_secret", "X_CONSUMER_SECRET"),
    ]:
        with pytest.raises(ValidationError, match=env):
            IngestSettings(**base, **{field: DEV_SECRET})  # type: ignore[arg-type]
    with pytest.raises(ValidationError, match="X_STREAM_BEARER_TOKEN"):
        IngestSettings(**base, x_stream_enabled=True)  # type: ignore[arg-type]
    dev = IngestSettings(environment="development")
    assert dev.meta_app_secret == SecretStr(DEV_SECRET)  # the local stack just works


def test_ingest_settings_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALDESK_META_APP_SECRET", "s3cret")
    monkeypatch.setenv("SOCIALDESK_INGEST_DEDUP_WINDOW_S", "600")
    monkeypatch.setenv("SOCIALDESK_INGEST_RATE_PER_S", "25")
    monkeypatch.setenv("SOCIALDESK_X_STREAM_BASE_URL", "http://127.0.0.1:9999")
    s = IngestSettings()
    assert s.meta_app_secret is not None and s.meta_app_secret.get_secret_value() == "s3cret"
    assert s.ingest_dedup_window_s == 600 and s.ingest_rate_per_s == 25
    assert s.x_stream_base_url == "http://127.0.0.1:9999"
