"""The first scorer: transparent phrase rules for the national taxonomy.

Safety first: a phrase that signals threat to life is never outweighed by anything else,
but idioms and hyperbole ("this film is killing me") are recognised and discounted. Each
rule that fires adds a reason an operator can read. Plain Python: no Kafka in here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

from socialdesk.events import Mention, Triage, utcnow
from socialdesk.taxonomy import Flag, Intent, Priority

MODEL_VERSION = "rules-0.1"
UNASSESSED = "could not be assessed automatically"


@dataclass(frozen=True)
class Rule:
    name: str
    pattern: re.Pattern[str]
    reason: str
    priority: Priority | None = None
    intent: Intent | None = None
    flags: tuple[Flag, ...] = ()
    urgency: float = 0.0


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


# Idioms and hyperbole that contain alarming words but are not emergencies.
IDIOMS = _rx(
    r"(?<!\bhe\s)(?<!\bshe\s)(?:is|are|was|it's|its|this|that)\s+killing\s+me",
    r"kill(?:ed|ing)?\s+it",
    r"murder\s+(?:a|an|some)\s+\w+",
    r"dying\s+(?:to|for|of\s+laughter)",
    r"(?:i'?m|im|i\s+am)\s+dead\b(?!\s+serious)",
    r"to\s+die\s+for",
    r"bomb(?:ed)?\s+(?:it|the\s+exam|my\s+exam)",
    r"da\s+bomb",
    r"shoot\s+(?:me\s+)?(?:a\s+)?(?:message|dm|email|text)",
    r"photo\s*shoot",
    r"knock(?:ed)?\s+(?:it\s+)?out\s+of\s+the\s+park",
    r"drop\s+dead\s+gorgeous",
    r"literally\s+dying",
    r"lol|lmao|😂|🤣",
)

RULES: tuple[Rule, ...] = (
    Rule(
        "threat_to_life",
        _rx(
            r"(?:has|have|got|with|carrying|waving|pulled(?:\s+out)?|holding)\s+(?:a\s+|an\s+)?(?:knife|gun|blade|machete|weapon|firearm|shotgun|axe)",
            r"(?:knife|gun|machete)\s+(?:attack|fight|point)",
            r"(?:stabbed|stabbing|being\s+stabbed|shot\s+at|shooting)",
            r"(?:fight(?:ing)?|brawl(?:ing)?)\s+(?:with|involving)\s+(?:knives|weapons|a\s+knife)",
            r"(?:efo|gyda|gydag)\s+(?:cyllell|chyllell|gwn|dryll)",  # Welsh: with a knife/gun
            r"wedi\s+(?:cael\s+ei\s+)?[td]rywanu",  # Welsh: (has been) stabbed
        ),
        "threat to life or serious violence described",
        Priority.P1,
        Intent.crime_report,
        (Flag.weapon,),
        0.98,
    ),
    Rule(
        # Same grade, no weapon named: a weapon flag here would mislead the desk.
        "threat_to_life_no_weapon",
        _rx(
            r"going\s+to\s+kill\s+(?:me|her|him|them|us)",
            r"(?:threaten(?:ing|ed)?\s+to\s+kill)",
            r"(?:he|she)(?:'s|\s+is)\s+(?:killing|strangling|choking)\s+(?:me|her|him|us)",
            r"(?:attacking|beating|battering)\s+(?:me|her|him|someone|a\s+\w+)",
            r"(?:help\s+(?:me|us)\s+)?(?:he|she|they)(?:'s|\s+is|\s+are|'re)\s+(?:breaking|kicking|smashing)\s+(?:(?:the|my|our)\s+(?:front\s+|back\s+)?door\s+)?(?:in|down)",
            r"not\s+breathing|unconscious|bleeding\s+(?:heavily|badly|everywhere)",
        ),
        "threat to life or serious violence described",
        Priority.P1,
        Intent.crime_report,
        (),
        0.98,
    ),
    Rule(
        "self_harm",
        _rx(
            r"(?:want|going|gonna|plan(?:ning)?)\s+to\s+(?:end\s+(?:it|my\s+life)|kill\s+my\s*self|die)",
            r"end(?:ing)?\s+(?:it\s+all|my\s+life)",
            r"suicid(?:e|al)",
            r"(?:taken|took|swallowed)\s+(?:all\s+)?(?:my\s+)?(?:pills|tablets|an\s+overdose)",
            r"(?:no\s+reason|nothing)\s+(?:left\s+)?to\s+live",
            r"on\s+the\s+(?:bridge|ledge|roof)\s+.{0,20}(?:jump|end)",
            r"self[\s-]?harm",
            r"(?:eisiau|mynd\s+i)\s+(?:marw|lladd\s+fy\s+hun)",
        ),
        "possible suicide or self-harm intent",
        Priority.P1,
        Intent.welfare_concern,
        (Flag.self_harm,),
        0.99,
    ),
    Rule(
        "child_in_danger",
        _rx(
            r"(?:child|kid|toddler|baby|little\s+(?:boy|girl))\s+(?:alone|left|locked|in\s+danger|being\s+(?:hit|beaten|hurt))",
            r"(?:hitting|beating|hurting)\s+(?:a|the|his|her|their)\s+(?:child|kid|baby|son|daughter)",
            r"(?:plentyn|babi)\s+(?:ar\s+ei\s+ben\s+ei\s+hun|mewn\s+perygl)",
        ),
        "a child may be in danger",
        Priority.P1,
        Intent.welfare_concern,
        (Flag.child_at_risk,),
        0.97,
    ),
    Rule(
        "crime_in_progress",
        _rx(
            r"(?:breaking|broke)\s+into\s+(?:a|my|the|next\s+door'?s?)",
            r"(?:happening|going\s+on)\s+(?:right\s+)?now",
            r"(?:being\s+)?(?:burgled|robbed|mugged)\s+(?:right\s+)?now",
            r"in\s+progress",
        ),
        "crime may be in progress",
        Priority.P2,
        Intent.crime_report,
        (),
        0.8,
    ),
    Rule(
        "missing_person",
        _rx(
            r"missing\s+(?:person|man|woman|boy|girl|teen|child|since)",
            r"(?:seen|spotted|saw)\s+(?:the\s+)?missing",
            r"ar\s+goll",
        ),
        "missing person or sighting",
        Priority.P2,
        Intent.information,
        (Flag.missing_person,),
        0.75,
    ),
    Rule(
        "domestic_abuse",
        _rx(
            r"(?:my|her|his)\s+(?:partner|husband|wife|boyfriend|girlfriend|ex)\s+(?:hits|hit|beats|beat|hurts|hurt|threatens|threatened|is\s+violent)",
            r"domestic\s+(?:abuse|violence)",
            r"coercive",
            r"cam-drin\s+domestig",
        ),
        "domestic abuse disclosed",
        Priority.P2,
        Intent.crime_report,
        (Flag.domestic_abuse,),
        0.8,
    ),
    Rule(
        "hate_crime",
        _rx(r"hate\s+crime", r"racially\s+abused", r"racist\s+(?:abuse|attack)", r"homophobic"),
        "hate crime reported",
        Priority.P2,
        Intent.crime_report,
        (Flag.hate_crime,),
        0.7,
    ),
    Rule(
        "welfare",
        _rx(
            r"(?:worried|concerned)\s+(?:about|for)",
            r"(?:haven'?t|not)\s+(?:seen|heard\s+from)\s+(?:my|our|her|him)",
            r"welfare\s+check",
            r"poeni\s+am",
        ),
        "welfare concern",
        Priority.P2,
        Intent.welfare_concern,
        (),
        0.65,
    ),
    Rule(
        "road_hazard",
        _rx(
            r"(?:debris|tree|animal|horse|cow|sheep|ladder)\s+(?:in|on|across)\s+the\s+(?:road|carriageway|motorway|m\d+|a\d+)",
            r"(?:crash|collision|accident)\s+on\s+the",
            r"(?:drunk|drink)\s+driv(?:er|ing)",
            r"wrong\s+way\s+(?:on|down)",
            r"damwain",
        ),
        "road hazard or collision",
        Priority.P2,
        Intent.road_traffic,
        (),
        0.7,
    ),
    Rule(
        "fraud",
        _rx(r"scam(?:med)?", r"fraud", r"phishing", r"conned"),
        "possible fraud",
        Priority.P3,
        Intent.crime_report,
        (Flag.fraud,),
        0.4,
    ),
    Rule(
        "drugs",
        _rx(r"(?:drug|drugs)\s+deal(?:ing|er|ers)?", r"cannabis|weed\s+smell|county\s+lines"),
        "drugs activity reported",
        Priority.P3,
        Intent.crime_report,
        (Flag.drugs,),
        0.35,
    ),
    Rule(
        "crime",
        _rx(
            r"stolen|nicked|burgl(?:ed|ary)|broken\s+into|vandal(?:ised|ized|ism)|theft|shoplift\w*",
            r"assault(?:ed)?|robbed|mugged",
            r"wedi\s+(?:dwyn|torri\s+i\s+mewn)",
        ),
        "crime reported",
        Priority.P3,
        Intent.crime_report,
        (),
        0.4,
    ),
    Rule(
        "asb",
        _rx(
            r"anti[\s-]?social|asb",
            r"(?:youths|kids|teens)\s+(?:causing|throwing|shouting|on\s+bikes)",
            r"off[\s-]?road\s+bikes?|nuisance|loud\s+music|noise",
        ),
        "anti-social behaviour",
        Priority.P3,
        Intent.asb,
        (),
        0.3,
    ),
    Rule(
        "road",
        _rx(r"speeding|parked\s+on|parking|dangerous\s+driving|traffic"),
        "road traffic matter",
        Priority.P3,
        Intent.road_traffic,
        (),
        0.25,
    ),
    Rule(
        "complaint",
        _rx(r"complain(?:t)?|disgrace(?:ful)?|unacceptable|rude\s+officer|cwyn"),
        "complaint about the service",
        Priority.P3,
        Intent.complaint,
        (),
        0.2,
    ),
    Rule(
        "enquiry",
        _rx(
            r"how\s+(?:do|can)\s+i",
            r"(?:can|could)\s+(?:you|someone)\s+(?:tell|help|advise)",
            r"lost\s+property|crime\s+(?:ref|reference)|any\s+update",
            r"sut\s+(?:mae|ydw\s+i)|oes\s+modd",
        ),
        "enquiry",
        Priority.P3,
        Intent.enquiry,
        (),
        0.2,
    ),
    Rule(
        "appreciation",
        _rx(r"thank(?:s|\s+you)|cheers|well\s+done|great\s+job|diolch|legends?|brilliant\s+work"),
        "thanks or praise",
        Priority.P4,
        Intent.appreciation,
        (),
        0.02,
    ),
    Rule(
        "abuse",
        _rx(r"pigs|acab|useless\s+(?:coppers|police|lot)|f+u+c+k+\s+(?:the\s+)?(?:police|feds)"),
        "abuse aimed at police",
        Priority.P4,
        Intent.abuse,
        (),
        0.02,
    ),
)

WELSH_MARKERS = _rx(
    r"diolch",
    r"heddlu",
    r"mae",
    r"yn",
    r"ac",
    r"ydw",
    r"dwi",
    r"efo",
    r"gyda",
    r"ond",
    r"wedi",
    r"hefyd",
    r"bore\s+da",
    r"plis",
    r"os\s+gwelwch",
    # everyday words, so a short message ("Dwi eisiau marw") is still recognised
    r"eisiau",
    r"ddim",
    r"fy",
    r"chi",
    r"eich",
    r"rwy'?n",
    r"rydw",
    r"helpu",
    r"heddiw",
    r"ddoe",
    r"neithiwr",
    r"mewn",
    r"roedd",
    r"oedd",
    r"sydd",
    r"ydy",
    r"ydych",
    r"nain",
    r"taid",
)
_PRIORITY_RANK = {Priority.P1: 1, Priority.P2: 2, Priority.P3: 3, Priority.P4: 4}


@dataclass
class _Acc:
    priority: Priority = Priority.P4
    intent: Intent | None = None
    intent_rank: int = 99
    flags: list[Flag] = field(default_factory=list)
    urgency: float = 0.0
    reasons: list[str] = field(default_factory=list)


def detect_language(text: str, hint: str | None) -> str | None:
    """A hint from the platform wins; otherwise count common Welsh words."""
    if hint:
        return hint.lower()[:2]
    words = max(1, len(text.split()))
    hits = len(WELSH_MARKERS.findall(text))
    if hits >= 2 and hits / words >= 0.12:
        return "cy"
    return "en" if text.strip() else None


def score_text(text: str, language_hint: str | None = None, now: datetime | None = None) -> Triage:
    """Grade one message. Never raises: anything odd is graded P2 for a human to see."""
    now = now or utcnow()
    try:
        return _score(text, language_hint, now)
    except Exception:
        return Triage(
            priority=Priority.P2,
            intent=Intent.other,
            flags=[],
            urgency=0.6,
            confidence=0.0,
            language=None,
            reasons=[UNASSESSED],
            model_version=MODEL_VERSION,
            scored_at=now,
        )


def _score(text: str, language_hint: str | None, now: datetime) -> Triage:
    if not isinstance(text, str) or not text.strip():
        raise ValueError("empty")
    sample = text[:5000]  # enough to judge whether it is readable at all
    visible = [ch for ch in sample if not ch.isspace()]
    controls = sum(unicodedata.category(ch) in ("Cc", "Co", "Cs", "Cn") for ch in visible)
    if controls > 0.05 * len(visible) or sum(ch.isalpha() for ch in visible) < 0.3 * len(visible):
        raise ValueError("no readable words")
    # Every rule reads the whole message (at most a Mention's 100,000 characters): a
    # threat at the end of a long post must not go unseen.
    body = text[:100_000]
    idiom_free = IDIOMS.sub(" ", body)
    acc = _Acc()
    discounted = False
    for rank, rule in enumerate(RULES):
        if rule.pattern.search(idiom_free):
            _apply(acc, rule, rank)
        elif rule.priority == Priority.P1 and rule.pattern.search(body):
            discounted = True
    language = detect_language(sample, language_hint)
    if language == "cy":
        acc.flags.append(Flag.welsh_language)
        acc.reasons.append("written in Welsh: answer in Welsh (Welsh Language Standards)")
    if discounted and acc.priority != Priority.P1:
        acc.reasons.append("alarming words read as idiom or hyperbole")
    intent = acc.intent or Intent.other
    if acc.intent is None:
        acc.priority = Priority.P3 if len(sample.split()) > 6 else Priority.P4
        acc.reasons.append("no specific signal; general message")
    confidence = 0.9 if acc.reasons and acc.intent is not None else 0.4
    return Triage(
        priority=acc.priority,
        intent=intent,
        flags=sorted(set(acc.flags), key=lambda f: f.value),
        urgency=round(max(acc.urgency, 0.05 if acc.priority == Priority.P4 else 0.2), 3),
        confidence=confidence,
        language=language,
        reasons=acc.reasons,
        model_version=MODEL_VERSION,
        scored_at=now,
    )


def _apply(acc: _Acc, rule: Rule, rank: int) -> None:
    if rule.priority is not None and (
        acc.intent is None or _PRIORITY_RANK[rule.priority] < _PRIORITY_RANK[acc.priority]
    ):
        acc.priority = rule.priority
    if rule.intent is not None and rank < acc.intent_rank:
        acc.intent = rule.intent
        acc.intent_rank = rank
    acc.flags.extend(rule.flags)
    acc.urgency = max(acc.urgency, rule.urgency)
    if rule.reason not in acc.reasons:
        acc.reasons.append(rule.reason)


def score_mention(mention: Mention, now: datetime | None = None) -> Triage:
    return score_text(mention.text, mention.language, now)
