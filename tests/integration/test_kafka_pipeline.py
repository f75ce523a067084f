"""triage -> assign -> sla through a real broker (noida-db and Tansu), in process."""

from __future__ import annotations

import json
from pathlib import Path

from socialdesk.config import load_config
from socialdesk.events import Actor, CommandType, ItemCommand, utcnow
from socialdesk.topics import (
    DEADLETTER,
    ITEMS_COMMANDS,
    ITEMS_EVENTS,
    MENTIONS_RAW,
    MENTIONS_TRIAGED,
    SLA_EVENTS,
)
from socialdesk_assign.flows import AssignProcessor
from socialdesk_sla.flows import SlaProcessor
from socialdesk_triage.flows import TriageProcessor

from .conftest import Backend
from .helpers import Running, create_topics, produce, read_all, settings_for, wait_until


def mention(n: int, text: str, handle: str = "MerseyPolice") -> bytes:
    return json.dumps(
        {
            "id": f"x:{1000 + n}",
            "platform": "x",
            "native_id": str(1000 + n),
            "channel": "public_mention",
            "author": {"id": f"u{n}", "handle": f"user{n}", "display_name": None},
            "text": text,
            "language": None,
            "posted_at": "2026-11-22T10:00:00Z",
            "received_at": "2026-11-22T10:00:01Z",
            "force_account": {"platform": "x", "handle": handle},
            "conversation_id": None,
            "in_reply_to_id": None,
            "media": [],
            "links": [],
            "raw": {},
        }
    ).encode()


async def test_mentions_flow_to_items_and_clocks_and_poison_goes_to_deadletter(
    broker: Backend, prefix: str, repo: Path
) -> None:
    settings = settings_for(broker.kafka, prefix, broker=broker.name)
    create_topics(settings)
    config = load_config(repo / "config")
    texts = [
        "there's a man with a knife outside the shop on Lord St right now",
        "thanks for the help yesterday, officers were brilliant",
        "someone nicked my bike from outside the library, how do I report it",
    ]
    records: list[tuple[str | None, bytes]] = [
        (f"x:{1000 + i}", mention(i, t)) for i, t in enumerate(texts)
    ]
    records.insert(1, ("poison", b"{not json"))
    records.insert(2, ("poison2", json.dumps({"id": "x:1", "text": "no author"}).encode()))
    await produce(broker.kafka, prefix + MENTIONS_RAW, records)

    async with (
        Running(settings, TriageProcessor(config)),
        Running(settings, AssignProcessor(settings, config)),
        Running(settings, SlaProcessor(settings, config)),
    ):

        async def created() -> list[dict]:
            evs = [v for _, v in await read_all(broker.kafka, prefix + ITEMS_EVENTS)]
            return [e for e in evs if e["type"] == "created"] if len(evs) >= 3 else []

        items = [e["item"] for e in await wait_until(created, within=90)]
        by_text = {i["messages"][0]["text"]: i for i in items}
        assert by_text[texts[0]]["priority"] == "P1"
        assert by_text[texts[1]]["priority"] == "P4"
        assert all(i["force"] == "merseyside" for i in items)

        async def clocks() -> list[dict]:
            evs = [v for _, v in await read_all(broker.kafka, prefix + SLA_EVENTS)]
            return evs if len({e["item_id"] for e in evs}) >= 3 else []

        sla = await wait_until(clocks, within=60)
        p1 = by_text[texts[0]]["id"]
        first = next(e for e in sla if e["item_id"] == p1 and e["clock"] == "first_response")
        assert first["type"] == "started" and first["priority"] == "P1"
        assert 14 * 60 < first["time_left_s"] <= 15 * 60

        # An operator claims the P1: the outcome comes back as an event with seq 2.
        cmd = ItemCommand(
            command_id="cmd-1",
            item_id=p1,
            type="claim",
            actor=Actor(kind="operator", id="op1", force="merseyside"),
            issued_at=utcnow(),
            expected_seq=1,
        )
        await produce(broker.kafka, prefix + ITEMS_COMMANDS, [(p1, cmd.model_dump_json().encode())])

        async def claimed() -> list[dict]:
            evs = [v for _, v in await read_all(broker.kafka, prefix + ITEMS_EVENTS)]
            return [e for e in evs if e.get("command_id") == "cmd-1"]

        (ev,) = await wait_until(claimed, within=60)
        assert ev["type"] == "claimed" and ev["seq"] == 2 and ev["item"]["owner"] == "op1"

    # A new assign instance restores the items from its changelog: the next command
    # continues the item's sequence instead of starting again.
    note = cmd.model_copy(
        update={
            "command_id": "cmd-2",
            "type": CommandType.note,  # model_copy does not validate: give the enum
            "expected_seq": 2,
            "payload": {"text": "called back"},
        }
    )
    async with Running(settings, AssignProcessor(settings, config)):
        await produce(
            broker.kafka, prefix + ITEMS_COMMANDS, [(p1, note.model_dump_json().encode())]
        )

        async def noted() -> list[dict]:
            evs = [v for _, v in await read_all(broker.kafka, prefix + ITEMS_EVENTS)]
            return [e for e in evs if e.get("command_id") == "cmd-2"]

        (ev2,) = await wait_until(noted, within=90)
        assert ev2["type"] == "noted", ev2["data"]
        assert ev2["seq"] == 3 and ev2["item"]["owner"] == "op1"

    dead = [v for _, v in await read_all(broker.kafka, prefix + DEADLETTER)]
    assert len(dead) == 2
    assert {d["reason"] for d in dead} == {"invalid_payload"}
    assert all(d["origin"]["topic"] == MENTIONS_RAW and d["service"] == "triage" for d in dead)
    assert any("author" in (d["error"] or "") for d in dead)
    triaged = await read_all(broker.kafka, prefix + MENTIONS_TRIAGED)
    assert len(triaged) == 3  # the consumer carried on past the poison messages
