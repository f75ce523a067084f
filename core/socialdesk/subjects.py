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

_KEYWORDS: dict[str, tuple[str, ...]] = {
    "violence_weapons": (
        "knife",
        "knives",
        "stabb",
        "gun",
        "firearm",
        "shooting",
        "assault",
        "fight",
        "violence",
        "weapon",
        "machete",
        "attack",
        "cyllell",
        "ymosod",
        "arf",
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
        "dwyn",
    ),
    "fraud_scams": (
        "scam",
        "fraud",
        "phishing",
        "romance",
        "courier fraud",
        "bank",
        "twyll",
    ),
    "drugs": ("drug", "dealing", "cannabis", "county lines", "cocaine", "cyffuriau"),
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
        "traffig",
        "gwrthdrawiad",
    ),
    "missing_people": (
        "missing",
        "appeal",
        "have you seen",
        "wanted",
        "sighting",
        "ar goll",
        "apêl",
    ),
    "welfare": ("welfare", "mental health", "worried about", "vulnerable", "lles"),
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
    ),
    "hate_crime": ("hate crime", "racist", "homophobic", "hate incident", "troseddau casineb"),
    "child_safety": ("child", "children", "school", "young people", "online safety", "plant"),
    "community": (
        "community",
        "event",
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
        "digwyddiad",
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
    ),
    "feedback": ("thank", "thanks", "well done", "complain", "diolch", "cwyn"),
}
_PATTERNS = {
    subject: re.compile(r"\b(?:" + "|".join(re.escape(w) for w in words) + ")")
    for subject, words in _KEYWORDS.items()
}


def subject_of_text(text: str) -> str:
    """The subject whose keywords appear most often; 'other' if none do."""
    lowered = text.lower()
    best, best_hits = "other", 0
    for subject, pattern in _PATTERNS.items():
        hits = len(pattern.findall(lowered))
        if hits > best_hits:
            best, best_hits = subject, hits
    return best


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
