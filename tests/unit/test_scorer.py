"""Triage grading as an operator sees it: emergencies are P1 with the right flags,
idioms are not, Welsh is recognised, and nothing a member of the public sends can
crash the scorer or slip through ungraded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from socialdesk.taxonomy import Flag, Intent, Priority
from socialdesk_triage.scorer import (
    UNASSESSED,
    default_scorer,
    detect_language,
    score_mention,
    score_text,
)
from tests.unit.conftest import make_mention

NOW = datetime(2026, 11, 20, 21, 14, tzinfo=UTC)

EMERGENCIES = [
    # (text, flag expected, intent expected)
    (
        "there's a man outside the Spar on Bold Street waving a machete at people",
        Flag.weapon,
        Intent.crime_report,
    ),
    ("he pulled out a gun in the pub car park on Scotland Road", Flag.weapon, Intent.crime_report),
    (
        "someone's been stabbed outside the chippy on County Road, he's bleeding heavily",
        Flag.weapon,
        Intent.crime_report,
    ),
    ("lads fighting with knives in the park by the swings", Flag.weapon, Intent.crime_report),
    (
        "Mass brawl involving weapons outside Wetherspoons on Lord St",
        Flag.weapon,
        Intent.crime_report,
    ),
    ("one of them has got a blade, pls hurry", Flag.weapon, Intent.crime_report),
    (
        "I can't do this anymore, I'm going to end my life tonight",
        Flag.self_harm,
        Intent.welfare_concern,
    ),
    (
        "my mate just messaged saying she's suicidal and is on the bridge",
        Flag.self_harm,
        Intent.welfare_concern,
    ),
    ("I've swallowed all my tablets, sorry everyone", Flag.self_harm, Intent.welfare_concern),
    ("Dwi eisiau marw, does dim pwynt", Flag.self_harm, Intent.welfare_concern),
    (
        "there's a little girl locked in a car in the Tesco car park, she's screaming",
        Flag.child_at_risk,
        Intent.welfare_concern,
    ),
    (
        "the bloke upstairs is hitting his child again, I can hear it through the wall",
        Flag.child_at_risk,
        Intent.welfare_concern,
    ),
    ("toddler alone on the hard shoulder of the M57!!", Flag.child_at_risk, Intent.welfare_concern),
]


@pytest.mark.parametrize(("text", "flag", "intent"), EMERGENCIES)
def test_emergencies_are_p1_with_their_flag(text: str, flag: Flag, intent: Intent) -> None:
    t = score_text(text, now=NOW)
    assert t.priority == Priority.P1
    assert flag in t.flags
    assert t.intent == intent
    assert t.urgency >= 0.9
    assert t.reasons and t.model_version == default_scorer().version


@pytest.mark.parametrize(
    "text",
    [
        "help he is killing me please send someone",
        "he's kicking the door in, help us",
        "someone has collapsed and is not breathing on the platform at Moorfields",
        "my neighbour is threatening to kill his wife, I can hear her screaming",
    ],
)
def test_threat_to_life_without_a_weapon_is_p1_but_not_flagged_weapon(text: str) -> None:
    """The weapon flag tells the desk a weapon is involved: it must not be invented."""
    t = score_text(text, now=NOW)
    assert t.priority == Priority.P1
    assert Flag.weapon not in t.flags
    assert "threat to life or serious violence described" in t.reasons


@pytest.mark.parametrize(
    "text",
    [
        "this film is killing me",
        "I'd murder a pizza right now tbh",
        "the comedian killed it at the Royal Court last night",
        "this traffic is killing me lol",
        "I'm dying to see the new Everton stadium",
        "can someone shoot me a DM with the lost property number",
        "that photoshoot at the Pier Head was class, drop dead gorgeous",
        "Our Sophie bombed her driving test again 😂 this is killing me",
    ],
)
def test_idioms_and_hyperbole_are_not_p1(text: str) -> None:
    t = score_text(text, now=NOW)
    assert t.priority != Priority.P1
    assert Flag.weapon not in t.flags and Flag.self_harm not in t.flags
    assert t.reasons


def test_idiom_next_to_a_real_threat_does_not_hide_it() -> None:
    t = score_text("there's a man with a knife outside the school lol not even joking")
    assert t.priority == Priority.P1 and Flag.weapon in t.flags


@pytest.mark.parametrize(
    ("text", "priority", "intent", "flag"),
    [
        (
            "my boyfriend hit me again last night, I'm scared to go home",
            "P2",
            "crime_report",
            Flag.domestic_abuse,
        ),
        ("There's a horse on the M62 near junction 6, cars swerving", "P2", "road_traffic", None),
        (
            "Has anyone seen the missing boy from Kirkby? Think I spotted him on the 14 bus",
            "P2",
            "information",
            Flag.missing_person,
        ),
        (
            "I was racially abused on the train to Southport this morning",
            "P2",
            "crime_report",
            Flag.hate_crime,
        ),
        (
            "really worried about my nan, haven't heard from her since Sunday",
            "P2",
            "welfare_concern",
            None,
        ),
        (
            "my bike was nicked from outside Lime Street station last night",
            "P3",
            "crime_report",
            None,
        ),
        ("got scammed out of £400 on Facebook marketplace", "P3", "crime_report", Flag.fraud),
        ("off road bikes tearing round Sefton Park again every night", "P3", "asb", None),
        ("car parked on the pavement outside the school every morning", "P3", "road_traffic", None),
        ("any update on my crime reference 12345?", "P3", "enquiry", None),
        ("useless coppers never turn up", "P4", "abuse", None),
    ],
)
def test_everyday_messages_get_the_national_grade(
    text: str, priority: str, intent: str, flag: Flag | None
) -> None:
    t = score_text(text, now=NOW)
    assert (t.priority.value, t.intent.value) == (priority, intent)
    if flag is not None:
        assert flag in t.flags
    assert t.reasons


@pytest.mark.parametrize(
    "text",
    [
        "Thank you so much to the officers who helped my nan yesterday, absolute legends",
        "Well done Merseyside Police, great job at the match today",
        "cheers for the quick response last night",
        "Thank you",
    ],
)
def test_thanks_is_p4_appreciation(text: str) -> None:
    t = score_text(text, now=NOW)
    assert t.priority == Priority.P4
    assert t.intent == Intent.appreciation
    assert "thanks or praise" in t.reasons


@pytest.mark.parametrize(
    ("text", "priority"),
    [
        ("Diolch yn fawr i'r heddlu am eich help heddiw", Priority.P4),
        ("Mae rhywun wedi dwyn fy meic o'r tu allan i'r tŷ", Priority.P3),
        ("Bore da, oes modd i chi helpu? Mae fy mab ar goll ers neithiwr", Priority.P2),
        ("Dwi eisiau marw, does dim pwynt i fi fyw", Priority.P1),
        ("Helpwch! Mae dyn efo cyllell tu allan i'r siop yn Wrecsam", Priority.P1),
        ("Mae dyn wedi cael ei drywanu ger yr orsaf", Priority.P1),
    ],
)
def test_welsh_is_detected_and_flagged(text: str, priority: Priority) -> None:
    t = score_text(text, now=NOW)
    assert t.language == "cy"
    assert Flag.welsh_language in t.flags
    assert any("Welsh" in r for r in t.reasons)
    assert t.priority == priority


def test_welsh_emergencies_are_graded_no_less_favourably() -> None:
    """Welsh Language Standards: a knife in Welsh is as urgent as a knife in English."""
    en = score_text("Help! There's a man with a knife outside the shop in Wrexham")
    cy = score_text("Helpwch! Mae dyn efo cyllell tu allan i'r siop yn Wrecsam")
    assert en.priority == cy.priority == Priority.P1
    assert Flag.weapon in en.flags and Flag.weapon in cy.flags


@pytest.mark.parametrize(
    "text",
    [
        "my bike was nicked from outside Lime Street station last night",
        "Thanks to the officers at the Anfield match, brilliant work",
        "Wales are playing at Anfield tonight, any road closures?",
        "fyi the car is still parked there, is there a tai chi class at the centre",
    ],
)
def test_english_is_not_flagged_welsh(text: str) -> None:
    t = score_text(text, now=NOW)
    assert t.language == "en"
    assert Flag.welsh_language not in t.flags


def test_detect_language_prefers_the_platform_hint() -> None:
    assert detect_language("Diolch yn fawr i chi", "en-GB") == "en"
    assert detect_language("thanks a lot", "cy") == "cy"
    assert detect_language("Diolch yn fawr i chi am eich help", None) == "cy"
    assert detect_language("   ", None) is None


def test_platform_language_hint_reaches_the_grade() -> None:
    m = make_mention("Diolch", language="cy")
    t = score_mention(m, NOW)
    assert t.language == "cy" and Flag.welsh_language in t.flags
    assert t.intent == Intent.appreciation


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   \n\t  ",
        "\x00\xff\x01\x02\x03\x04",
        b"\x00\xff\xfe\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR".decode("utf-8", errors="replace"),
        bytes(range(256)).decode("latin-1"),
        "\x00" * 100_000,
        "🚓🚓🚓 !!! ??? 999 999 999",
    ],
    ids=["empty", "whitespace", "controls", "png-bytes", "all-bytes", "nul-100k", "symbols"],
)
def test_ungradable_input_is_p2_for_a_human(text: str) -> None:
    t = score_text(text, now=NOW)
    assert t.priority == Priority.P2
    assert t.reasons == [UNASSESSED]
    assert t.confidence == 0.0
    assert t.model_version == default_scorer().version
    assert t.scored_at == NOW


@pytest.mark.parametrize(
    "text",
    [
        "a" * 100_000,
        "help " * 20_000,
        ("Long story about my week and the neighbours. " * 2300)[:100_000],
    ],
    ids=["one-word", "help-repeated", "long-story"],
)
def test_very_long_text_is_graded_without_error(text: str) -> None:
    assert len(text) == 100_000
    t = score_text(text, now=NOW)
    assert t.reasons and t.model_version == default_scorer().version
    assert UNASSESSED not in t.reasons


def test_a_threat_at_the_end_of_a_long_post_is_still_p1() -> None:
    story = "I want to tell you about what has been going on in our street. " * 150
    text = story + "And now there's a man outside with a knife trying to get in"
    assert len(text) > 9000
    t = score_text(text, now=NOW)
    assert t.priority == Priority.P1 and Flag.weapon in t.flags


def test_every_grade_has_reasons_and_a_model_version() -> None:
    texts = [e[0] for e in EMERGENCIES] + ["Thank you", "", "hello", "a b c d e f g h"]
    for text in texts:
        t = score_text(text, now=NOW)
        assert t.reasons, text
        assert t.model_version == default_scorer().version
        assert 0 <= t.urgency <= 1 and 0 <= t.confidence <= 1


def test_general_chatter_is_low_priority_with_a_reason() -> None:
    short = score_text("hello there", now=NOW)
    assert short.priority == Priority.P4 and short.intent == Intent.other
    longer = score_text("what time does the station on Walton Lane open on a Saturday", now=NOW)
    assert longer.priority in (Priority.P3, Priority.P4)
    assert longer.reasons


def test_score_mention_grades_the_mention_text() -> None:
    t = score_mention(make_mention("there's a lad with a knife outside the offy"), NOW)
    assert t.priority == Priority.P1 and Flag.weapon in t.flags and t.scored_at == NOW
