"""Layer 1: safety rules for the critical signals, with idiom, negation and tense.

Transparent phrase rules: each that fires gives a reason an operator can read. They
exist so that a threat to life never depends on a statistical model alone; idioms and
hyperbole ("this film is killing me") are removed first, and a critical phrase that is
negated ("he didn't have a knife") or placed in the past ("last year") is discounted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from socialdesk.taxonomy import PRIORITY_ORDER, Flag, Intent, Priority
from socialdesk_triage.anchors import AnchorIndex
from socialdesk_triage.rule_table import (
    IDIOMS,
    RULES,
    Rule,
)

NEGATORS = re.compile(
    r"\b(?:no|not|never|nobody|no\s+one|didn'?t|doesn'?t|wasn'?t|weren'?t|isn'?t|aren'?t|"
    r"hasn'?t|haven'?t|without|false\s+alarm|ddim|heb)\b",
    re.IGNORECASE,
)
# Critical phrases placed well in the past, in fiction or in the news are not happening now.
DISTANT = re.compile(
    r"\b(?:last\s+(?:week|month|year|summer|winter|christmas)|years?\s+ago|months?\s+ago|"
    r"weeks?\s+ago|back\s+in\s+(?:19|20)\d\d|in\s+the\s+(?:news|film|movie|game|book|series)|"
    r"on\s+(?:the\s+news|telly|tv|netflix)|fortnite|gta|call\s+of\s+duty|among\s+us|episode|"
    r"videos?|drama|film\s+set|paintball|airsoft|heard\s+(?:there\s+was|about)|last\s+night|yesterday|"
    r"earlier\s+today|(?:days?|weeks?|months?)\s+since|in\s+(?:january|february|march|april|"
    r"may|june|july|august|september|october|november|december)|"
    r"on\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|(?:at|over)\s+the\s+weekend|"
    r"(?:y\s+)?llynedd|(?:flynyddoedd|blynedd|mlynedd|blwyddyn|misoedd|mis|wythnos(?:au)?)\s+yn\s+[oô]l|"
    r"neithiwr|wythnos\s+diwetha\w*|clywais|glywais|clywes)\b",
    re.IGNORECASE,
)
# Said after a critical phrase, these make it something that is over or was a mistake:
# "he's gone now, no one hurt", "no wait, it was a vape". The phrase is lowered to P2
# (a recent incident still wants prompt attention), never dropped.
RESOLVED = re.compile(
    r"\b(?:no\s+wait|false\s+alarm|turns\s+out|(?:it|that)\s+was\s+(?:only|just)\s+a|my\s+mistake|"
    r"sorry\s+for\s+the\s+panic|(?:he|she|they)(?:'s|'ve|\s+has|\s+have)\s+(?:gone|left|run\s+off)\s+now|"
    r"gone\s+now|(?:no\s*one|nobody|noone)\s+(?:was\s+|got\s+)?(?:hurt|injured)(?!\s+yet)|"
    r"(?:everyone|every1|we'?re|she'?s|he'?s)\s+(?:is\s+)?(?:safe|ok|okay|fine)\s+now|"
    r"wedi\s+mynd\s+(?:r[wŵ]an|nawr)|neb\s+wedi\s+(?:brifo|anafu))\b",
    re.IGNORECASE,
)
# The whole message read for tense and outcome (not tied to a critical phrase): it
# reports something that is over ("he's gone now", "I'm with her", "no one hurt"), asks a
# question, or places itself in the past ("an hour ago", "last night") without saying
# anything is still happening. Such a message has a non-emergency reading: the classifier
# must be surer before it calls it P1 on its own (see guarded()).
OVER = re.compile(
    r"\b(?:(?:he|she|they)(?:'s|'ve|\s+has|\s+have)\s+(?:gone|left|run\s+off|legged\s+it|cleared\s+off)"
    r"(?=\s*(?:[.,!;]|$|now|and|but|so))|gone\s+now|left\s+now|all\s+sorted|sorted\s+now|"
    r"(?<!not\s)(?:i'?m|im|we'?re|she'?s|he'?s|they'?re)\s+(?:ok|okay|fine|safe|alright|home\s+now)|"
    r"(?:no\s*one|nobody|noone)\s+(?:was\s+|got\s+|is\s+)?(?:hurt|injured)(?!\s+yet)|"
    r"(?:i'?m|we'?re|someone'?s|staff\s+(?:are|is)|a\s+couple\s+of\s+us\s+are|police\s+are|"
    r"paramedics\s+are)\s+with\s+(?:him|her|them)|(?<!ddim\s)yn\s+(?:iawn|saff))\b"
)
QUESTION = re.compile(
    r"\b(?:how\s+(?:do|can|long)|what\s+happens|can\s+(?:i|you|someone)\s+"
    r"(?:report|advise|tell)|any\s+(?:news|update)|sut\s+(?:mae|ydw|dw)|oes\s+modd)\b"
)
PAST = re.compile(
    r"\b(?:(?<!since\s)(?:ago|earlier|yesterday)|last\s+(?:night|week|month|year|weekend|time)|"
    r"on\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)|the\s+other\s+(?:day|night)|"
    r"(?<!ers\s)(?:ddoe|neithiwr)|yn\s+[oô]l|wythnos\s+diwetha\w*)\b"
)
STILL = re.compile(
    r"\b(?:now|rn|atm|currently|still|as\s+we\s+speak|at\s+the\s+moment|help|hurry|quick(?:ly)?|"
    r"please\s+(?:come|send|help|someone)|pls\s+(?:come|send|help|hurry)|send\s+someone|999|"
    r"r[wŵ]an|nawr|ar\s+hyn\s+o\s+bryd|dal\s+(?:yna|yma|i|wrthi)|helpwch|brysiwch|dewch|plis)\b"
)
READ_AS_OVER = "message reads as past, over or a question"
CLAUSE_BREAK = re.compile(r"[.!?;\n]|\bbut\b|\bond\b", re.IGNORECASE)


@dataclass
class RuleResult:
    """What the rules found: the most urgent grade, an intent, flags and reasons."""

    priority: Priority | None = None
    intent: Intent | None = None
    flags: list[Flag] = field(default_factory=list)
    urgency: float = 0.0
    reasons: list[str] = field(default_factory=list)
    fired: list[str] = field(default_factory=list)
    discounted: list[str] = field(default_factory=list)
    _intent_rank: int = 99

    @property
    def critical(self) -> bool:
        return self.priority == Priority.P1

    def add(self, rule: Rule, rank: int, priority: Priority | None) -> None:
        if priority is not None and (
            self.priority is None or PRIORITY_ORDER[priority] < PRIORITY_ORDER[self.priority]
        ):
            self.priority = priority
        if rule.intent_first and priority == rule.priority:
            rank = -1
        if rule.intent is not None and rank < self._intent_rank:
            self.intent, self._intent_rank = rule.intent, rank
        self.flags.extend(f for f in rule.flags if f not in self.flags)
        if priority == rule.priority:
            self.urgency = max(self.urgency, rule.urgency)
        if rule.reason not in self.reasons:
            self.reasons.append(rule.reason)
        self.fired.append(rule.name)


# Substrings one of which every match of each rule contains (anchors.py): most messages
# contain none of a rule's, and its search is then skipped.
RULE_INDEX = AnchorIndex([rule.pattern for rule in RULES])


def _clause_before(text: str, start: int, reach: int = 60) -> str:
    window = text[max(0, start - reach) : start]
    parts = CLAUSE_BREAK.split(window)
    return parts[-1] if parts else window


NOT_A_NEGATION = re.compile(r"\b(?:doesn'?t|don'?t|didn'?t)\s+know\b")


def _negated(text: str, start: int) -> bool:
    """A negator in the few words just before the phrase, in the same clause ("she
    doesn't know them" says who, it negates nothing that follows)."""
    return NEGATORS.search(NOT_A_NEGATION.sub(" ", _clause_before(text, start, 28))) is not None


def _clause_around(text: str, start: int, end: int) -> str:
    before = _clause_before(text, start)
    after = CLAUSE_BREAK.split(text[end : end + 60])[0]
    return before + text[start:end] + after


def apply_rules(text: str) -> RuleResult:
    """Run every rule over the whole text (idioms removed first)."""
    text = text.lower()
    idiom_free = IDIOMS.sub(" ", text)
    had_idiom = idiom_free != text
    result = RuleResult()
    if had_idiom:
        result.discounted.append("alarming words read as idiom or hyperbole")
    may_match = RULE_INDEX.candidates(idiom_free)
    may_match_whole = RULE_INDEX.candidates(text) if had_idiom else frozenset()
    for rank, rule in enumerate(RULES):
        match = rule.pattern.search(idiom_free) if rank in may_match else None
        if match is None:
            if (
                had_idiom
                and rule.priority == Priority.P1
                and rank in may_match_whole
                and rule.pattern.search(text)
            ):
                result.discounted.append("alarming words read as idiom or hyperbole")
            continue
        priority = rule.priority
        if priority == Priority.P1:
            # Look at every occurrence: one un-negated, current one is enough.
            live = False
            for m in rule.pattern.finditer(idiom_free):
                if _negated(idiom_free, m.start()):
                    continue
                if DISTANT.search(_clause_around(idiom_free, m.start(), m.end())):
                    continue
                if RESOLVED.search(idiom_free, m.end(), m.end() + 150):
                    continue
                live = True
                break
            if not live:
                first = rule.pattern.search(idiom_free)
                assert first is not None
                negated = _negated(idiom_free, first.start())
                result.discounted.append(
                    "critical words negated" if negated else "critical words describe the past"
                )
                if negated:
                    continue
                priority = Priority.P2  # in the past: still worth prompt attention
        result.add(rule, rank, priority)
    if OVER.search(text) or QUESTION.search(text) or (PAST.search(text) and not STILL.search(text)):
        result.discounted.append(READ_AS_OVER)
    return result


def guarded(result: RuleResult) -> bool:
    """True when the rules have a reading of the message that is not an emergency: the
    alarming words were idiom, negated or in the past, or a routine (P3/P4) or specific
    P2 rule recognised it (a missing-person sighting, a disclosure, a road hazard). The
    classifier must then be surer (P(P1) at least 0.5) to call it P1 on its own. A crime
    in progress is no such reading. Measured out-of-fold on the training split: adding
    the specific P2 rules lost no P1 and removed some false alarms."""
    if result.discounted or result.priority in (Priority.P3, Priority.P4):
        return True
    return result.priority == Priority.P2 and "crime_in_progress" not in result.fired
