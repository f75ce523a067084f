"""Routing and fair assignment: places named in the text, per-force team rules, and
auto-assignment to available operators with the right skills and room."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from socialdesk.config import PlatformConfig, load_config
from socialdesk.events import (
    Actor,
    Author,
    ForceAccount,
    ItemCommand,
    Mention,
    OperatorPresence,
)
from socialdesk.topics import schemas_dir
from socialdesk_assign.aggregate import apply_command, apply_mention
from socialdesk_assign.routing import Gazetteer, Roster, choose_operator
from socialdesk_triage.service import triage_mention

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
GAZ = Gazetteer(
    places={
        "wrexham": "north-wales",
        "liverpool": "merseyside",
        "newcastle upon tyne": "northumbria",
        "bangor": "north-wales",
        "sale": "greater-manchester",
    },
    ambiguous={"bangor", "sale"},
    max_words=3,
)


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    return load_config(schemas_dir().parent / "config")


def presence(
    op: str,
    force: str,
    teams: list[str],
    status: str = "online",
    skills: list[str] | None = None,
    role: str = "operator",
    capacity: int | None = None,
) -> OperatorPresence:
    return OperatorPresence(
        operator=op,
        force=force,
        role=role,
        status=status,
        teams=teams,  # type: ignore[arg-type]
        skills=skills or [],
        capacity=capacity,
        at=T0,
    )


def tm(config: PlatformConfig, text: str, handle: str = "MerseyPolice", n: int = 1):  # type: ignore[no-untyped-def]
    m = Mention(
        id=f"x:{n}",
        platform="x",
        native_id=str(n),
        channel="public_mention",
        author=Author(id="a"),
        text=text,
        posted_at=T0,
        received_at=T0,
        force_account=ForceAccount(platform="x", handle=handle),
    )
    return triage_mention(m, config, T0)


def test_gazetteer_finds_longest_names_and_skips_ambiguous_ones() -> None:
    assert GAZ.find("crash just outside Newcastle upon Tyne station") == [
        ("newcastle upon tyne", "northumbria")
    ]
    assert GAZ.find("lost my dog in Bangor") == []
    assert GAZ.find("a sale at the shop in Wrexham\u2019s high st") == [("wrexham", "north-wales")]


def test_place_in_another_forces_area_is_flagged_for_transfer(config: PlatformConfig) -> None:
    out = apply_mention(
        None, tm(config, "someone nicked my bike in Wrexham yesterday"), config, T0, Roster(), GAZ
    )
    assert [e.type for e in out.events] == ["created", "routed"]
    item = out.events[-1].item
    assert item is not None and item.force == "merseyside" and item.suggested_force == "north-wales"
    assert "Wrexham".lower() in out.events[-1].data["reason"]


def test_unknown_account_is_routed_by_the_place_named(config: PlatformConfig) -> None:
    out = apply_mention(
        None, tm(config, "car on fire near Wrexham", handle="not_a_force"), config, T0, None, GAZ
    )
    item = out.events[0].item
    assert (
        item is not None
        and item.force == "north-wales"
        and "wrexham" in out.events[0].data["routing"]
    )


def test_auto_assign_least_loaded_with_skills_never_offline(config: PlatformConfig) -> None:
    roster = Roster(
        operators={
            "a": presence("a", "north-wales", ["welsh-language"], skills=["welsh"]),
            "b": presence("b", "north-wales", ["welsh-language"], skills=["welsh"]),
            "c": presence(
                "c", "north-wales", ["welsh-language"], status="offline", skills=["welsh"]
            ),
            "d": presence("d", "north-wales", ["welsh-language"]),  # no Welsh
        },
        loads={"a": 3, "b": 1, "c": 0, "d": 0},
    )
    welsh = tm(config, "Mae rhywun wedi dwyn fy meic o'r ardd neithiwr, diolch", handle="NWPolice")
    out = apply_mention(None, welsh, config, T0, roster, None)
    assert [e.type for e in out.events] == ["created", "assigned"]
    assert out.events[-1].item is not None and out.events[-1].item.owner == "b"
    roster.loads["b"] = 8  # at the team's capacity
    item = out.events[0].item
    assert item is not None
    assert choose_operator(config, item, roster) == "a"
    roster.loads["a"] = 8
    assert choose_operator(config, item, roster) is None  # nobody has room: stays in the inbox


def test_shared_inbox_teams_do_not_auto_assign(config: PlatformConfig) -> None:
    roster = Roster(operators={"x": presence("x", "merseyside", ["digital-desk"])})
    out = apply_mention(None, tm(config, "noise from next door again"), config, T0, roster, None)
    assert [e.type for e in out.events] == ["created"]


def test_p1_alerts_supervisors_on_duty(config: PlatformConfig) -> None:
    roster = Roster(
        operators={
            "sup": presence(
                "sup", "merseyside", ["digital-desk"], role="supervisor", status="busy"
            ),
            "off": presence(
                "off", "merseyside", ["digital-desk"], role="supervisor", status="offline"
            ),
            "other": presence("other", "kent", ["digital-desk"], role="supervisor"),
        }
    )
    out = apply_mention(
        None, tm(config, "man with a gun outside the school"), config, T0, roster, None
    )
    routed = next(e for e in out.events if e.type == "routed")
    assert routed.data["notify_supervisors"] == ["sup"]


def test_merge_resolves_as_duplicate_and_transfer_keeps_history(config: PlatformConfig) -> None:
    first = apply_mention(None, tm(config, "bike stolen"), config, T0)
    item_id = first.events[0].item_id
    op = Actor(kind="operator", id="op", force="merseyside")
    merged = apply_command(
        first.state,
        ItemCommand(
            command_id="m",
            item_id=item_id,
            type="merge",
            actor=op,
            issued_at=T0,
            payload={"into": "itm_other"},
        ),
        config,
        T0,
    )
    item = merged.events[0].item
    assert merged.events[0].type == "merged" and item is not None
    assert (
        item.outcome is not None
        and item.outcome.value == "duplicate"
        and item.merged_into == "itm_other"
    )
    moved = apply_command(
        first.state,
        ItemCommand(
            command_id="t",
            item_id=item_id,
            type="transfer",
            actor=op,
            issued_at=T0,
            payload={"force": "north-wales", "team": "digital-desk"},
        ),
        config,
        T0,
    )
    item = moved.events[0].item
    assert (
        item is not None and item.force == "north-wales" and item.messages[0].text == "bike stolen"
    )


def test_assigning_to_an_unknown_or_foreign_operator_is_rejected(config: PlatformConfig) -> None:
    first = apply_mention(None, tm(config, "bike stolen"), config, T0)
    item_id = first.events[0].item_id
    sup = Actor(kind="operator", id="sup", force="merseyside")
    roster = Roster(
        operators={
            "kentop": presence("kentop", "kent", ["digital-desk"]),
            "mop": presence("mop", "merseyside", ["digital-desk"]),
        }
    )

    def assign(op: str) -> str:
        out = apply_command(
            first.state,
            ItemCommand(
                command_id=op,
                item_id=item_id,
                type="assign",
                actor=sup,
                issued_at=T0,
                payload={"operator": op},
            ),
            config,
            T0,
            roster,
        )
        ev = out.events[0]
        return ev.data.get("reason") or ev.type  # type: ignore[no-any-return]

    assert assign("ghost") == "unknown operator ghost"
    assert assign("kentop") == "kentop belongs to another force"
    assert assign("mop") == "assigned"


def test_shipped_gazetteer_covers_every_force_and_routes_real_text(config: PlatformConfig) -> None:
    import csv

    from socialdesk_assign.flows import load_gazetteer

    root = schemas_dir().parent / "config"
    gaz = load_gazetteer(root)
    assert gaz is not None and len(gaz.places) >= 1500
    rows = list(csv.DictReader((root / "gazetteer/places.csv").open()))
    assert {r["force"] for r in rows} == set(config.forces) - {"btp"}
    assert gaz.find("crash on the A483 just outside Wrexham")[0][1] == "north-wales"
    assert gaz.find("damwain yng Nghaerdydd, ger canol Caerdydd")[-1] == ("caerdydd", "south-wales")
    assert gaz.find("kids on bikes in St Helens again")[0] == ("st helens", "merseyside")
    assert gaz.find("stuck in traffic in Newport") == []  # Gwent, Isle of Wight or Shropshire?
    assert gaz.find("there's a march in town today") == []  # a word, not Cambridgeshire


# ---- the national duty queue ------------------------------------------------------------
DUTY = Actor(kind="operator", id="duty.national", force=None)


def duty_roster() -> Roster:
    return Roster(
        operators={
            "duty.national": presence("duty.national", None, [], role="national_duty"),  # type: ignore[arg-type]
            "duty.off": presence("duty.off", None, [], role="national_duty", status="offline"),  # type: ignore[arg-type]
            "sup": presence("sup", "merseyside", ["digital-desk"], role="supervisor"),
        }
    )


def command(item_id: str, type_: str, actor: Actor, n: str, **payload: object) -> ItemCommand:
    return ItemCommand(
        command_id=n,
        item_id=item_id,
        type=type_,
        actor=actor,
        issued_at=T0,
        payload=payload,  # type: ignore[arg-type]
    )


def test_an_item_with_no_force_goes_to_the_national_duty_queue_and_alerts_it(
    config: PlatformConfig,
) -> None:
    """Issue 19: a Meta page no force lists, no place in the text: the item is not left
    with nobody; it is in the national duty queue and its officers on duty are alerted
    (any grade, not only P1)."""
    out = apply_mention(
        None,
        tm(config, "someone is smashing my window right now", handle="104899999999999"),
        config,
        T0,
        duty_roster(),
        GAZ,
    )
    assert [e.type for e in out.events] == ["created", "routed"]
    created, routed = out.events
    assert created.data["force"] is None and "national duty queue" in created.data["routing"]
    item = routed.item
    assert item is not None and item.force is None and item.team == "national-duty"
    assert routed.data["queue"] == "national"
    assert routed.data["notify_duty_officers"] == ["duty.national"]
    assert routed.data["notify_supervisors"] == []
    nobody = apply_mention(None, tm(config, "hello?", handle="104899999999999", n=2), config, T0)
    assert "no duty officer signed in" in nobody.events[-1].data["reason"]


def test_a_place_in_the_text_still_decides_the_force(config: PlatformConfig) -> None:
    out = apply_mention(
        None,
        tm(config, "fight in Wrexham town centre", handle="104899999999999"),
        config,
        T0,
        duty_roster(),
        GAZ,
    )
    item = out.events[-1].item
    assert item is not None and item.force == "north-wales" and item.team != "national-duty"
    assert "text names wrexham" in out.events[0].data["routing"]


def test_a_duty_officer_claims_and_transfers_with_the_history_kept(
    config: PlatformConfig,
) -> None:
    roster = duty_roster()
    first = apply_mention(
        None,
        tm(config, "he's got a knife, please help", handle="104899999999999"),
        config,
        T0,
        roster,
        GAZ,
    )
    item_id = first.events[0].item_id
    op = Actor(kind="operator", id="op", force="merseyside")
    refused = apply_command(first.state, command(item_id, "claim", op, "c0"), config, T0, roster)
    assert refused.events[0].type == "rejected"  # a force's operator: not theirs to work
    claimed = apply_command(first.state, command(item_id, "claim", DUTY, "c1"), config, T0, roster)
    assert claimed.events[0].type == "claimed"
    noted = apply_command(
        claimed.state,
        command(item_id, "note", DUTY, "c2", text="says Bootle: Merseyside"),
        config,
        T0,
        roster,
    )
    moved = apply_command(
        noted.state,
        command(item_id, "transfer", DUTY, "c3", force="merseyside", team="digital-desk"),
        config,
        T0,
        roster,
    )
    assert [e.type for e in moved.events][:2] == ["transferred", "routed"]
    transferred, routed = moved.events[:2]
    assert transferred.data["from_force"] is None and transferred.data["force"] == "merseyside"
    assert routed.data["notify_supervisors"] == ["sup"]  # a P1 arriving: its supervisors
    item = moved.state.items[item_id]
    assert item.force == "merseyside" and item.owner is None and item.id == item_id
    assert [m.text for m in item.messages] == [
        "he's got a knife, please help",
        "says Bootle: Merseyside",
    ]
    assert item.mention_ids == first.state.items[item_id].mention_ids
    again = apply_command(moved.state, command(item_id, "claim", DUTY, "c4"), config, T0, roster)
    assert again.events[0].type == "rejected"  # now Merseyside's
    mine = apply_command(moved.state, command(item_id, "claim", op, "c5"), config, T0, roster)
    assert mine.events[0].type == "claimed"


def test_an_item_that_becomes_p1_alerts_like_a_new_p1(config: PlatformConfig) -> None:
    """A follow-up that escalates, or an operator's re-grade to P1, alerts the force's
    supervisors on duty, as a new P1 does; a follow-up that changes nothing does not."""
    roster = duty_roster()
    first = apply_mention(
        None, tm(config, "can I report a lost wallet here?"), config, T0, roster, GAZ
    )
    assert [e.type for e in first.events] == ["created"]
    item_id = first.events[0].item_id
    again = apply_mention(first.state, tm(config, "thanks", n=2), config, T0, roster, GAZ)
    assert [e.type for e in again.events] == ["public_replied"]
    worse = apply_mention(
        again.state,
        tm(config, "there's a man with a knife outside my door right now", n=3),
        config,
        T0,
        roster,
        GAZ,
    )
    assert [e.type for e in worse.events] == ["public_replied", "routed"]
    assert worse.events[0].data["regraded_to"] == "P1"
    assert worse.events[1].data["notify_supervisors"] == ["sup"]
    assert "follow-up" in worse.events[1].data["reason"]
    op = Actor(kind="operator", id="op", force="merseyside")
    regraded = apply_command(
        first.state, command(item_id, "regrade", op, "r1", priority="P1"), config, T0, roster
    )
    assert [e.type for e in regraded.events] == ["regraded", "routed"]
    assert regraded.events[1].data["notify_supervisors"] == ["sup"]
    down = apply_command(
        regraded.state, command(item_id, "regrade", op, "r2", priority="P2"), config, T0, roster
    )
    assert [e.type for e in down.events] == ["regraded"]
