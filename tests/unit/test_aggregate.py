"""The inbox item aggregate as operators see it: one item per conversation, owners and
statuses that only change by legal moves, and duplicates that change nothing."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from socialdesk.commands import OPERATOR_COMMANDS
from socialdesk.config import PlatformConfig
from socialdesk.events import Actor, Item, ItemCommand, ItemEvent
from socialdesk.taxonomy import Flag, Intent, ItemStatus, Outcome, Priority
from socialdesk_assign.aggregate import (
    REOPEN_WINDOW,
    Applied,
    ThreadState,
    apply_command,
    apply_mention,
    route_team,
)
from tests.unit.conftest import (
    ALICE,
    BOB,
    FORCE,
    OUTSIDER,
    ROOT,
    T0,
    make_command,
    make_mention,
    make_triage,
    make_triaged,
)

COMMAND_EXAMPLES = sorted((ROOT / "schemas" / "examples" / "items.commands" / "1").glob("*.json"))


def only_item(applied: Applied) -> Item:
    item = applied.state.current_item()
    assert item is not None
    return item


def new_item(
    config: PlatformConfig,
    priority: Priority = Priority.P3,
    intent: Intent = Intent.crime_report,
    flags: tuple[Flag, ...] = (),
    conv: str = "conv-1",
    item_key: str | None = None,
) -> Applied:
    tm = make_triaged(
        make_mention(conversation_id=conv), make_triage(priority, intent, flags), item_key=item_key
    )
    return apply_mention(None, tm, config, T0)


def run(
    config: PlatformConfig, state: ThreadState, cmd: ItemCommand, at: datetime = T0
) -> tuple[ThreadState, list[ItemEvent]]:
    out = apply_command(state, cmd, config, at)
    return out.state, out.events


def rejection(events: list[ItemEvent]) -> str:
    assert [e.type for e in events] == ["rejected"]
    return str(events[0].data["reason"])


# ---- routing ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("intent", "flags", "team"),
    [
        (Intent.road_traffic, (), "roads-policing"),
        (Intent.welfare_concern, (Flag.child_at_risk,), "safeguarding"),
        (Intent.road_traffic, (Flag.child_at_risk,), "safeguarding"),  # child first
        (Intent.crime_report, (), "digital-desk"),
        (Intent.appreciation, (), "digital-desk"),
        (Intent.crime_report, (Flag.weapon, Flag.drugs), "digital-desk"),
    ],
)
def test_route_team(
    platform_config: PlatformConfig, intent: Intent, flags: tuple[Flag, ...], team: str
) -> None:
    assert route_team(platform_config, FORCE, intent, list(flags)) == team


def test_route_team_for_unknown_force_is_the_national_duty_queue(
    platform_config: PlatformConfig,
) -> None:
    assert route_team(platform_config, None, Intent.road_traffic, []) == "national-duty"
    assert route_team(platform_config, "atlantis", Intent.road_traffic, []) == "national-duty"


# ---- new mentions ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("intent", "flags", "team"),
    [
        (Intent.road_traffic, (), "roads-policing"),
        (Intent.welfare_concern, (Flag.child_at_risk,), "safeguarding"),
        (Intent.asb, (), "digital-desk"),
    ],
)
def test_new_mention_creates_an_item(
    platform_config: PlatformConfig, intent: Intent, flags: tuple[Flag, ...], team: str
) -> None:
    tm = make_triaged(make_mention(), make_triage(Priority.P2, intent, flags))
    out = apply_mention(None, tm, platform_config, T0)
    assert [e.type for e in out.events] == ["created"]
    ev = out.events[0]
    item = ev.item
    assert item is not None
    assert ev.seq == item.seq == 1
    assert item.id == tm.item_key and ev.item_id == item.id
    assert item.status == ItemStatus.new and item.owner is None
    assert item.force == FORCE and item.team == team
    assert item.priority == Priority.P2 and item.intent == intent
    assert item.mention_ids == [tm.mention.id]
    assert item.messages[0].direction == "inbound" and item.messages[0].text == tm.mention.text
    assert ev.data["team"] == team and ev.data["force"] == FORCE
    assert out.state.current == item.id


def test_force_comes_from_the_triaged_mention(platform_config: PlatformConfig) -> None:
    tm = make_triaged(force=None)
    item = only_item(apply_mention(None, tm, platform_config, T0))
    assert item.force is None and item.team == "national-duty"


def test_same_mention_twice_yields_no_events(platform_config: PlatformConfig) -> None:
    tm = make_triaged()
    first = apply_mention(None, tm, platform_config, T0)
    again = apply_mention(first.state, tm, platform_config, T0 + timedelta(minutes=1))
    assert again.events == []
    assert again.state == first.state


def test_follow_up_joins_the_open_item(platform_config: PlatformConfig) -> None:
    first = new_item(platform_config)
    item = only_item(first)
    follow = make_triaged(
        make_mention("it's a red Raleigh if that helps", conversation_id="conv-1"),
        make_triage(Priority.P3),
    )
    out = apply_mention(first.state, follow, platform_config, T0 + timedelta(minutes=5))
    assert [e.type for e in out.events] == ["public_replied"]
    after = out.events[0].item
    assert after is not None
    assert after.id == item.id and after.seq == 2 and out.events[0].seq == 2
    assert after.mention_ids == [item.mention_ids[0], follow.mention.id]
    assert len(after.messages) == 2
    assert len(out.state.items) == 1


def test_follow_up_with_a_higher_grade_regrades_the_item(platform_config: PlatformConfig) -> None:
    first = new_item(platform_config, Priority.P3)
    worse = make_triaged(
        make_mention("he's back and he has a knife now", conversation_id="conv-1"),
        make_triage(Priority.P1, flags=(Flag.weapon,)),
    )
    out = apply_mention(first.state, worse, platform_config, T0 + timedelta(minutes=5))
    after = out.events[0].item
    assert after is not None and after.priority == Priority.P1
    assert Flag.weapon in after.flags
    assert out.events[0].data["regraded_to"] == "P1"
    calmer = make_triaged(
        make_mention("ok police are here now", conversation_id="conv-1"), make_triage(Priority.P4)
    )
    out2 = apply_mention(out.state, calmer, platform_config, T0 + timedelta(minutes=9))
    assert only_item(out2).priority == Priority.P1  # a calmer follow-up never downgrades


def test_public_reply_while_awaiting_public_puts_item_back_in_progress(
    platform_config: PlatformConfig,
) -> None:
    state = new_item(platform_config).state
    key = state.key
    state, _ = run(platform_config, state, make_command("claim", key))
    state, _ = run(platform_config, state, make_command("await_public", key))
    assert only_item(Applied(state, [])).status == ItemStatus.awaiting_public
    out = apply_mention(
        state,
        make_triaged(make_mention("the reg was AB12 CDE", conversation_id="conv-1")),
        platform_config,
        T0 + timedelta(hours=1),
    )
    assert only_item(out).status == ItemStatus.in_progress


def resolved_state(config: PlatformConfig) -> ThreadState:
    state = new_item(config).state
    key = state.key
    state, _ = run(config, state, make_command("claim", key))
    state, events = run(
        config, state, make_command("resolve", key, payload={"outcome": "signposted"})
    )
    assert [e.type for e in events] == ["resolved"]
    return state


@pytest.mark.parametrize("later", [timedelta(hours=2), timedelta(days=6), REOPEN_WINDOW])
def test_message_within_seven_days_reopens_the_item(
    platform_config: PlatformConfig, later: timedelta
) -> None:
    state = resolved_state(platform_config)
    before = only_item(Applied(state, []))
    out = apply_mention(
        state,
        make_triaged(make_mention("still no bike, any news?", conversation_id="conv-1")),
        platform_config,
        T0 + later,
    )
    assert [e.type for e in out.events] == ["reopened", "public_replied"]
    assert [e.seq for e in out.events] == [before.seq + 1, before.seq + 2]
    item = only_item(out)
    assert item.id == before.id and item.outcome is None
    assert item.status == ItemStatus.assigned and item.owner == ALICE.id  # back to its owner
    assert len(out.state.items) == 1


@pytest.mark.parametrize("later", [REOPEN_WINDOW + timedelta(seconds=1), timedelta(days=30)])
def test_message_after_seven_days_creates_a_new_item(
    platform_config: PlatformConfig, later: timedelta
) -> None:
    state = resolved_state(platform_config)
    out = apply_mention(
        state,
        make_triaged(make_mention("it's happened again", conversation_id="conv-1")),
        platform_config,
        T0 + later,
    )
    assert [e.type for e in out.events] == ["created"]
    item = only_item(out)
    assert item.id == f"{state.key}.2" and item.key == state.key
    assert item.seq == 1 and item.status == ItemStatus.new and item.owner is None
    old = out.state.items[state.key]
    assert old.status == ItemStatus.resolved  # the old item is left as it was
    third = apply_mention(
        out.state,
        make_triaged(make_mention("and again", conversation_id="conv-1")),
        platform_config,
        T0 + later + timedelta(minutes=1),
    )
    assert [e.type for e in third.events] == ["public_replied"]  # joins the open .2 item


# ---- commands: ownership ------------------------------------------------------------
def test_claim_then_second_claim_is_rejected_naming_the_owner(
    platform_config: PlatformConfig,
) -> None:
    state = new_item(platform_config).state
    key = state.key
    state, events = run(platform_config, state, make_command("claim", key, ALICE))
    assert [e.type for e in events] == ["claimed"]
    claimed = events[0].item
    assert claimed is not None and claimed.owner == ALICE.id and claimed.seq == 2
    assert claimed.status == ItemStatus.assigned
    state2, events2 = run(platform_config, state, make_command("claim", key, BOB))
    reason = rejection(events2)
    assert ALICE.id in reason
    assert events2[0].seq == claimed.seq and events2[0].actor == BOB
    assert state2.items == state.items


def test_claiming_your_own_item_again_is_rejected(platform_config: PlatformConfig) -> None:
    state = new_item(platform_config).state
    state, _ = run(platform_config, state, make_command("claim", state.key, ALICE))
    _, events = run(platform_config, state, make_command("claim", state.key, ALICE))
    assert "already yours" in rejection(events)


@pytest.mark.parametrize(
    "cmd_type, payload",
    [
        ("claim", {}),
        ("note", {"text": "looking"}),
        ("reply", {"text": "hello"}),
        ("resolve", {"outcome": "no_action"}),
    ],
)
def test_operator_of_another_force_is_rejected(
    platform_config: PlatformConfig, cmd_type: str, payload: dict[str, str]
) -> None:
    state = new_item(platform_config).state
    state2, events = run(
        platform_config, state, make_command(cmd_type, state.key, OUTSIDER, payload=payload)
    )
    assert "another force" in rejection(events)
    assert state2.items == state.items


def test_stale_expected_seq_is_rejected(platform_config: PlatformConfig) -> None:
    state = new_item(platform_config).state
    state, _ = run(platform_config, state, make_command("claim", state.key, expected_seq=1))
    state2, events = run(
        platform_config,
        state,
        make_command("note", state.key, payload={"text": "x"}, expected_seq=1),
    )
    reason = rejection(events)
    assert "stale" in reason and "seq 2" in reason
    assert state2.items == state.items
    _, ok = run(
        platform_config,
        state,
        make_command("note", state.key, payload={"text": "x"}, expected_seq=2),
    )
    assert [e.type for e in ok] == ["noted"]


def test_unknown_item_is_rejected(platform_config: PlatformConfig) -> None:
    state = new_item(platform_config).state
    state2, events = run(platform_config, state, make_command("claim", "itm_doesnotexist"))
    assert "unknown item" in rejection(events)
    assert events[0].item is None and events[0].item_id == "itm_doesnotexist"
    assert state2.items == state.items
    out = apply_command(None, make_command("claim", "itm_nothing"), platform_config, T0)
    assert "unknown item" in rejection(out.events)


def test_release_by_owner_or_supervisor_only(platform_config: PlatformConfig) -> None:
    state = new_item(platform_config).state
    key = state.key
    state, _ = run(platform_config, state, make_command("claim", key, ALICE))
    _, events = run(platform_config, state, make_command("release", key, BOB))
    assert ALICE.id in rejection(events)
    _, events = run(
        platform_config, state, make_command("release", key, BOB, payload={"role": "supervisor"})
    )
    assert [e.type for e in events] == ["released"]
    state, events = run(platform_config, state, make_command("release", key, ALICE))
    item = events[0].item
    assert item is not None and item.owner is None and item.status == ItemStatus.new


# ---- commands: resolution -----------------------------------------------------------
@pytest.mark.parametrize(
    "payload, why",
    [
        ({}, "needs an outcome"),
        ({"outcome": "sorted"}, "needs an outcome"),
        ({"outcome": "crime_recorded"}, "crime_reference"),
        ({"outcome": "crime_recorded", "crime_reference": ""}, "crime_reference"),
    ],
)
def test_resolve_needs_a_valid_outcome(
    platform_config: PlatformConfig, payload: dict[str, str], why: str
) -> None:
    state = new_item(platform_config).state
    state2, events = run(
        platform_config, state, make_command("resolve", state.key, payload=payload)
    )
    assert why in rejection(events)
    assert state2.items == state.items


def test_a_full_conversation_has_increasing_seq(platform_config: PlatformConfig) -> None:
    created = new_item(platform_config)
    state, key = created.state, created.state.key
    all_events = list(created.events)
    steps = [
        make_command("claim", key),
        make_command("reply", key, payload={"text": "Sorry to hear that. Which station?"}),
        make_command("await_public", key),
        make_command("note", key, payload={"text": "CCTV requested from Merseyrail"}),
        make_command(
            "resolve",
            key,
            payload={"outcome": "crime_recorded", "crime_reference": "MP/26/0412/11"},
        ),
    ]
    for i, cmd in enumerate(steps):
        state, events = run(platform_config, state, cmd, T0 + timedelta(minutes=i + 1))
        all_events += events
    assert [e.type for e in all_events] == [
        "created",
        "claimed",
        "replied",
        "awaiting_public",
        "noted",
        "resolved",
    ]
    assert [e.seq for e in all_events] == [1, 2, 3, 4, 5, 6]
    assert len({e.event_id for e in all_events}) == 6
    final = all_events[-1].item
    assert final is not None
    assert final.status == ItemStatus.resolved and final.outcome == Outcome.crime_recorded
    assert final.crime_reference == "MP/26/0412/11"
    assert [m.direction for m in final.messages] == ["inbound", "outbound", "internal"]
    assert all_events[-1].data == {
        "outcome": "crime_recorded",
        "crime_reference": "MP/26/0412/11",
    }


def test_redelivered_command_yields_no_events(platform_config: PlatformConfig) -> None:
    state = new_item(platform_config).state
    cmd = make_command("claim", state.key)
    state, events = run(platform_config, state, cmd)
    assert len(events) == 1
    again = apply_command(state, cmd, platform_config, T0 + timedelta(seconds=5))
    assert again.events == [] and again.state == state
    bad = make_command("resolve", state.key, payload={})
    state, events = run(platform_config, state, bad)
    assert rejection(events)
    assert apply_command(state, bad, platform_config, T0).events == []  # rejections too


def test_a_resolved_item_accepts_notes_and_reopen_only(platform_config: PlatformConfig) -> None:
    state = resolved_state(platform_config)
    key = state.key
    _, events = run(platform_config, state, make_command("reply", key, payload={"text": "hi"}))
    assert "reopen" in rejection(events)
    _, events = run(platform_config, state, make_command("note", key, payload={"text": "fyi"}))
    assert [e.type for e in events] == ["noted"]
    state, events = run(platform_config, state, make_command("reopen", key))
    assert [e.type for e in events] == ["reopened"]
    item = events[0].item
    assert item is not None and item.status == ItemStatus.assigned and item.outcome is None
    _, events = run(platform_config, state, make_command("reopen", key))
    assert "only a resolved item" in rejection(events)


# ---- commands: reply, note, await, transfer -------------------------------------------
def test_reply_takes_ownership_and_puts_the_item_in_progress(
    platform_config: PlatformConfig,
) -> None:
    state = new_item(platform_config).state
    state, events = run(
        platform_config, state, make_command("reply", state.key, payload={"text": "On it."})
    )
    item = events[0].item
    assert events[0].type == "replied"
    assert item is not None and item.owner == ALICE.id and item.status == ItemStatus.in_progress
    assert item.messages[-1].direction == "outbound" and item.messages[-1].author == ALICE.id
    _, events = run(
        platform_config, state, make_command("reply", state.key, BOB, payload={"text": "x"})
    )
    assert ALICE.id in rejection(events)


def test_messages_record_their_language(platform_config: PlatformConfig) -> None:
    """So the console marks a Welsh message lang="cy" (WCAG 3.1.2): the language triage
    detected for a message from the public, the template's for a reply."""
    triage = make_triage().model_copy(update={"language": "cy"})
    out = apply_mention(None, make_triaged(make_mention("Helo"), triage), platform_config, T0)
    assert only_item(out).messages[-1].language == "cy"
    reply = make_command("reply", out.state.key, payload={"text": "Diolch", "language": "cy"})
    state, events = run(platform_config, out.state, reply)
    item = events[0].item
    assert item is not None and item.messages[-1].language == "cy"
    _, events = run(platform_config, state, make_command("note", state.key, payload={"text": "x"}))
    item = events[0].item
    assert item is not None and item.messages[-1].language is None


@pytest.mark.parametrize("cmd_type", ["reply", "note"])
@pytest.mark.parametrize("payload", [{}, {"text": ""}, {"text": "   "}, {"text": 42}])
def test_reply_and_note_need_text(
    platform_config: PlatformConfig, cmd_type: str, payload: dict[str, object]
) -> None:
    state = new_item(platform_config).state
    _, events = run(platform_config, state, make_command(cmd_type, state.key, payload=payload))
    assert "needs payload.text" in rejection(events)


def test_note_is_internal_and_changes_no_owner_or_status(platform_config: PlatformConfig) -> None:
    state = new_item(platform_config).state
    _, events = run(
        platform_config, state, make_command("note", state.key, BOB, payload={"text": "PNC done"})
    )
    item = events[0].item
    assert events[0].type == "noted"
    assert item is not None and item.owner is None and item.status == ItemStatus.new
    assert item.messages[-1].direction == "internal"


def test_await_public_only_from_assigned_or_in_progress(platform_config: PlatformConfig) -> None:
    state = new_item(platform_config).state
    _, events = run(platform_config, state, make_command("await_public", state.key))
    assert "cannot wait" in rejection(events)
    state, _ = run(platform_config, state, make_command("claim", state.key))
    state, events = run(platform_config, state, make_command("await_public", state.key))
    assert events[0].type == "awaiting_public"
    assert only_item(Applied(state, [])).status == ItemStatus.awaiting_public


def test_transfer_to_another_team_clears_the_owner(platform_config: PlatformConfig) -> None:
    state = new_item(platform_config).state
    state, _ = run(platform_config, state, make_command("claim", state.key))
    state, events = run(
        platform_config,
        state,
        make_command("transfer", state.key, payload={"team": "safeguarding"}),
    )
    assert events[0].type == "transferred"
    item = events[0].item
    assert item is not None
    assert (item.force, item.team, item.owner, item.status) == (
        FORCE,
        "safeguarding",
        None,
        ItemStatus.new,
    )
    assert events[0].data["from_team"] == "digital-desk"


@pytest.mark.parametrize(
    "payload, why",
    [
        ({"force": "atlantis"}, "unknown force"),
        ({"team": "helicopters"}, "no team"),
    ],
)
def test_transfer_to_unknown_force_or_team_is_rejected(
    platform_config: PlatformConfig, payload: dict[str, str], why: str
) -> None:
    state = new_item(platform_config).state
    state2, events = run(
        platform_config, state, make_command("transfer", state.key, payload=payload)
    )
    assert why in rejection(events)
    assert state2.items == state.items


def test_regrade(platform_config: PlatformConfig) -> None:
    state = new_item(platform_config, Priority.P3).state
    state, events = run(
        platform_config,
        state,
        make_command("regrade", state.key, payload={"priority": "P1", "reason": "knife seen"}),
    )
    assert events[0].type == "regraded"
    assert events[0].data == {"from": "P3", "to": "P1", "reason": "knife seen"}
    _, events = run(
        platform_config, state, make_command("regrade", state.key, payload={"priority": "P1"})
    )
    assert "already P1" in rejection(events)
    _, events = run(
        platform_config, state, make_command("regrade", state.key, payload={"priority": "P9"})
    )
    assert "P1-P4" in rejection(events)


# ---- every shipped command example ------------------------------------------------------
@pytest.mark.parametrize("path", COMMAND_EXAMPLES, ids=[p.stem for p in COMMAND_EXAMPLES])
def test_every_command_example_yields_exactly_one_event(
    platform_config: PlatformConfig, path: Path
) -> None:
    cmd = ItemCommand.model_validate(json.loads(path.read_text(encoding="utf-8")))
    created = new_item(platform_config, Priority.P1, item_key=cmd.item_id)
    assert created.state.current == cmd.item_id
    out = apply_command(created.state, cmd, platform_config, cmd.issued_at)
    assert len(out.events) == 1
    ev = out.events[0]
    assert ev.item_id == cmd.item_id and ev.command_id == cmd.command_id
    assert ev.actor == cmd.actor
    if ev.type == "rejected":
        assert ev.data["reason"] and ev.seq == 1
        assert out.state.items == created.state.items
    else:
        assert ev.seq == 2 and ev.item is not None and ev.item.seq == 2
    assert apply_command(out.state, cmd, platform_config, cmd.issued_at).events == []


def test_actor_in_rejection_is_the_commands_actor(platform_config: PlatformConfig) -> None:
    system = Actor(kind="system", id="sla")
    state = new_item(platform_config).state
    _, events = run(platform_config, state, make_command("await_public", state.key, system))
    assert events[0].type == "rejected" and events[0].actor == system


# ---- replies by hand, and the account a mention reached ---------------------------------
def test_the_account_reached_is_kept_and_a_reply_sent_by_hand_is_recorded(
    platform_config: PlatformConfig,
) -> None:
    """Outbound answers from the account the mention reached; a reply it could not send
    (no publisher, no token) is posted by an operator and recorded against its event."""
    applied = new_item(platform_config)
    item = only_item(applied)
    assert item.messages[0].account == make_mention().force_account.handle
    state = applied.state
    cmd = make_command("sent_by_hand", state.key, payload={"reply_event_id": f"{item.id}:1"})
    assert "no reply" in rejection(run(platform_config, state, cmd)[1])
    state, events = run(
        platform_config, state, make_command("reply", state.key, payload={"text": "On it."})
    )
    reply_id = events[0].event_id
    for bad in ("itm_other:2", f"{item.id}:99", "nonsense"):
        wrong = make_command("sent_by_hand", state.key, payload={"reply_event_id": bad})
        assert "not a reply on this item" in rejection(run(platform_config, state, wrong)[1])
    theirs = make_command("sent_by_hand", state.key, BOB, payload={"reply_event_id": reply_id})
    assert ALICE.id in rejection(run(platform_config, state, theirs)[1])
    mine = make_command("sent_by_hand", state.key, payload={"reply_event_id": reply_id})
    _, events = run(platform_config, state, mine)
    assert [e.type for e in events] == ["sent_by_hand"]
    assert events[0].data == {"reply_event_id": reply_id}
    assert make_command("sent_by_hand", state.key).type in OPERATOR_COMMANDS
