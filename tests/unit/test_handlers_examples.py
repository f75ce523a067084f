"""Each handler is exercised with every example payload of the topics it consumes
(sentry-kafka-schemas style): the plain processing functions, no broker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialdesk.config import PlatformConfig, load_config
from socialdesk.events import (
    AuditEvent,
    ItemCommand,
    ItemEvent,
    Mention,
    SlaEvent,
    TriagedMention,
)
from socialdesk.topics import schemas_dir
from socialdesk_assign.aggregate import apply_mention
from socialdesk_indexer.documents import audit_document, item_document, sla_document
from socialdesk_sla.clocks import on_item_event
from socialdesk_triage.service import triage_mention

EX = schemas_dir() / "examples"
NOW = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)


def examples(topic: str) -> list[Path]:
    return sorted((EX / topic / "1").glob("*.json"))


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    return load_config(schemas_dir().parent / "config")


@pytest.mark.parametrize("path", examples("mentions.raw"), ids=lambda p: p.stem)
def test_triage_grades_every_raw_example(path: Path, config: PlatformConfig) -> None:
    mention = Mention.model_validate_json(path.read_bytes())
    out = triage_mention(mention, config, NOW)
    assert out.force == "merseyside"  # every example reached a Merseyside account
    assert out.item_key.startswith("itm_")
    assert out.triage.reasons
    assert out.mention == mention


@pytest.mark.parametrize("path", examples("mentions.triaged"), ids=lambda p: p.stem)
def test_assign_creates_one_item_per_triaged_example(path: Path, config: PlatformConfig) -> None:
    tm = TriagedMention.model_validate_json(path.read_bytes())
    first = apply_mention(None, tm, config, NOW)
    assert [e.type for e in first.events] == ["created"]
    item = first.events[0].item
    assert item is not None and item.force == tm.force and item.seq == 1
    again = apply_mention(first.state, tm, config, NOW)
    assert again.events == []  # the same platform message twice is one item


@pytest.mark.parametrize("path", examples("items.events"), ids=lambda p: p.stem)
def test_sla_and_indexer_take_every_item_event(path: Path, config: PlatformConfig) -> None:
    ev = ItemEvent.model_validate_json(path.read_bytes())
    state, sla_events = on_item_event(config, None, ev, NOW)
    doc = item_document(ev)
    if ev.type == "rejected":
        assert doc is None and sla_events == []
    else:
        assert doc is not None and doc["id"] == ev.item_id and doc["seq"] == ev.seq
        types = {e.type for e in sla_events}
        assert state is not None and "started" in types
        if ev.data.get("first_contact_at"):  # a merge brought an older first contact
            assert types == {"started", "recalculated"}
            assert state.created < ev.item.created_at.timestamp()
        else:
            assert types == {"started"}


@pytest.mark.parametrize("path", examples("items.commands"), ids=lambda p: p.stem)
def test_assign_takes_every_command_example(path: Path, config: PlatformConfig) -> None:
    """Each command example against the items of the item event examples: an event with
    a readable outcome (applied, or rejected with a reason), never an exception."""
    from socialdesk_assign.aggregate import ThreadState, apply_command

    cmd = ItemCommand.model_validate_json(path.read_bytes())
    items = {}
    for p in examples("items.events"):
        ev = ItemEvent.model_validate_json(p.read_bytes())
        if ev.item is not None and ev.item_id == cmd.item_id:
            items[ev.item_id] = ev.item
    state = ThreadState(key=cmd.item_id, thread_key="t", items=items, current=cmd.item_id)
    out = apply_command(state, cmd, config, NOW)
    assert out.events and all(e.item_id == cmd.item_id for e in out.events)
    for e in out.events:
        assert e.type != "rejected" or e.data["reason"]
    if cmd.type == "merge" and out.events[0].type == "merged":
        [absorb] = out.commands
        assert absorb.item_id == cmd.payload["into"] and absorb.type == "absorb"


@pytest.mark.parametrize("path", examples("sla.events"), ids=lambda p: p.stem)
def test_indexer_takes_every_sla_event(path: Path) -> None:
    ev = SlaEvent.model_validate_json(path.read_bytes())
    doc = sla_document(ev)
    assert doc["item_id"] == ev.item_id and doc["state"] == ev.type


@pytest.mark.parametrize("path", examples("audit.events"), ids=lambda p: p.stem)
def test_indexer_takes_every_audit_event(path: Path) -> None:
    ev = AuditEvent.model_validate_json(path.read_bytes())
    doc = audit_document(ev)
    assert doc["actor_id"] == ev.actor.id and doc["force"] == ev.force


def test_examples_exist() -> None:
    for topic in ("mentions.raw", "mentions.triaged", "items.events", "sla.events"):
        assert examples(topic), topic
    assert json.loads(examples("items.commands")[0].read_text())["item_id"]


@pytest.mark.parametrize("path", examples("items.events"), ids=lambda p: p.stem)
def test_indexer_writes_an_authors_entry_only_when_grade_or_intent_can_change(
    path: Path,
) -> None:
    """The per-author day document (socialdesk.authors) is what triage's author context
    reads: written on creation, re-grades, re-categorisations and new messages, and not
    again on every claim or note."""
    from socialdesk.authors import AUTHOR_DAYS, ENTRY_EVENTS
    from socialdesk.settings import BaseServiceSettings
    from socialdesk_indexer.flows import IndexerProcessor

    ev = ItemEvent.model_validate_json(path.read_bytes())
    settings = BaseServiceSettings(index_prefix="t")
    created = ev.item.created_at if ev.item is not None else ev.at

    def docs_at(now: datetime) -> list:
        proc = IndexerProcessor(settings, es=None, clock=lambda: now)  # type: ignore[arg-type]
        return [d for d in proc.to_docs(ev) if d.index.startswith(f"t-{AUTHOR_DAYS}-")]

    authors = docs_at(created + timedelta(hours=1))
    if ev.type in ENTRY_EVENTS and ev.item is not None:
        [doc] = authors
        assert doc.index == f"t-{AUTHOR_DAYS}-{created:%Y.%m.%d}"
        assert doc.merge and doc.id.startswith(f"{ev.item.platform.value}:{ev.item.author.id}|")
        entry = doc.doc["items"][ev.item_id]
        assert entry["priority"] == ev.item.priority.value
        assert entry["intent"] == ev.item.intent.value
        # An item created before the history kept writes no entry: its day is gone.
        assert docs_at(created + timedelta(days=settings.author_history_days + 1)) == []
    else:
        assert authors == []
