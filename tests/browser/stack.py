"""The whole platform for console tests, as the integration tests run it: noida-db and
every service as subprocesses (with a fresh topic and index prefix), plus the fake OIDC
issuer the console is pointed at and a fake platform API outbound sends replies to."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from elasticsearch import Elasticsearch

from socialdesk.kafka import ensure_topics
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import load_topic_specs
from socialdesk_tools.stack import (
    SERVICES,
    STORE_SERVICES,
    Stack,
    StackPorts,
    free_port,
    kill_trees,
    wait_for,
)

from .fakes import FakeCdn, FakeIssuer, FakePlatform, Served

if TYPE_CHECKING:
    from playwright.sync_api import Page

INGEST_KEY = "dev-only-change-me"
PASSWORD = "demo-password"


@dataclass
class ConsolePlatform:
    stack: Stack
    prefix: str
    issuer: FakeIssuer
    x_api: FakePlatform
    recorder: Path
    procs: dict[str, Any] = field(default_factory=dict)
    console_env: dict[str, str] = field(default_factory=dict)
    cdn: FakeCdn = field(default_factory=FakeCdn)  # the platforms' media host
    cdn_url: str = ""

    @property
    def console(self) -> str:
        return self.stack.console_url().rstrip("/")

    @property
    def ingest(self) -> str:
        return self.stack.ingest_url()

    def es(self) -> Elasticsearch:
        return Elasticsearch(self.stack.es_url)

    def index(self, name: str) -> str:
        return f"{self.prefix.rstrip('.')}-{name}"

    def post_mentions(self, mentions: list[dict[str, Any]]) -> httpx.Response:
        body = b"\n".join(json.dumps(m).encode() for m in mentions)
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.post(
                    self.ingest + "/v1/mentions",
                    content=body,
                    headers={"X-Api-Key": INGEST_KEY},
                    timeout=30,
                )
                if r.status_code < 500:
                    return r
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("ingest never accepted the delivery")
            time.sleep(0.3)

    def search(self, index: str, query: dict[str, Any], size: int = 100) -> list[dict[str, Any]]:
        es = self.es()
        try:
            es.indices.refresh(index=self.index(index))
            resp = es.search(index=self.index(index), query=query, size=size)
            return [h["_source"] for h in resp["hits"]["hits"]]
        except Exception:
            return []
        finally:
            es.close()

    def wait_item(self, mention_id: str, within: float = 90) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        def check() -> bool:
            # mention_ids is kept in _source but not indexed: filter here.
            items = self.search("items", {"match_all": {}}, size=1000)
            found[:] = [i for i in items if mention_id in i.get("mention_ids", [])]
            # SLA clocks start a moment after the item: wait for them too.
            return bool(found) and bool(self.search("sla", {"term": {"item_id": found[0]["id"]}}))

        wait_for(check, within, f"item for {mention_id}")
        return found[0]

    def produce(self, topic: str, key: str, value: dict[str, Any]) -> None:
        """One record straight onto a topic (e.g. an SLA warning), acknowledged."""
        from kafka import KafkaProducer

        producer = KafkaProducer(bootstrap_servers=self.stack.kafka, acks="all")
        try:
            producer.send(self.prefix + topic, key=key.encode(), value=json.dumps(value).encode())
            producer.flush(30)
        finally:
            producer.close()

    def login(self, username: str) -> httpx.Client:
        client = httpx.Client(base_url=self.console, timeout=30)
        page = client.get("/login")
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        r = client.post("/login", data={"username": username, "password": PASSWORD, "csrf": csrf})
        assert r.status_code == 303, r.text
        me = client.get("/api/me").json()
        client.headers["X-CSRF-Token"] = me["csrf"]
        return client


def mention(
    n: str,
    text: str,
    handle: str = "MerseyPolice",
    platform: str = "x",
    author: str | None = None,
    language: str | None = None,
    media: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "id": f"{platform}:{n}",
        "platform": platform,
        "native_id": n,
        "channel": "public_mention",
        "author": {"id": author or f"a{n}", "handle": author or f"author{n}", "display_name": None},
        "text": text,
        "language": language,
        "posted_at": now,
        "received_at": now,
        "force_account": {"platform": platform, "handle": handle},
        "conversation_id": None,
        "in_reply_to_id": None,
        "media": media or [],
        "links": [],
        "raw": {},
    }


def sla_warning(item: dict[str, Any], minutes_left: float = 15) -> dict[str, Any]:
    """An sla.events warning for the item's first-response clock, as the sla service
    writes one (sequence 900: after anything the service has written for it)."""
    now = datetime.now(UTC)
    return {
        "event_id": str(uuid.uuid4()),
        "item_id": item["id"],
        "seq": 900,
        "type": "warning",
        "clock": "first_response",
        "priority": item["priority"],
        "force": item["force"],
        "team": item["team"],
        "started_at": (now - timedelta(minutes=45)).isoformat(),
        "deadline": (now + timedelta(minutes=minutes_left)).isoformat(),
        "time_left_s": minutes_left * 60,
        "at": now.isoformat(),
        "owner": None,
        "notify": [],
    }


@contextmanager
def console_platform(root: Path, publisher: str = "platforms") -> Iterator[ConsolePlatform]:
    """Start noida-db, the fakes and every service; stop them all afterwards."""
    stack = Stack(root, ports=StackPorts.free())
    stack.start_noida()
    stack.start_objectstore()
    issuer = FakeIssuer()
    issuer_srv = Served(issuer.app())
    issuer.issuer = issuer_srv.url
    x_api = FakePlatform()
    x_srv = Served(x_api.app())
    issuer_srv.start()
    x_srv.start()
    cdn = FakeCdn()
    cdn_srv = Served(cdn.app()).start()
    prefix = f"c{free_port()}."
    settings = BaseServiceSettings(
        kafka_bootstrap=stack.kafka,
        topic_prefix=prefix,
        index_prefix=prefix.rstrip("."),
        elasticsearch_url=stack.es_url,
        environment="test",
    )
    ensure_topics(settings, load_topic_specs().values())
    recorder = root / "outbox" / "replies.jsonl"
    p = ConsolePlatform(stack, prefix, issuer, x_api, recorder, cdn=cdn, cdn_url=cdn_srv.url)
    env = {
        "SOCIALDESK_TOPIC_PREFIX": prefix,
        "SOCIALDESK_INDEX_PREFIX": prefix.rstrip("."),
        "SOCIALDESK_ENVIRONMENT": "test",
    }
    console_env = {
        **env,
        "SOCIALDESK_PUBLIC_URL": f"http://127.0.0.1:{stack.ports.console}",
        "SOCIALDESK_OIDC_ISSUER": issuer.issuer,
        "SOCIALDESK_OIDC_CLIENT_ID": issuer.client_id,
        "SOCIALDESK_OIDC_CLIENT_SECRET": "test-secret",
    }
    outbound_env = {
        **env,
        "SOCIALDESK_REPLY_PUBLISHER": publisher,
        "SOCIALDESK_REPLY_RECORDER_PATH": str(recorder),
        "SOCIALDESK_REPLY_RETRY_MAX_DELAY_S": "1",
        "SOCIALDESK_X_API_BASE_URL": x_srv.url,
        "SOCIALDESK_X_BEARER_TOKEN": "test-token",
    }
    p.console_env = console_env
    media_env = {
        **env,
        "SOCIALDESK_MEDIA_ALLOWED_HOSTS": "127.0.0.1",
        "SOCIALDESK_MEDIA_TOKEN_HOSTS": "127.0.0.1",
        "SOCIALDESK_TOKEN_NORTH_WALES_X_NWPOLICE": cdn.token,
    }
    own_env = {"console": console_env, "outbound": outbound_env, "media": media_env}
    try:
        for svc in (*SERVICES, *STORE_SERVICES):
            p.procs[svc] = stack.spawn(svc, extra_env=own_env.get(svc, env))
        for svc in (*SERVICES, *STORE_SERVICES):
            stack.wait_ready(svc, 120)
        yield p
    finally:
        kill_trees(p.procs.values())
        issuer_srv.stop()
        x_srv.stop()
        cdn_srv.stop()
        stack.stop_noida()
        stack.stop_objectstore()
        for log in sorted(root.glob("logs/*.log")):
            tail = log.read_text(errors="replace").splitlines()[-8:]
            print(f"--- {log.name}\n" + "\n".join(tail))


def sign_in(page: Page, p: ConsolePlatform, username: str) -> None:
    """Sign in through the login form and land on the inbox."""
    page.goto(p.console + "/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/inbox")
