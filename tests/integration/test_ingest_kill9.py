"""kill -9 ingest (a real process, as deployed) in the middle of a burst of signed Meta
deliveries, restart it, and let the senders retry as Meta does: every delivery that got
a 200 is in Kafka exactly once, counted by mention id."""

from __future__ import annotations

import asyncio
import json
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from socialdesk_ingest import signatures
from socialdesk_tools.stack import Stack, StackPorts, kill_tree, wait_for

from .conftest import Backend
from .helpers import create_topics, read_all, settings_for

pytestmark = pytest.mark.integration

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SECRET = "kill9-app-secret"


def delivery(n: int) -> bytes:
    """A Messenger message with a fresh mid, as Meta would send it."""
    body = json.loads((FIXTURES / "meta" / "facebook_message.json").read_text())
    msg = body["entry"][0]["messaging"][0]
    msg["message"]["mid"] = f"m_kill9_{n:06d}"
    msg["message"]["text"] = f"report number {n}: someone is trying car doors on Moor Lane"
    return json.dumps(body).encode()


def test_kill9_during_a_burst_every_acknowledged_delivery_is_in_kafka_once(
    noida: Backend, prefix: str, tmp_path: Path
) -> None:
    ports = StackPorts.free()
    ports.kafka = int(noida.kafka.rsplit(":", 1)[1])
    stack = Stack(tmp_path, ports=ports)
    create_topics(settings_for(noida.kafka, prefix))
    env = {
        "SOCIALDESK_TOPIC_PREFIX": prefix,
        "SOCIALDESK_META_APP_SECRET": SECRET,
        "SOCIALDESK_INGEST_ACCOUNT_IDS_FILE": str(FIXTURES / "accounts.yaml"),
        "SOCIALDESK_INGEST_RATE_PER_S": "100000",
        "SOCIALDESK_INGEST_RATE_BURST": "100000",
    }
    url = f"{stack.ingest_url()}/webhooks/meta"
    proc = stack.spawn("ingest", extra_env=env)
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()
    counter = iter(range(1_000_000))

    def sender() -> None:
        with httpx.Client(timeout=10) as client:
            while not stop.is_set():
                with lock:
                    n = next(counter)
                body = delivery(n)
                sig = {"X-Hub-Signature-256": signatures.meta_signature(SECRET, body)}
                while True:  # Meta retries until it gets a 200
                    try:
                        r = client.post(url, content=body, headers=sig)
                        if r.status_code == 200:
                            with lock:
                                acknowledged.append(f"facebook:m_kill9_{n:06d}")
                            break
                        assert r.status_code in (429, 503), r.text
                    except httpx.HTTPError:
                        pass
                    time.sleep(0.05)

    try:
        stack.wait_ready("ingest", 60)
        threads = [threading.Thread(target=sender, daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        wait_for(lambda: len(acknowledged) >= 200, 60, "a burst under way")
        proc.send_signal(signal.SIGKILL)  # mid-burst: requests in flight are cut
        proc.wait(timeout=10)
        killed_at = len(acknowledged)
        proc = stack.spawn("ingest", extra_env=env)
        stack.wait_ready("ingest", 60)
        wait_for(lambda: len(acknowledged) >= killed_at + 200, 60, "the burst goes on")
        stop.set()
        for t in threads:
            t.join(timeout=60)
    finally:
        stop.set()
        kill_tree(proc)
    keys = Counter(k for k, _ in asyncio.run(read_all(noida.kafka, prefix + "mentions.raw")))
    assert len(acknowledged) == len(set(acknowledged)) >= 400
    missing = [m for m in acknowledged if keys[m] == 0]
    doubled = {m: c for m, c in keys.items() if c > 1}
    assert not missing, f"acknowledged but not in Kafka: {missing[:5]}"
    assert not doubled, f"in Kafka more than once: {list(doubled.items())[:5]}"
