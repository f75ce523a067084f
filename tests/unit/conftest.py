"""Shared builders for the domain unit tests: real models, real config, no broker.

Tests depend only on the 'merseyside' force (teams digital-desk, roads-policing,
safeguarding); other force files may come and go.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from socialdesk.config import PlatformConfig, load_config
from socialdesk.events import (
    Actor,
    Author,
    ForceAccount,
    ItemCommand,
    Mention,
    Triage,
    TriagedMention,
    item_key_for_thread,
)
from socialdesk.taxonomy import Flag, Intent, Priority

ROOT = Path(__file__).resolve().parents[2]
CONFIG_DIR = ROOT / "config"
FORCE = "merseyside"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday, GMT

ALICE = Actor(kind="operator", id="op.alice", force=FORCE)
BOB = Actor(kind="operator", id="op.bob", force=FORCE)
OUTSIDER = Actor(kind="operator", id="op.outsider", force="some-other-force")

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def platform_config() -> PlatformConfig:
    return load_config(CONFIG_DIR)


def make_mention(
    text: str = "my bike was nicked from outside Lime Street station last night",
    *,
    native_id: str | None = None,
    conversation_id: str | None = "conv-1",
    author_id: str = "1001",
    handle: str = "MerseyPolice",
    channel: str = "public_mention",
    language: str | None = None,
    at: datetime = T0,
) -> Mention:
    nid = native_id or str(next(_ids))
    return Mention(
        id=f"x:{nid}",
        platform="x",
        native_id=nid,
        channel=channel,
        author=Author(id=author_id, handle="scouse_resident"),
        text=text,
        language=language,
        posted_at=at,
        received_at=at,
        force_account=ForceAccount(platform="x", handle=handle),
        conversation_id=conversation_id,
    )


def make_triage(
    priority: Priority = Priority.P3,
    intent: Intent = Intent.crime_report,
    flags: Iterable[Flag] = (),
    *,
    reasons: list[str] | None = None,
    at: datetime = T0,
) -> Triage:
    return Triage(
        priority=priority,
        intent=intent,
        flags=list(flags),
        urgency=0.9 if priority == Priority.P1 else 0.3,
        confidence=0.9,
        language="en",
        reasons=reasons or [f"test grade {priority.value}"],
        model_version="test",
        scored_at=at,
    )


def make_triaged(
    mention: Mention | None = None,
    triage: Triage | None = None,
    *,
    force: str | None = FORCE,
    item_key: str | None = None,
) -> TriagedMention:
    m = mention or make_mention()
    return TriagedMention(
        mention=m,
        triage=triage or make_triage(),
        force=force,
        item_key=item_key or item_key_for_thread(m.thread_key()),
    )


def make_command(
    type_: str,
    item_id: str,
    actor: Actor = ALICE,
    *,
    payload: dict[str, Any] | None = None,
    expected_seq: int | None = None,
    command_id: str | None = None,
    at: datetime = T0,
) -> ItemCommand:
    return ItemCommand(
        command_id=command_id or f"cmd-{next(_ids)}",
        item_id=item_id,
        type=type_,  # type: ignore[arg-type]
        actor=actor,
        issued_at=at,
        expected_seq=expected_seq,
        payload=payload or {},
    )
