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
