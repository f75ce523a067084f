"""Issue 19, items 3 and 4, on the local stack (noida-db, every service a subprocess, the
notify service beside them, a real SMTP server (aiosmtpd) and the reference control-room
receiver):

- an unclaimed P1 tells the supervisors, then the duty inspector: one email each
  (received by the SMTP server) and one signed webhook each, once per step; a restart of
  notify (kill -9) sends nothing again; a claimed P1 tells nobody;
- a handed-over item receives its incident number back through the signed callback, and
  unsigned, stale, replayed and unknown-item callbacks get a 4xx and change nothing.

The force's times are shortened in a copy of config/ (3 s to the supervisors, 3 s more to
the inspector)."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from aiosmtpd.controller import Controller

from socialdesk.settings import DEV_SECRET
from socialdesk.signing import HEADER, signature
from socialdesk_notify.receiver import ControlRoomState, control_room_app
from socialdesk_tools.stack import free_port, http_ok, kill_tree, wait_for
from tests.browser.fakes import Served
from tests.browser.stack import ConsolePlatform, console_platform, mention

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Mailbox:
    """What the SMTP server received."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content)
        self.messages.append(
            {
                "to": list(envelope.rcpt_tos),
                "subject": msg["Subject"],
                "key": msg["X-Socialdesk-Idempotency-Key"],
                "message_id": msg["Message-ID"],
                "body": msg.get_payload(),
            }
        )
        return "250 OK"

    def for_item(self, item_id: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if item_id in (m["key"] or "")]


@dataclass
class Rig:
    platform: ConsolePlatform
    mailbox: Mailbox
    room: ControlRoomState
    room_url: str
    config_dir: Path
    notify_port: int
    notify: subprocess.Popen[bytes] | None = None

    def start_notify(self) -> None:
        env = {
            "SOCIALDESK_TOPIC_PREFIX": self.platform.prefix,
            "SOCIALDESK_INDEX_PREFIX": self.platform.prefix.rstrip("."),
            "SOCIALDESK_ENVIRONMENT": "test",
            "SOCIALDESK_CONFIG_DIR": str(self.config_dir),
            "SOCIALDESK_HTTP_PORT": str(self.notify_port),
            "SOCIALDESK_SMTP_PORT": str(self.smtp_port),
            "SOCIALDESK_PUBLIC_URL": self.platform.console.rstrip("/"),
            "SOCIALDESK_NOTIFY_RETRY_MAX_DELAY_S": "1",
        }
        self.notify = self.platform.stack.spawn("notify", extra_env=env)
        url = f"http://127.0.0.1:{self.notify_port}/readyz"
        wait_for(lambda: http_ok(url), 90, "notify ready")

    smtp_port: int = 0


def shortened_config(root: Path, room_url: str) -> Path:
    """A copy of config/ with Merseyside's times shortened and its channels pointed here."""
    shutil.copytree(REPO / "config", root / "config")
    path = root / "config" / "forces" / "merseyside.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["unclaimed"] = {"after_minutes": 0.05, "inspector_after_minutes": 0.05}
    for ch in doc["notifications"]:
        if ch["type"] == "webhook":
            ch["url"] = room_url + "/notify"
    doc["control_room"]["url"] = room_url + "/handover"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return root / "config"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    root = Path(tmp_path_factory.mktemp("notify"))
    mailbox = Mailbox()
    smtp_port = free_port()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    room = ControlRoomState(secret=DEV_SECRET, dispatch_after_s=1.0)
    served = Served(control_room_app(room)).start()
    try:
        with console_platform(root) as platform:
            r = Rig(
                platform, mailbox, room, served.url, shortened_config(root, served.url), free_port()
            )
            r.smtp_port = smtp_port
            r.start_notify()
            try:
                yield r
            finally:
                if r.notify is not None:
                    kill_tree(r.notify)
                print("--- notify.log\n" + platform.stack.log_tail("notify", 30))
    finally:
        served.stop()
        smtp.stop()


def p1(rig: Rig, text: str) -> dict[str, Any]:
    n = str(int(time.time() * 1000)) + uuid.uuid4().hex[:4]
    m = mention(n, text)
    r = rig.platform.post_mentions([m])
    assert r.status_code in (200, 202), r.text
    item = rig.platform.wait_item(m["id"])
    assert item["priority"] == "P1", item
    return item


def webhooks_for(rig: Rig, item_id: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in rig.room.notifications.items() if k.startswith(item_id + ":")}


def rewind(rig: Rig, group: str, topic: str) -> None:
    """Commit offset 0 on every partition for a (stopped) group: after the restart it
    reads its whole input again, the worst replay a crash can cause."""
    from kafka import KafkaConsumer, TopicPartition
    from kafka.structs import OffsetAndMetadata

    from socialdesk.kafka import evict_stale_members
    from socialdesk.settings import BaseServiceSettings

    prefix = rig.platform.prefix
    # the killed process is still a member on noida-db (which never expires members)
    evict_stale_members(
        BaseServiceSettings(kafka_bootstrap=rig.platform.stack.kafka), prefix + group
    )
    consumer = KafkaConsumer(
        bootstrap_servers=rig.platform.stack.kafka,
        group_id=prefix + group,
        enable_auto_commit=False,
    )
    try:
        parts = consumer.partitions_for_topic(prefix + topic) or set()
        tps = [TopicPartition(prefix + topic, p) for p in parts]
        consumer.assign(tps)
        consumer.commit({tp: OffsetAndMetadata(0, "", -1) for tp in tps})
    finally:
        consumer.close()


def test_an_unclaimed_p1_tells_supervisors_then_the_inspector_once_each(rig: Rig) -> None:
    op = rig.platform.login("op.merseyside")
    claimed = p1(rig, "my neighbour has a gun and is threatening to shoot his wife right now")
    r = op.post(f"/api/items/{claimed['id']}/commands", json={"type": "claim"})
    assert r.status_code == 200, r.text
    rig.room.fail_first = 1  # the first webhook is answered 503: retried, delivered once
    started = time.monotonic()
    item = p1(rig, "a man is stabbing people outside Lime Street station right now, send help")
    item_id = item["id"]

    def step(n: int) -> bool:
        return len(rig.mailbox.for_item(item_id)) >= n and len(webhooks_for(rig, item_id)) >= n

    wait_for(lambda: step(1), 60, "the supervisors' email and webhook")
    first = time.monotonic() - started
    # kill -9 between the steps, then make both consumer groups read all their input
    # again: step 1 must not be sent twice, step 2 must still come, once.
    assert rig.notify is not None
    rig.notify.send_signal(signal.SIGKILL)
    rig.notify.wait(10)
    assert len(rig.mailbox.for_item(item_id)) == 1 and len(webhooks_for(rig, item_id)) == 1
    rewind(rig, "socialdesk-notify", "items.events")
    rewind(rig, "socialdesk-notify-dispatch", "notifications")
    repeats_before = rig.room.repeats
    rig.start_notify()
    wait_for(lambda: step(2), 60, "the inspector's email and webhook after the restart")
    both = time.monotonic() - started
    time.sleep(6)  # anything that would be resent has had time to be
    mails = rig.mailbox.for_item(item_id)
    hooks = webhooks_for(rig, item_id)
    assert len(mails) == 2 and len(hooks) == 2
    assert rig.room.repeats == repeats_before  # not even a redelivery the receiver dropped
    assert sorted(m["to"][0] for m in mails) == [
        "desk-supervisors@merseyside.police.example",
        "duty-inspector@merseyside.police.example",
    ]
    assert sorted(h["step"] for h in hooks.values()) == [1, 2]
    assert {tuple(h["notify"]) for h in hooks.values()} == {
        ("supervisors:merseyside",),
        ("duty_inspector:merseyside",),
    }
    assert all(f"/items/{item_id}" in m["body"] for m in mails)
    assert len({m["message_id"] for m in mails}) == 2
    print(
        f"unclaimed P1: step 1 delivered {first:.1f} s after the mention was posted (due at"
        f" 3 s), step 2 {both:.1f} s (due at 6 s; notify was killed and restarted between)"
    )
    # the claimed P1 told nobody
    assert rig.mailbox.for_item(claimed["id"]) == [] and webhooks_for(rig, claimed["id"]) == {}
    # every delivery is audited on the item
    audit = rig.platform.search("audit", {"term": {"target_id": item_id}})
    delivered = [a for a in audit if a["action"] == "notification.delivered"]
    assert len(delivered) == 4, [a["action"] for a in audit]
    retried = [a for a in delivered if a["details"]["attempts"] > 1]
    assert [a["details"]["channel"] for a in retried] == ["pager"]
    assert "503" in retried[0]["details"]["failed_attempts"][0]


def test_a_poison_notification_goes_to_the_dead_letter_topic(rig: Rig) -> None:
    from kafka import KafkaConsumer

    rig.platform.produce("notifications", "itm_poison", {"notification_id": "x", "kind": "nope"})
    consumer = KafkaConsumer(
        rig.platform.prefix + "deadletter",
        bootstrap_servers=rig.platform.stack.kafka,
        auto_offset_reset="earliest",
        consumer_timeout_ms=2000,
    )
    found: list[dict[str, Any]] = []

    def dead() -> bool:
        for rec in consumer:
            dl = json.loads(rec.value)
            if dl["service"] == "notify-dispatch":
                found.append(dl)
        return bool(found)

    try:
        wait_for(dead, 60, "a dead letter from notify-dispatch")
    finally:
        consumer.close()
    assert (
        found[0]["reason"] == "invalid_payload" and found[0]["origin"]["topic"] == "notifications"
    )
    assert "kind" in (found[0]["error"] or "")


def post_callback(
    rig: Rig, body: dict[str, Any], at: float | None = None, secret: str = DEV_SECRET
) -> httpx.Response:
    raw = json.dumps(body).encode()
    headers = {
        "Content-Type": "application/json",
        HEADER: signature(secret, raw, int(at or time.time())),
    }
    return httpx.post(
        rig.platform.console + "/control-room/callback", content=raw, headers=headers, timeout=30
    )


def item_doc(rig: Rig, item_id: str) -> dict[str, Any]:
    docs = rig.platform.search("items", {"term": {"id": item_id}})
    return docs[0] if docs else {}


def test_a_handover_gets_its_incident_number_back(rig: Rig) -> None:
    op = rig.platform.login("op.merseyside")
    item = p1(
        rig, "someone is smashing my back window right now with a hammer, I am hiding upstairs"
    )
    item_id = item["id"]
    started = time.monotonic()
    r = op.post(f"/api/items/{item_id}/handover", json={"reason": "break-in in progress"})
    assert r.status_code == 200, r.text
    handover_id = r.json()["event"]["data"]["handover_id"]
    again = op.post(f"/api/items/{item_id}/handover", json={})
    assert again.status_code == 409 and "already handed over" in again.json()["error"]

    def dispatched() -> bool:
        cr = item_doc(rig, item_id).get("control_room") or {}
        return cr.get("status") == "dispatched"

    wait_for(dispatched, 60, "incident number and 'dispatched' on the item")
    took = time.monotonic() - started
    cr = item_doc(rig, item_id)["control_room"]
    assert cr["incident_number"] == rig.room.incidents[handover_id]
    [received] = [h for h in rig.room.handovers if h["handover_id"] == handover_id]
    assert received["item"]["id"] == item_id and received["reason"] == "break-in in progress"
    assert received["schema_version"] == 1
    print(f"handover: incident {cr['incident_number']} dispatched on the item after {took:.1f} s")
    page = op.get(f"/items/{item_id}")
    assert page.status_code == 200
    assert f"incident <b>{cr['incident_number']}</b>" in page.text
    assert "notification.delivered (handover, control-room)" in page.text

    # bad callbacks: each a clear 4xx, nothing changes
    good = {
        "schema_version": 1,
        "callback_id": "cb_test_" + uuid.uuid4().hex[:8],
        "handover_id": handover_id,
        "item_id": item_id,
        "force": "merseyside",
        "incident_number": cr["incident_number"],
        "status": "resourced",
        "sent_at": datetime.now(UTC).isoformat(),
    }
    raw = json.dumps(good).encode()
    unsigned = httpx.post(rig.platform.console + "/control-room/callback", content=raw, timeout=30)
    assert unsigned.status_code == 401 and "unsigned" in unsigned.json()["error"]
    stale = post_callback(rig, good, at=time.time() - 600)
    assert stale.status_code == 401 and "stale" in stale.json()["error"]
    forged = post_callback(rig, good, secret="not-the-key")
    assert forged.status_code == 401 and "bad signature" in forged.json()["error"]
    unknown = post_callback(rig, {**good, "item_id": "itm_00000000000000000000"})
    assert unknown.status_code == 404 and "unknown item" in unknown.json()["error"]
    bad = post_callback(rig, {**good, "status": ""})
    assert bad.status_code == 422
    ok = post_callback(rig, good)
    assert ok.status_code == 200, ok.text
    replay = post_callback(rig, good)
    assert replay.status_code == 409 and "replayed" in replay.json()["error"]
    older = {
        **good,
        "callback_id": "cb_old",
        "status": "received",
        "sent_at": (datetime.now(UTC) - timedelta(minutes=1)).isoformat(),
    }
    late = post_callback(rig, older)
    assert late.status_code == 409 and "stale callback" in late.json()["error"]
    other = post_callback(rig, {**good, "callback_id": "cb_x", "handover_id": "ho_nope"})
    assert other.status_code == 409 and "unknown handover" in other.json()["error"]
    wait_for(
        lambda: item_doc(rig, item_id)["control_room"]["status"] == "resourced", 30, "resourced"
    )
    time.sleep(2)
    assert item_doc(rig, item_id)["control_room"]["status"] == "resourced"
    timeline = rig.platform.search("events", {"term": {"item_id": item_id}})
    kinds = [e["type"] for e in sorted(timeline, key=lambda e: e["seq"])]
    assert "handed_over" in kinds and kinds.count("control_room_updated") >= 3
