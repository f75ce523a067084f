"""Domain rules an operator or supervisor would notice, with no broker or index:
grading, the item lifecycle, routing, and SLA deadlines."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from socialdesk.config import Calendar, PlatformConfig, load_config
from socialdesk.events import (
    Actor,
    Author,
    ForceAccount,
    ItemCommand,
    Mention,
    TriagedMention,
    item_key_for_thread,
)
from socialdesk.taxonomy import Flag, Intent, ItemStatus, Priority
from socialdesk.topics import schemas_dir
from socialdesk_assign.aggregate import apply_command, apply_mention, route_team
from socialdesk_sla.clocks import add_working_time
from socialdesk_triage.scorer import UNASSESSED, score_text
from socialdesk_triage.service import triage_mention

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
OP = Actor(kind="operator", id="op1", force="merseyside")
OP2 = Actor(kind="operator", id="op2", force="merseyside")


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    return load_config(schemas_dir().parent / "config")


def mention(text: str, n: int = 1, conv: str | None = None, at: datetime = T0) -> Mention:
    return Mention(
        id=f"x:{n}",
        platform="x",
        native_id=str(n),
        channel="public_mention",
        author=Author(id="a1", handle="author"),
        text=text,
        posted_at=at,
        received_at=at,
        force_account=ForceAccount(platform="x", handle="MerseyPolice"),
        conversation_id=conv,
    )


def triaged(
    config: PlatformConfig, text: str, n: int = 1, conv: str | None = "c1"
) -> TriagedMention:
    return triage_mention(mention(text, n, conv), config, T0)


# ---- triage -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "flag"),
    [
        ("there's a lad with a knife outside the offy, hurry", Flag.weapon),
        ("one of them's got a knife!! pls come", Flag.weapon),
        ("I've taken all my pills, I want to end it tonight", Flag.self_harm),
        ("toddler left alone in a car in the Asda car park, screaming", Flag.child_at_risk),
    ],
)
def test_threats_to_life_are_p1(text: str, flag: Flag) -> None:
    t = score_text(text)
    assert t.priority == Priority.P1 and flag in t.flags and t.reasons


@pytest.mark.parametrize(
    "text",
    [
        "this film is killing me 😂",
        "I'd murder a pizza right now",
        "the comedian absolutely killed it last night",
        "this traffic is killing me lol",
    ],
)
def test_idioms_are_not_emergencies(text: str) -> None:
    assert score_text(text).priority != Priority.P1


def test_welsh_is_flagged_for_welsh_speakers() -> None:
    t = score_text("Diolch yn fawr i'r swyddogion am helpu Nain ddoe, chwarae teg i chi")
    assert t.language == "cy" and Flag.welsh_language in t.flags
    assert t.intent == Intent.appreciation


@pytest.mark.parametrize("text", ["", "   ", "\x00\xff\xfe" * 10])
def test_ungradable_text_goes_to_a_human_soon(text: str) -> None:
    t = score_text(text)
    assert t.priority == Priority.P2 and t.reasons == [UNASSESSED]


def test_very_long_text_is_graded() -> None:
    t = score_text("help " * 20_000 + "he has a knife")
    assert t.priority in (Priority.P1, Priority.P2, Priority.P3)


# ---- item lifecycle ----------------------------------------------------------------
def test_new_mention_creates_routed_item(config: PlatformConfig) -> None:
    tm = triaged(config, "crash on the M62, car on its roof")
    out = apply_mention(None, tm, config, T0)
    (ev,) = out.events
    assert ev.type == "created" and ev.seq == 1 and ev.item is not None
    assert ev.item.force == "merseyside" and ev.item.team == "roads-policing"
    assert ev.item.status == ItemStatus.new
    assert ev.item_id == item_key_for_thread("x:thread:c1")


def test_routing_uses_the_forces_own_teams(config: PlatformConfig) -> None:
    assert (
        route_team(config, "merseyside", Intent.welfare_concern, [Flag.child_at_risk])
        == "safeguarding"
    )
    assert (
        route_team(config, "north-wales", Intent.enquiry, [Flag.welsh_language]) == "welsh-language"
    )
    assert route_team(config, "merseyside", Intent.enquiry, [Flag.welsh_language]) == "digital-desk"
    assert route_team(config, None, Intent.enquiry, []) == "national-duty"  # no force


def test_duplicate_and_follow_up_and_reopen(config: PlatformConfig) -> None:
    first = apply_mention(None, triaged(config, "bike stolen from the library"), config, T0)
    assert (
        apply_mention(
            first.state, triaged(config, "bike stolen from the library"), config, T0
        ).events
        == []
    )
    follow = apply_mention(first.state, triaged(config, "it was a blue Carrera", n=2), config, T0)
    (ev,) = follow.events
    assert ev.type == "public_replied" and ev.seq == 2 and ev.item_id == first.events[0].item_id
    item_id = ev.item_id
    resolved = apply_command(
        follow.state,
        ItemCommand(
            command_id="r",
            item_id=item_id,
            type="resolve",
            actor=OP,
            issued_at=T0,
            payload={"outcome": "signposted"},
        ),
        config,
        T0,
    )
    assert (
        resolved.events[0].item is not None
        and resolved.events[0].item.status == ItemStatus.resolved
    )
    again = apply_mention(
        resolved.state, triaged(config, "any news?", n=3), config, T0 + timedelta(days=2)
    )
    assert [e.type for e in again.events] == ["reopened", "public_replied"]
    later = apply_mention(
        resolved.state, triaged(config, "hello again", n=4), config, T0 + timedelta(days=9)
    )
    assert later.events[0].type == "created" and later.events[0].item_id == f"{item_id}.2"


def test_claim_race_has_one_winner_and_a_reason_for_the_loser(config: PlatformConfig) -> None:
    st = apply_mention(None, triaged(config, "noise complaint"), config, T0)
    item_id = st.events[0].item_id
    win = apply_command(
        st.state,
        ItemCommand(command_id="1", item_id=item_id, type="claim", actor=OP, issued_at=T0),
        config,
        T0,
    )
    lose = apply_command(
        win.state,
        ItemCommand(command_id="2", item_id=item_id, type="claim", actor=OP2, issued_at=T0),
        config,
        T0,
    )
    assert win.events[0].type == "claimed" and win.events[0].seq == 2
    (rej,) = lose.events
    assert rej.type == "rejected" and rej.data["reason"] == "already claimed by op1"
    assert lose.state.items[item_id] == win.state.items[item_id]
    replay = apply_command(
        win.state,
        ItemCommand(command_id="1", item_id=item_id, type="claim", actor=OP, issued_at=T0),
        config,
        T0,
    )
    assert replay.events == []  # a redelivered command is applied once


@pytest.mark.parametrize(
    ("cmd", "reason"),
    [
        (
            dict(type="claim", actor=Actor(kind="operator", id="x", force="kent")),
            "operator of another force",
        ),
        (dict(type="claim", expected_seq=5), "stale command"),
        (dict(type="resolve", payload={"outcome": "crime_recorded"}), "crime_reference"),
        (dict(type="resolve", payload={}), "needs an outcome"),
        (dict(type="reopen"), "only a resolved item"),
        (dict(type="transfer", payload={"force": "atlantis"}), "unknown force"),
    ],
)
def test_illegal_commands_are_rejected_with_a_reason(
    config: PlatformConfig, cmd: dict, reason: str
) -> None:
    st = apply_mention(None, triaged(config, "noise complaint"), config, T0)
    item_id = st.events[0].item_id
    base = dict(command_id="c", item_id=item_id, actor=OP, issued_at=T0)
    out = apply_command(st.state, ItemCommand(**(base | cmd)), config, T0)
    (ev,) = out.events
    assert ev.type == "rejected" and reason in ev.data["reason"]
    assert out.state.items == st.state.items


def test_unknown_item_is_rejected(config: PlatformConfig) -> None:
    out = apply_command(
        None,
        ItemCommand(command_id="c", item_id="itm_nope", type="claim", actor=OP, issued_at=T0),
        config,
        T0,
    )
    assert out.events[0].type == "rejected" and "unknown item" in out.events[0].data["reason"]


# ---- SLA -------------------------------------------------------------------------
OFFICE = Calendar(
    timezone="Europe/London",
    periods={d: [("08:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")},
)


def test_p3_on_friday_afternoon_is_due_next_working_day() -> None:
    friday = datetime(2026, 11, 20, 16, 30, tzinfo=UTC)  # 16:30 in London (GMT)
    assert add_working_time(friday, 600, OFFICE) == datetime(2026, 11, 23, 16, 30, tzinfo=UTC)


def test_business_hours_keep_local_time_across_dst() -> None:
    before = datetime(2026, 10, 23, 16, 30, tzinfo=UTC)  # Fri 17:30 BST
    due = add_working_time(before, 60, OFFICE)  # 30 min Friday, 30 min Monday (GMT)
    assert due == datetime(2026, 10, 26, 8, 30, tzinfo=UTC)


def test_config_error_names_file_and_field(tmp_path: Path) -> None:
    import shutil

    from socialdesk.config import ConfigError

    cfg = tmp_path / "config"
    shutil.copytree(schemas_dir().parent / "config", cfg)
    policy = cfg / "national" / "policy.yaml"
    policy.write_text(
        policy.read_text().replace("first_response_minutes: 15,", "first_response_minutes: -15,")
    )
    with pytest.raises(ConfigError) as exc:
        load_config(cfg)
    assert "policy.yaml" in str(exc.value) and "sla.grades.P1.first_response_minutes" in str(
        exc.value
    )
