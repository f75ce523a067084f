"""THRIVE risk factors and the safety net (risk.py), the real-text grades
(realtext.py) and the generalisation measures (evaluate.py), without a trained model
where none is needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from socialdesk.taxonomy import Priority
from socialdesk_triage.dataset import DatasetError
from socialdesk_triage.evaluate import SLICE_GROUPS, Labels, _metrics
from socialdesk_triage.realtext import load_graded, split_real, text_sha256
from socialdesk_triage.risk import Factor, Lowering, read
from socialdesk_triage.scorer import Scorer

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "data" / "triage"


@pytest.mark.parametrize(
    "text",
    [
        "Hello, I am in Fort Jacques, a wall fell on my legs, I need HELP",
        "we are trapped under the rubble of our house with the children, please come",
        "my dad's collapsed in the kitchen and he's not breathing, please",
        "my son has taken all my tablets, he's going grey, help",
        "there's a little girl in the river by the weir and she's going under",
        "a man is on the hard shoulder of the M62 walking into the live lane right now",
        "there's an unattended suitcase by platform 4 at Crewe, no one's come back for it",
        "my 13 year old is going to meet a man she met online from snapchat tonight",
        "nain has dementia and has wandered off, it's dark and freezing",
        "he's still outside banging on the door and he's got a knife",
        "mae dyn yn gwaedu ar y llawr tu allan i'r dafarn, dewch rŵan",
    ],
)
def test_harm_or_vulnerability_meeting_immediacy_is_p1(text: str) -> None:
    r = read(text)
    assert r.floor == Priority.P1, (r.found, r.lowered)
    assert r.why and r.reason() and "safety net: at least P1" in (r.reason() or "")


@pytest.mark.parametrize(
    "text",
    [
        "Breaking: many people trapped under the rubble after the quake in Haiti http bit.ly/x",
        "years ago I was trapped in a lift for an hour, still hate lifts",
        "he collapsed at the match last week, he's fine now",
        "this film is killing me, literally dying of laughter",
        "what should we do if someone is trapped under rubble?",
        "rescue efforts are underway to free people trapped in the rubble",
        "tree fell over on my street. Everything's fine so far #Sandy #storm",
    ],
)
def test_news_past_fiction_and_questions_are_never_raised_to_p1(text: str) -> None:
    assert read(text).floor != Priority.P1


@pytest.mark.parametrize(
    "text",
    [
        "we have no food and no water since Tuesday, the children are sick",
        "I was hurt in the earthquake and I still can't walk, please help me",
        "no news of my mother since the storm, please help me find her",
    ],
)
def test_deprivation_or_harm_described_first_hand_is_at_least_p2(text: str) -> None:
    assert read(text).floor in (Priority.P1, Priority.P2)


@pytest.mark.parametrize(
    "text",
    [
        "where is the food distribution in Carrefour?",
        "thanks for the update on the road closure",
        "my bike was stolen from outside the library last month",
    ],
)
def test_routine_messages_have_no_floor(text: str) -> None:
    assert read(text).floor is None


def test_reasons_name_factors_and_phrases_not_stop_words() -> None:
    r = read("a wall fell on my legs, I need help now")
    reason = r.reason() or ""
    assert "harm ('" in reason and "immediate ('" in reason
    assert Factor.on_scene not in {f for f in r.found if f.value in reason}
    lowered = read("I was trapped in a lift years ago")
    assert Lowering.past in lowered.lowered and "lowered by past" in (lowered.reason() or "")


def test_rules_only_scorer_applies_the_safety_net() -> None:
    """With no model loaded at all, an emergency in words no rule knows is still P1."""
    t = Scorer(None).score("I have 2 people who are alive under some rubble, we need rescue")
    assert t.priority == Priority.P1
    assert any("safety net" in r for r in t.reasons)


def _csv(tmp: Path, rows: list[tuple[int, str]]) -> Path:
    path = tmp / "messages.csv"
    lines = ["\ufeffid,message,genre"] + [f'{i},"{m}",direct' for i, m in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_real_grades_join_texts_by_id_and_hash(tmp_path: Path) -> None:
    csv_path = _csv(tmp_path, [(1, "we are trapped"), (2, "even id"), (3, "thanks")])
    labels = tmp_path / "graded.jsonl"
    rows = [
        {
            "id": 1,
            "sha256": text_sha256("we are trapped"),
            "priority": "P1",
            "intent": "welfare_concern",
        },
        {"id": 3, "sha256": text_sha256("thanks"), "priority": "P4", "intent": "appreciation"},
    ]
    labels.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    got = load_graded(labels, csv_path)
    assert [(e.id, e.priority, e.source) for e in got] == [
        ("dr-1", Priority.P1, "real"),
        ("dr-3", Priority.P4, "real"),
    ]
    train, held = split_real(got)
    assert sorted(e.id for e in train + held) == ["dr-1", "dr-3"]


def test_real_grades_refuse_even_ids_and_changed_texts(tmp_path: Path) -> None:
    csv_path = _csv(tmp_path, [(1, "we are trapped"), (2, "even id")])
    labels = tmp_path / "graded.jsonl"
    labels.write_text(json.dumps({"id": 2, "sha256": "x", "priority": "P3", "intent": "other"}))
    with pytest.raises(DatasetError, match="even"):
        load_graded(labels, csv_path)
    labels.write_text(
        json.dumps({"id": 1, "sha256": "0" * 64, "priority": "P1", "intent": "other"})
    )
    with pytest.raises(DatasetError, match="not the one graded"):
        load_graded(labels, csv_path)


def test_shipped_real_grades_use_only_odd_ids_and_every_grade() -> None:
    lines = [json.loads(x) for x in (ROOT / "data" / "realtext" / "graded.jsonl").open()]
    assert len(lines) >= 1000 and all(x["id"] % 2 == 1 for x in lines)
    assert {x["priority"] for x in lines} == {"P1", "P2", "P3", "P4"}
    assert all(len(x["sha256"]) == 64 for x in lines)
    assert len({x["id"] for x in lines}) == len(lines)


def test_every_shipped_file_is_in_exactly_one_slice_group() -> None:
    files = sorted(p.stem for p in DATA.glob("mentions-*.jsonl"))
    named = [n for g in SLICE_GROUPS for n in g]
    assert sorted(named) == files
    # Each group is tested in Welsh and English, so each has lines of both.
    welsh = {n for n in files if "welsh" in n}
    assert all(set(g) & welsh for g in SLICE_GROUPS)


def test_generalisation_metrics_count_emergencies_graded_low_and_routine_raised() -> None:
    gold = Labels(["P1", "P1", "P2", "P3", "P4", "P4"], ["other"] * 6, [set()] * 6)
    pred = Labels(["P1", "P3", "P1", "P2", "P4", "P4"], ["other"] * 6, [set()] * 6)
    m = _metrics(gold, pred)
    assert m["p1_recall"] == 0.5
    assert m["p1_graded_low"] == 1
    assert m["p1p2_recall"] == pytest.approx(2 / 3, abs=1e-3)
    assert m["low_raised"] == pytest.approx(1 / 3, abs=1e-3)
