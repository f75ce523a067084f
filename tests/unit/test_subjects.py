"""Subjects and the listening gap as a force reads them: what a message is about, in
English and Welsh, and one score for how far the force's posts are from what the public
raise."""

from __future__ import annotations

import pytest

from socialdesk.subjects import SUBJECTS, gap_score, shares, subject_of_mention, subject_of_text


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("Lad waving a knife outside the offy on Walton Lane", "violence_weapons"),
        ("he was beaten up outside the pub", "violence_weapons"),
        ("Someone has stolen my bike from the shed", "burglary_theft"),
        ("Got a text from 'my bank' asking for my bank details, is it a scam?", "fraud_scams"),
        ("off-road bikes tearing round the field again", "asb"),
        ("Collision on the M62 eastbound, expect delays", "roads"),
        ("Have you seen Jack? He is missing from Bootle", "missing_people"),
        ("Come and meet your neighbourhood team at our community event", "community"),
        ("Join us: become a special constable", "recruitment"),
        ("Thanks to the officers who helped my mum", "feedback"),
        ("hello?", "other"),
        ("", "other"),
    ],
)
def test_english_subjects(text: str, subject: str) -> None:
    assert subject_of_text(text) == subject


@pytest.mark.parametrize(
    ("text", "subject"),
    [
        ("Mae dyn gyda chyllell tu allan i'r siop", "violence_weapons"),
        ("Mae rhywun wedi dwyn fy meic", "burglary_theft"),
        ("Gwrthdrawiad ar yr A55 ger Bangor, mae'r ffordd ar gau", "roads"),
        ("Apêl: ydych chi wedi gweld Siân? Mae hi ar goll o Rhyl", "missing_people"),
        ("Dewch i'n digwyddiad cymunedol yn Wrecsam", "community"),
        ("Cyfarfod y gymuned nos Fawrth", "community"),  # mutated: cymuned -> gymuned
        ("Rydw i'n poeni am les fy nghymydog, iechyd meddwl gwael", "welfare"),
        ("Adroddwch am drais domestig", "domestic_sexual"),  # "trais" alone is violence
        ("Mae troseddau casineb yn annerbyniol", "hate_crime"),
        ("Diogelwch ar-lein i'n plant", "child_safety"),
        ("Ymunwch â ni, mae swyddi ar gael", "recruitment"),
        ("Diolch yn fawr i'r heddlu", "feedback"),
        ("Twyll dros y ffôn: peidiwch â rhoi eich manylion", "fraud_scams"),
        ("Delio cyffuriau ar y stryd", "drugs"),
    ],
)
def test_welsh_subjects(text: str, subject: str) -> None:
    assert subject_of_text(text) == subject


@pytest.mark.parametrize(
    ("text", "not_subject"),
    [
        ("Bank holiday weekend: heavy traffic expected on the M62", "fraud_scams"),
        ("Eventually someone answered", "community"),
        ("He was beaten up", "community"),
        ("Fel arfer, mae'r ganolfan ar agor", "violence_weapons"),  # arfer (usually) != arf
        ("Officers are dealing with a collision on the A55", "drugs"),
    ],
)
def test_words_inside_other_words_are_not_keywords(text: str, not_subject: str) -> None:
    assert subject_of_text(text) != not_subject


def test_most_keywords_win_and_a_tie_goes_to_the_first() -> None:
    assert subject_of_text("knife crime appeal: have you seen this man? wanted") == (
        "missing_people"
    )
    assert subject_of_text("cannabis plants found in the loft of the school") == "drugs"


def test_a_mention_s_flags_then_intent_then_words_decide() -> None:
    text = "my bike was stolen"
    assert subject_of_mention(text, "crime_report", ["weapon", "drugs"]) == "violence_weapons"
    assert subject_of_mention(text, "road_traffic", []) == "roads"
    assert subject_of_mention(text, "crime_report", ["welsh_language"]) == "burglary_theft"
    assert subject_of_mention("", None, []) == "other"


def test_gap_score_zero_for_the_same_mix_and_100_for_disjoint() -> None:
    public = {"roads": 10, "asb": 30, "burglary_theft": 60}
    assert gap_score(public, public) == 0.0
    assert gap_score(public, {s: n * 7 for s, n in public.items()}) == 0.0  # volumes differ
    assert gap_score(public, {"recruitment": 5, "community": 5}) == 100.0
    assert gap_score({"roads": 1, "asb": 1}, {"roads": 2}) == 50.0
    assert gap_score({"roads": 1}, {"roads": 1, "community": 3}) == 75.0


def test_gap_score_is_none_without_data_on_either_side() -> None:
    assert gap_score({}, {"roads": 3}) is None
    assert gap_score({"roads": 3}, {s: 0 for s in SUBJECTS}) is None


def test_shares_add_up() -> None:
    s = shares({"roads": 1, "asb": 3})
    assert set(s) == set(SUBJECTS) and abs(sum(s.values()) - 1) < 1e-9
    assert shares({}) == {k: 0.0 for k in SUBJECTS}
