"""The outbound service as a subprocess on a real broker, with a stand-in X API that
takes a reply and keeps its answer back: outbound is killed (-9) after marking the reply
`sending` and before it can mark it `sent`. Restarted, it does not post the reply again
(X takes no idempotency key) but flags it to the operator as "may have been sent"
(`reply.undeliverable` with `may_have_been_sent`), then sends the next reply as usual."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path
from typing import Any

from socialdesk.events import ItemEvent
from socialdesk.taxonomy import Platform
from socialdesk.topics import AUDIT_EVENTS, ITEMS_EVENTS, OUTBOUND_DELIVERIES
from socialdesk_tools.stack import Stack, StackPorts, kill_tree
from tests.browser.fakes import FakePlatform, Served
from tests.unit.test_outbound import replied

from .conftest import Backend
from .helpers import create_topics, produce, read_all, settings_for, wait_until


async def test_a_kill_between_sending_and_sent_flags_the_reply_instead_of_posting_twice(
    noida: Backend, prefix: str, tmp_path: Path
) -> None:
    settings = settings_for(noida.kafka, prefix)
    create_topics(settings)
    x_api = FakePlatform(hold=True)
    x_srv = Served(x_api.app()).start()
    stack = Stack(tmp_path, ports=StackPorts.free())
    env = {
        "SOCIALDESK_KAFKA_BOOTSTRAP": noida.kafka,
        "SOCIALDESK_TOPIC_PREFIX": prefix,
        "SOCIALDESK_ENVIRONMENT": "test",
        "SOCIALDESK_REPLY_PUBLISHER": "platforms",
        "SOCIALDESK_X_API_BASE_URL": x_srv.url,
        "SOCIALDESK_X_BEARER_TOKEN": "test-token",
    }

    async def publish(ev: ItemEvent) -> None:
        await produce(
            noida.kafka, prefix + ITEMS_EVENTS, [(ev.item_id, ev.model_dump_json().encode())]
        )

    async def audit(action: str) -> list[dict[str, Any]]:
        records = await read_all(noida.kafka, prefix + AUDIT_EVENTS)
        return [v for _, v in records if v.get("action") == action]

    async def states(event_id: str) -> list[str]:
        records = await read_all(noida.kafka, prefix + OUTBOUND_DELIVERIES)
        return [v["status"] for k, v in records if k == event_id]

    async def taken() -> bool:
        return len(x_api.calls) == 1  # the request has reached X, its answer held back

    proc = stack.spawn("outbound", extra_env=env)
    try:
        await asyncio.to_thread(stack.wait_ready, "outbound", 120)
        first = replied(seq=3, text="thanks, we have passed this on", item_id="itm_out")
        await publish(first)
        await wait_until(taken, within=60)
        assert await states(first.event_id) == ["sending"]  # acknowledged before the call

        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        x_api.hold = False
        proc = stack.spawn("outbound", extra_env=env)
        await asyncio.to_thread(stack.wait_ready, "outbound", 120)
        flagged = await wait_until(lambda: audit("reply.undeliverable"), within=90)

        (flag,) = flagged
        assert flag["details"]["event_id"] == first.event_id
        assert flag["details"]["may_have_been_sent"] is True
        assert "check the platform" in flag["details"]["error"]
        assert await states(first.event_id) == ["sending", "unconfirmed"]
        assert len(x_api.calls) == 1 and await audit("reply.delivered") == []

        second = replied(seq=5, text="an officer will call you today", item_id="itm_out")
        await publish(second)
        (done,) = await wait_until(lambda: audit("reply.delivered"), within=60)
        assert done["details"]["event_id"] == second.event_id
        assert [c["body"]["text"] for c in x_api.calls] == [
            "thanks, we have passed this on",
            "an officer will call you today",
        ]
        assert await states(second.event_id) == ["sending", "sent"]
    finally:
        kill_tree(proc)
        x_srv.stop()
        print("--- outbound.log\n" + stack.log_tail("outbound", 30))


def from_account(seq: int, force: str, account: str, platform: Platform = Platform.x) -> ItemEvent:
    """An operator's reply on an item whose mention reached `account` of `force`."""
    ev = replied(seq=seq, text=f"reply from {account}", item_id=f"itm_{account.lower()}")
    assert ev.item is not None
    messages = [
        m.model_copy(update={"account": account}) if m.direction == "inbound" else m
        for m in ev.item.messages
    ]
    item = ev.item.model_copy(update={"force": force, "platform": platform, "messages": messages})
    return ev.model_copy(update={"item": item})


async def test_each_reply_goes_out_with_its_own_accounts_token(
    noida: Backend, prefix: str, tmp_path: Path
) -> None:
    """Two forces' accounts on the stand-in X API: North Wales's two accounts each with
    their own token (config/forces/north-wales.yaml names the variables), Merseyside's
    with the deployment-wide one; a refused token and a TikTok reply are undeliverable
    with the reason the item page shows, never retried, and no token is audited."""
    settings = settings_for(noida.kafka, prefix)
    create_topics(settings)
    x_api = FakePlatform(refused_tokens={"tok-expired"})
    x_srv = Served(x_api.app()).start()
    stack = Stack(tmp_path, ports=StackPorts.free())
    env = {
        "SOCIALDESK_KAFKA_BOOTSTRAP": noida.kafka,
        "SOCIALDESK_TOPIC_PREFIX": prefix,
        "SOCIALDESK_ENVIRONMENT": "test",
        "SOCIALDESK_REPLY_PUBLISHER": "platforms",
        "SOCIALDESK_X_API_BASE_URL": x_srv.url,
        "SOCIALDESK_X_BEARER_TOKEN": "tok-deployment",
        "SOCIALDESK_TOKEN_NORTH_WALES_X_NWPOLICE": "tok-nwpolice",
        "SOCIALDESK_TOKEN_NORTH_WALES_X_HEDDLUGOGCYMRU": "tok-heddlu",
    }
    events = [
        from_account(3, "north-wales", "NWPolice"),
        from_account(3, "north-wales", "HeddluGogCymru"),
        from_account(3, "merseyside", "MerseyPolice"),
        from_account(3, "merseyside", "merseysidepolice", Platform.tiktok),
    ]

    async def audit(action: str) -> list[dict[str, Any]]:
        records = await read_all(noida.kafka, prefix + AUDIT_EVENTS)
        return [v for _, v in records if v.get("action") == action]

    proc = stack.spawn("outbound", extra_env=env)
    try:
        await asyncio.to_thread(stack.wait_ready, "outbound", 120)
        await produce(
            noida.kafka,
            prefix + ITEMS_EVENTS,
            [(ev.item_id, ev.model_dump_json().encode()) for ev in events],
        )

        async def three() -> list[dict[str, Any]]:
            done = await audit("reply.delivered")
            return done if len(done) == 3 else []

        await wait_until(three, within=90)
        sent = {c["body"]["text"]: c["auth"] for c in x_api.calls}
        assert sent == {
            "reply from NWPolice": "Bearer tok-nwpolice",
            "reply from HeddluGogCymru": "Bearer tok-heddlu",
            "reply from MerseyPolice": "Bearer tok-deployment",
        }
        (by_hand,) = await audit("reply.undeliverable")
        assert by_hand["details"]["reason"] == "reply_by_hand"
        assert by_hand["details"]["account"] == "merseysidepolice"

        # The same account's token, now refused (expired): undeliverable, not retried.
        kill_tree(proc)
        env["SOCIALDESK_TOKEN_NORTH_WALES_X_NWPOLICE"] = "tok-expired"
        proc = stack.spawn("outbound", extra_env=env)
        await asyncio.to_thread(stack.wait_ready, "outbound", 120)
        again = from_account(5, "north-wales", "NWPolice")
        await produce(
            noida.kafka, prefix + ITEMS_EVENTS, [(again.item_id, again.model_dump_json().encode())]
        )

        async def refused() -> list[dict[str, Any]]:
            return [
                a
                for a in await audit("reply.undeliverable")
                if a["details"].get("reason") == "credentials"
            ]

        (r,) = await wait_until(refused, within=60)
        assert r["details"]["account"] == "NWPolice" and "credentials" in r["details"]["error"]
        assert len(x_api.calls) == 4 and await audit("reply.send_failed") == []
        records = await read_all(noida.kafka, prefix + AUDIT_EVENTS)
        assert not [v for _, v in records if "tok-" in str(v)]
    finally:
        kill_tree(proc)
        x_srv.stop()
        print("--- outbound.log\n" + stack.log_tail("outbound", 30))
