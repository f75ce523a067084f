"""20 operators claim the same 1,000 items at once: every item ends with exactly one
owner, and every losing claim is answered with a rejection naming the winner."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from socialdesk.config import load_config
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
from socialdesk.taxonomy import Intent, Priority
from socialdesk.topics import ITEMS_COMMANDS, ITEMS_EVENTS, MENTIONS_TRIAGED
from socialdesk_assign.flows import AssignProcessor

from .conftest import Backend
from .helpers import Running, create_topics, produce, read_all, settings_for, wait_until

NOW = datetime.now(UTC)
ITEMS, OPERATORS = 1000, 20


def triaged(n: int) -> TriagedMention:
    m = Mention(
        id=f"x:race{n}",
        platform="x",
        native_id=f"race{n}",
        channel="public_mention",
        author=Author(id=f"a{n}"),
        text=f"noise from the flat upstairs again #{n}",
        posted_at=NOW,
        received_at=NOW,
        force_account=ForceAccount(platform="x", handle="MerseyPolice"),
    )
    triage = Triage(
        priority=Priority.P3,
        intent=Intent.asb,
        urgency=0.3,
        confidence=0.9,
        reasons=["anti-social behaviour"],
        model_version="test",
        scored_at=NOW,
    )
    return TriagedMention(
        mention=m, triage=triage, force="merseyside", item_key=item_key_for_thread(m.thread_key())
    )


async def test_twenty_operators_racing_for_a_thousand_items(
    broker: Backend, prefix: str, repo: Path
) -> None:
    settings = settings_for(broker.kafka, prefix, broker=broker.name)
    create_topics(settings)
    config = load_config(repo / "config")
    tms = [triaged(n) for n in range(ITEMS)]
    claims = []
    rng = random.Random(42)
    for tm in tms:
        ops = list(range(OPERATORS))
        rng.shuffle(ops)
        for o in ops:
            cmd = ItemCommand(
                command_id=f"{tm.item_key}:{o}",
                item_id=tm.item_key,
                type="claim",
                actor=Actor(kind="operator", id=f"op{o:02d}", force="merseyside"),
                issued_at=NOW,
            )
            claims.append((tm.item_key, cmd.model_dump_json().encode()))
    async with Running(settings, AssignProcessor(settings, config)):
        # Operators claim what they can see: the items exist before the race starts.
        await produce(
            broker.kafka,
            prefix + MENTIONS_TRIAGED,
            [(tm.item_key, tm.model_dump_json().encode()) for tm in tms],
        )

        async def created() -> bool:
            evs = await read_all(broker.kafka, prefix + ITEMS_EVENTS)
            return sum(1 for _, e in evs if e["type"] == "created") >= ITEMS

        await wait_until(created, within=120, every=1)
        await produce(broker.kafka, prefix + ITEMS_COMMANDS, claims)

        async def answered() -> list[dict]:
            evs = [v for _, v in await read_all(broker.kafka, prefix + ITEMS_EVENTS)]
            done = [e for e in evs if e.get("command_id")]
            return done if len(done) >= len(claims) else []

        outcomes = await wait_until(answered, within=240, every=2)

    per_command = Counter(e["command_id"] for e in outcomes)
    assert len(per_command) == len(claims) and set(per_command.values()) == {1}
    winners: dict[str, str] = {}
    losers: defaultdict[str, list[dict]] = defaultdict(list)
    for e in outcomes:
        if e["type"] == "claimed":
            assert e["item_id"] not in winners, "an item was claimed twice"
            winners[e["item_id"]] = e["actor"]["id"]
        else:
            assert e["type"] == "rejected"
            losers[e["item_id"]].append(e)
    unowned = Counter(
        r["data"]["reason"].split(" itm_")[0] for i in losers if i not in winners for r in losers[i]
    )
    assert len(winners) == ITEMS, f"items nobody could claim: {dict(unowned)}"
    for item_id, rejected in losers.items():
        assert len(rejected) == OPERATORS - 1
        assert all(
            r["data"]["reason"] == f"already claimed by {winners[item_id]}" for r in rejected
        )
        assert all(r["item"]["owner"] == winners[item_id] for r in rejected)
