"""Subjects: what a message is about, in one small vocabulary shared by what the public
raise (inbound mentions) and what a force posts (outbound posts), so the two can be put
side by side (the "listening gap" report).

Intents say what the person wants (report a crime, ask something); subjects say what it
is about (roads, fraud, a missing person). A mention's flags and intent decide its
subject where they are specific; otherwise, and always for force posts, keywords do
(English and Welsh). Plain functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

SUBJECTS: dict[str, str] = {
    "violence_weapons": "Violence and weapons",
    "burglary_theft": "Burglary, theft and vehicle crime",
    "fraud_scams": "Fraud and scams",
    "drugs": "Drugs",
    "asb": "Anti-social behaviour and nuisance",
    "roads": "Roads and traffic",
    "missing_people": "Missing people and appeals",
    "welfare": "Welfare and mental health",
    "domestic_sexual": "Domestic abuse and sexual offences",
    "hate_crime": "Hate crime",
    "child_safety": "Children and young people",
    "community": "Community, events and engagement",
    "recruitment": "Recruitment and corporate news",
    "feedback": "Thanks, complaints and feedback",
    "other": "Other",
}

_FLAG_SUBJECT = {
    "weapon": "violence_weapons",
    "missing_person": "missing_people",
    "self_harm": "welfare",
    "domestic_abuse": "domestic_sexual",
    "sexual_offence": "domestic_sexual",
    "hate_crime": "hate_crime",
    "child_at_risk": "child_safety",
    "fraud": "fraud_scams",
    "drugs": "drugs",
}
_INTENT_SUBJECT = {
    "asb": "asb",
    "road_traffic": "roads",
    "welfare_concern": "welfare",
    "appreciation": "feedback",
    "complaint": "feedback",
}

# Keywords, English and Welsh, matched at the start of a word ("burglar" also finds
# "burglary"); those in _WHOLE_WORDS only as whole words, because as prefixes they would
# find other words ("beat" in "beaten", "arf" in "arfer", "event" in "eventually").
# Welsh words come with their common mutated forms ("y gymuned", "fy mhlant").
_KEYWORDS: dict[str, tuple[str, ...]] = {
    "violence_weapons": (
        "knife",
        "knives",
        "stabb",
        "gun",
        "firearm",
        "shooting",
        "assault",
        "beaten",
        "punch",
        "fight",
        "violence",
        "violent",
        "weapon",
        "machete",
        "attack",
        "cyllell",
        "gyllell",
        "nghyllell",
        "chyllell",
        "cyllyll",
        "ymosod",
        "arf",
        "arfau",
        "trais",
        "drais",
    ),
    "burglary_theft": (
        "burglar",
        "break-in",
        "broke in",
        "stolen",
        "theft",
        "steal",
        "shoplift",
        "robbery",
        "robbed",
        "bike",
        "catalytic",
        "car crime",
        "lladrad",
        "ladrad",
        "dwyn",
        "ddwyn",
        "byrgler",
    ),
    "fraud_scams": (
        "scam",
        "fraud",
        "phishing",
        "romance",
        "courier fraud",
        "bank account",
        "bank details",
        "bank card",
        "bank transfer",
        "your bank",
        "banking",
        "twyll",
        "dwyll",
        "sgam",
    ),
    "drugs": (
        "drug",
        "dealer",
        "cannabis",
        "county lines",
        "cocaine",
        "heroin",
        "cyffuriau",
        "gyffuriau",
        "nghyffuriau",
    ),
    "asb": (
        "anti-social",
        "antisocial",
        "asb",
        "noise",
        "nuisance",
        "fireworks",
        "graffiti",
        "youths",
        "off-road bike",
        "vandal",
        "ymddygiad",
        "gwrthgymdeithasol",
    ),
    "roads": (
        "road",
        "traffic",
        "collision",
        "crash",
        "a55",
        "m62",
        "m4",
        "m6",
        "speed",
        "driving",
        "drink drive",
        "drink-drive",
        "closure",
        "diversion",
        "motorway",
        "ffordd",
        "ffyrdd",
        "traffig",
        "gwrthdrawiad",
        "damwain",
        "ddamwain",
        "goryrru",
        "gyrru",
        "gyrrwr",
    ),
    "missing_people": (
        "missing",
        "appeal",
        "have you seen",
        "wanted",
        "sighting",
        "ar goll",
        "apêl",
        "apel",
    ),
    "welfare": (
        "welfare",
        "mental health",
        "worried about",
        "vulnerable",
        "lles",
        "iechyd meddwl",
        "bregus",
    ),
    "domestic_sexual": (
        "domestic",
        "abuse",
        "coercive",
        "sexual",
        "rape",
        "stalking",
        "violence against women",
        "vawg",
        "cam-drin",
        "camdrin",
        "cam drin",
        "trais domestig",
        "drais domestig",
        "trais rhywiol",
        "drais rhywiol",
        "rhywiol",
    ),
    "hate_crime": (
        "hate crime",
        "racist",
        "homophobic",
        "hate incident",
        "casineb",
    ),
    "child_safety": (
        "child",
        "school",
        "young people",
        "online safety",
        "plant",
        "blant",
        "mhlant",
        "ysgol",
        "pobl ifanc",
    ),
    "community": (
        "community",
        "event",
        "events",
        "meet",
        "drop-in",
        "surgery",
        "open day",
        "festival",
        "neighbourhood",
        "cuppa",
        "beat",
        "patrol",
        "cymuned",
        "gymuned",
        "digwyddiad",
        "ddigwyddiad",
    ),
    "recruitment": (
        "recruit",
        "join us",
        "careers",
        "apply",
        "vacancy",
        "special constable",
        "volunteer",
        "award",
        "chief constable",
        "passing out",
        "ymuno",
        "swydd",
        "recriwtio",
        "gwirfoddol",
    ),
    "feedback": ("thank", "well done", "complain", "diolch", "cwyn"),
}
_WHOLE_WORDS = frozenset(
    {"arf", "arfau", "asb", "beat", "event", "events", "plant", "blant", "mhlant", "apel"}
)
_SUBJECT_OF: dict[str, str] = {}
for _subject, _words in _KEYWORDS.items():
    for _word in _words:
        assert _SUBJECT_OF.setdefault(_word, _subject) == _subject, f"{_word!r} is in two subjects"
# One pattern, longest keywords first: at each place the longest keyword wins and uses
# the words up, so "off-road bike" counts once, for anti-social behaviour, and not also
# as a bike (theft) and a road.
_PATTERN = re.compile(
    r"\b(?:"
    + "|".join(
        re.escape(w) + (r"\b" if w in _WHOLE_WORDS else "")
        for w in sorted(_SUBJECT_OF, key=lambda w: (-len(w), w))
    )
    + ")"
)


def subject_of_text(text: str) -> str:
    """The subject whose keywords appear most often; on a tie, the one that appears
    first; 'other' if none do."""
    hits: dict[str, int] = {}
    for word in _PATTERN.findall(text.lower()):
        subject = _SUBJECT_OF[word]
        hits[subject] = hits.get(subject, 0) + 1  # dict order: first appearance
    if not hits:
        return "other"
    return max(hits, key=lambda s: hits[s])


def subject_of_mention(text: str, intent: str | None, flags: Iterable[str]) -> str:
    """A mention's subject: a specific flag first (the triage model already read the
    text), then a specific intent, then keywords."""
    for flag in flags:
        subject = _FLAG_SUBJECT.get(flag)
        if subject:
            return subject
    if intent in _INTENT_SUBJECT:
        return _INTENT_SUBJECT[intent]
    return subject_of_text(text)


def shares(counts: Mapping[str, int]) -> dict[str, float]:
    total = sum(counts.values())
    if total <= 0:
        return {s: 0.0 for s in SUBJECTS}
    return {s: counts.get(s, 0) / total for s in SUBJECTS}


def gap_score(public: Mapping[str, int], force: Mapping[str, int]) -> float | None:
    """0 when the force posts about subjects in the same proportions as the public raise
    them, 100 when they share nothing: the share of the force's posts that would have to
    change subject to match (total variation distance, in percent). None without data on
    either side."""
    if sum(public.values()) <= 0 or sum(force.values()) <= 0:
        return None
    a, b = shares(public), shares(force)
    return round(50 * sum(abs(a[s] - b[s]) for s in SUBJECTS), 1)
