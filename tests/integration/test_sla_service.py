"""The sla service through a real broker: clocks start from item events, a warning
comes when its time comes (not before), a deadline already passed is reported as
breached at once, and a replayed event starts nothing twice."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from socialdesk.config import load_config
from socialdesk.events import Actor, Author, Item, ItemEvent, ItemMessage
from socialdesk.taxonomy import Channel, Intent, ItemStatus, Platform, Priority
from socialdesk.topics import ITEMS_EVENTS, SLA_EVENTS
from socialdesk_sla.flows import SlaProcessor

from .conftest import Backend
from .helpers import Running, create_topics, produce, read_all, settings_for, wait_until


def created(item_id: str, at: datetime) -> ItemEvent:
    item = Item(
        id=item_id,
        key=item_id,
        force="merseyside",
        team="digital-desk",
        status=ItemStatus.new,
        priority=Priority.P1,
        intent=Intent.crime_report,
        platform=Platform.x,
        channel=Channel.public_mention,
        author=Author(id="a"),
        thread_key="t",
        messages=[ItemMessage(direction="inbound", author="a", text="x", at=at)],
        created_at=at,
        updated_at=at,
        first_mention_at=at,
        seq=1,
    )
    return ItemEvent(
        event_id=f"{item_id}:1",
        item_id=item_id,
        seq=1,
        type="created",
        actor=Actor(kind="system", id="t"),
        at=at,
        item=item,
    )


async def test_warning_on_time_breach_on_arrival_and_replays_ignored(
    broker: Backend, prefix: str, repo: Path
) -> None:
    settings = settings_for(broker.kafka, prefix, broker=broker.name)
    create_topics(settings)
    config = load_config(repo / "config")
    now = datetime.now(UTC)
    warn_due = now + timedelta(seconds=6)
    soon = created("itm_soon", warn_due - timedelta(minutes=11.25))
    late = created("itm_late", now - timedelta(minutes=20))
    async with Running(settings, SlaProcessor(settings, config)):
        records = [(e.item_id, e.model_dump_json().encode()) for e in (soon, late, soon)]
        await produce(broker.kafka, prefix + ITEMS_EVENTS, records)

        async def warned() -> list[dict]:
            evs = [v for _, v in await read_all(broker.kafka, prefix + SLA_EVENTS)]
            return (
                evs
                if any(e["item_id"] == "itm_soon" and e["type"] == "warning" for e in evs)
                else []
            )

        events = await wait_until(warned, within=60)
        await asyncio.sleep(1)
        events = [v for _, v in await read_all(broker.kafka, prefix + SLA_EVENTS)]

    fr = [e for e in events if e["clock"] == "first_response"]
    soon_types = [e["type"] for e in fr if e["item_id"] == "itm_soon"]
    assert soon_types == ["started", "warning"]  # the replay started nothing again
    warning = next(e for e in fr if e["item_id"] == "itm_soon" and e["type"] == "warning")
    at = datetime.fromisoformat(warning["at"])
    assert warn_due <= at <= warn_due + timedelta(seconds=2)
    late_types = [e["type"] for e in fr if e["item_id"] == "itm_late"]
    assert late_types == ["started", "warning", "breached"]
    breach = next(e for e in fr if e["item_id"] == "itm_late" and e["type"] == "breached")
    assert "supervisors:merseyside" in breach["notify"]
