"""THRIVE risk factors read from the text, and the safety net built on them.

A control-room call handler grades by what could happen to whom and how soon:
threat and harm (injured, trapped, dying, a weapon), the vulnerability of the person
(a child, an older person, dementia, pregnancy), immediacy (now, still, help), a
hazard where people are (a live carriageway, a railway line, water, an unattended item
at a transport hub), an offender still present, a child being groomed, a vulnerable
person missing. This module finds those factors (English and Welsh), with the phrase
that showed each, and what lowers them (over, past, news, a question, fiction).

Two uses: the factors are classifier inputs (risk_features), and the safety net
(assess) raises the grade when harm or vulnerability meets immediacy, so an emergency
described in words the training data never used is still not graded routine.
Plain Python, no model: every raise names its factors and phrases.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from socialdesk.taxonomy import Priority
from socialdesk_triage.anchors import AnchorIndex
from socialdesk_triage.risk_phrases import (
    HASHTAG,
    LIVE_HAZARD,
    LOWERING,
    NIGHT_OR_COLD,
    PATTERNS,
    SEVERE,
    SLOW_DYING,
    Factor,
    Lowering,
)

MAX_READ = 5000  # the factors read the start of a long message; the rules read all of it


@dataclass
class RiskReading:
    """What the text shows of each factor (the phrase that showed it) and the grade the
    safety net says it can be no lower than."""

    found: dict[Factor, str] = field(default_factory=dict)
    lowered: dict[Lowering, str] = field(default_factory=dict)
    floor: Priority | None = None
    why: str = ""

    def has(self, *factors: Factor) -> bool:
        return any(f in self.found for f in factors)

    def reason(self) -> str | None:
        """The factors and phrases an operator reads, never a stop word on its own."""
        shown = [
            f"{f.value.replace('_', ' ')} ('{p}')"
            for f, p in self.found.items()
            if f != Factor.on_scene
        ]
        if not shown:
            return None
        text = "risk factors: " + ", ".join(shown)
        if self.lowered:
            text += "; lowered by " + ", ".join(
                f"{k.value} ('{v}')" for k, v in self.lowered.items()
            )
        if self.floor is not None:
            text += f"; safety net: at least {self.floor.value} ({self.why})"
        return text


_READINGS: tuple[tuple[Factor | Lowering, re.Pattern[str]], ...] = (
    *PATTERNS.items(),
    *LOWERING.items(),
)
_INDEX = AnchorIndex([pattern for _, pattern in _READINGS])


def read(text: str) -> RiskReading:
    """Find the factors in a message (any case) and decide the safety net's floor."""
    low = text[:MAX_READ].lower().replace("\u2019", "'")
    out = RiskReading()
    for i in sorted(_INDEX.candidates(low)):
        key, pattern = _READINGS[i]
        m = pattern.search(low)
        if m is None:
            continue
        if isinstance(key, Lowering):
            out.lowered[key] = m.group(0)
        else:
            out.found[key] = m.group(0)
    tags = HASHTAG.findall(low)
    if len(tags) >= 2 and Lowering.news not in out.lowered:
        out.lowered[Lowering.news] = " ".join(tags[:2])
    out.floor, out.why = _floor(low, out)
    return out


def _floor(low: str, r: RiskReading) -> tuple[Priority | None, str]:
    """The safety net: harm or vulnerability meeting immediacy. Severe harm happening to
    the writer or in front of them is P1 unless the message reads as over, past, news,
    a question or fiction; lesser combinations and lowered readings floor at P2."""
    lowered = set(r.lowered)
    distant = bool(lowered & {Lowering.news, Lowering.fiction})
    if distant and not r.has(Factor.on_scene):
        return None, ""
    near = not distant
    severe = SEVERE.search(low)
    slow = SLOW_DYING.search(low)
    if severe and slow and severe.start() >= slow.start() and severe.end() <= slow.end():
        severe = None
    live = near and not lowered & {Lowering.over, Lowering.past, Lowering.question}
    now = r.has(Factor.immediate)
    here = r.has(Factor.on_scene)
    if severe and live and (now or here):
        return Priority.P1, "harm meets immediacy"
    if r.has(Factor.vulnerable) and r.has(Factor.harm) and (now or here) and live:
        return Priority.P1, "a vulnerable person hurt now"
    if r.has(Factor.threat) and now and here and live:
        return Priority.P1, "violence or a weapon now"
    if r.has(Factor.offender_present) and r.has(Factor.threat, Factor.harm) and live:
        return Priority.P1, "offender present with violence or injury"
    if r.has(Factor.grooming) and r.has(Factor.vulnerable) and live:
        return Priority.P1, "a child meeting someone who groomed them"
    if (
        r.has(Factor.missing)
        and r.has(Factor.vulnerable)
        and (r.has(Factor.hazard) or NIGHT_OR_COLD.search(low))
        and live
    ):
        return Priority.P1, "a vulnerable person missing in danger"
    if r.has(Factor.hazard) and live and _hazard_is_live(low):
        return Priority.P1, "people in a live hazard now"
    if distant:
        return None, ""
    if severe or r.has(Factor.offender_present, Factor.grooming):
        return Priority.P2, "harm described, not shown to be happening now"
    if r.has(Factor.missing) and r.has(Factor.vulnerable):
        return Priority.P2, "a vulnerable person missing"
    if r.has(Factor.deprivation) and here:
        return Priority.P2, "without food, water, shelter or care"
    if r.has(Factor.harm) and here:
        return Priority.P2, "someone hurt"
    if r.has(Factor.missing) and here:
        return Priority.P2, "someone missing"
    return None, ""


def _hazard_is_live(low: str) -> bool:
    """A hazard counts for P1 only with people in it now (not a pothole on the M6)."""
    return LIVE_HAZARD.search(low) is not None


def risk_features(readings: Sequence[RiskReading]) -> np.ndarray:
    """The factors, lowerings and the safety net's floor as classifier inputs (0/1)."""
    cols = len(Factor) + len(Lowering) + 2
    out = np.zeros((len(readings), cols), dtype=np.float64)
    for i, r in enumerate(readings):
        for j, f in enumerate(Factor):
            out[i, j] = f in r.found
        for j, lo in enumerate(Lowering):
            out[i, len(Factor) + j] = lo in r.lowered
        out[i, -2] = r.floor == Priority.P1
        out[i, -1] = r.floor == Priority.P2
    return out
