"""Retention reaches assign's compacted changelog (docs/data-protection.md): with a clock
that moves past the items period, assign tombstones a resolved thread on
assign.items.changelog (so compaction removes the person's messages from Kafka, as the
indexer's sweeper removes the item from Elasticsearch) and keeps the open one; the same
person writing in that thread again starts a new item, not a reopening of the old."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from prometheus_client import REGISTRY

from socialdesk.config import load_config
from socialdesk.events import Actor, ItemCommand, TriagedMention, utcnow
from socialdesk.topics import ASSIGN_CHANGELOG, ITEMS_COMMANDS, ITEMS_EVENTS, MENTIONS_TRIAGED
from socialdesk_assign.flows import AssignProcessor
from tests.unit.conftest import make_mention, make_triaged

from .conftest import Backend
from .helpers import Running, create_topics, produce, read_all, settings_for, wait_until

ITEMS_DAYS = 2190  # config/national/retention.yaml classes.items.days


def triaged(native_id: str, conversation: str, text: str) -> TriagedMention:
    at = utcnow()
    m = make_mention(text, native_id=native_id, conversation_id=conversation, at=at)
    return make_triaged(m)


async def test_a_thread_closed_past_the_items_period_leaves_assigns_changelog(
    noida: Backend, prefix: str, repo: Path
) -> None:
    settings = settings_for(noida.kafka, prefix)
    create_topics(settings)
    config = load_config(repo / "config")
    now = utcnow()
    clock = {"now": now}
    closed = triaged("exp1", "conv-closed", "my shed was broken into last night")
    still_open = triaged("exp2", "conv-open", "the streetlight on our road has been out a week")

    def send(topic: str, records: list[tuple[str, bytes]]) -> object:
        return produce(noida.kafka, prefix + topic, records)

    async def events() -> list[dict]:
        return [v for _, v in await read_all(noida.kafka, prefix + ITEMS_EVENTS)]

    async def changelog() -> dict[str | None, dict]:
        return dict(await read_all(noida.kafka, prefix + ASSIGN_CHANGELOG))  # last per key

    before = REGISTRY.get_sample_value("socialdesk_assign_threads_expired_total") or 0.0
    proc = AssignProcessor(settings, config, clock=lambda: clock["now"])

    async def swept_at(when: object) -> bool:
        return proc.swept_at == when

    async with Running(settings, proc):
        await send(
            MENTIONS_TRIAGED,
            [(t.item_key, t.model_dump_json().encode()) for t in (closed, still_open)],
        )

        async def created() -> list[dict]:
            made = [e for e in await events() if e["type"] == "created"]
            return made if len(made) == 2 else []

        made = await wait_until(created, within=60)
        [closed_id] = [e["item_id"] for e in made if e["item"]["key"] == closed.item_key]
        resolve = ItemCommand(
            command_id="resolve-1",
            item_id=closed_id,
            type="resolve",
            actor=Actor(kind="operator", id="op.alice", force="merseyside"),
            issued_at=now,
            payload={"outcome": "signposted"},
        )
        await send(ITEMS_COMMANDS, [(closed.item_key, resolve.model_dump_json().encode())])
        await wait_until(lambda: _has(events, "resolved"), within=60)
        # A day short of the period a sweep runs and leaves both threads.
        clock["now"] = now + timedelta(days=ITEMS_DAYS - 1)
        await wait_until(lambda: swept_at(clock["now"]), within=60)
        kept = await changelog()
        assert kept[closed.item_key]["items"] and kept[still_open.item_key]["items"]

        clock["now"] = now + timedelta(days=ITEMS_DAYS + 1)

        async def tombstoned() -> bool:
            return (await changelog()).get(closed.item_key) == {}

        await wait_until(tombstoned, within=60)
        assert (await changelog())[still_open.item_key]["items"]  # the open thread stays
        again = triaged("exp3", "conv-closed", "any news about my shed?")
        await send(MENTIONS_TRIAGED, [(again.item_key, again.model_dump_json().encode())])

        async def answered() -> list[dict]:
            return [e for e in await events() if "exp3" in str(e.get("item", {}))]

        [first_again] = await wait_until(answered, within=60)
    assert first_again["type"] == "created"  # a new item: the old one is forgotten
    assert first_again["item"]["messages"][0]["text"] == "any news about my shed?"
    assert len(first_again["item"]["messages"]) == 1
    after = REGISTRY.get_sample_value("socialdesk_assign_threads_expired_total") or 0.0
    assert after - before == 1


async def _has(events: object, kind: str) -> bool:
    return any(e["type"] == kind for e in await events())  # type: ignore[operator]
