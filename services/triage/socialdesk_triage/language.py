"""Layer 3: language detection, English or Welsh, for short and mixed messages.

lingua (restricted to English and Welsh, so it is fast and never guesses a third
language) decides when a message has enough words; a count of everyday Welsh words
backs it up on very short messages, where any statistical detector is unsure. A hint
from the platform wins, since the platform saw the user's settings.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lingua import Language, LanguageDetector, LanguageDetectorBuilder


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


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

WELSH_THRESHOLD = 0.75


@lru_cache(maxsize=1)
def detector() -> LanguageDetector:
    """Built once per process (cheap, but shared by every call)."""
    return LanguageDetectorBuilder.from_languages(Language.ENGLISH, Language.WELSH).build()


def warm() -> None:
    """Load the detector's models now: lingua loads them on first use, which would cost
    the first message that needs it about half a second."""
    detector().compute_language_confidence("warm up the language models", Language.WELSH)


def welsh_marker_share(text: str) -> tuple[int, float]:
    words = max(1, len(text.split()))
    hits = len(WELSH_MARKERS.findall(text))
    return hits, hits / words


def detect_language(text: str, hint: str | None = None) -> str | None:
    """'cy' or 'en' (ISO 639-1), None for text with no words."""
    if hint:
        return hint.lower()[:2]
    sample = text[:2000]
    if not any(ch.isalpha() for ch in sample):
        return None
    hits, share = welsh_marker_share(sample)
    if hits == 0:
        return "en"  # no everyday Welsh word at all: skip the detector (most traffic)
    words = len(sample.split())
    if words < 4:
        return "cy" if hits >= 1 and share >= 0.3 else "en"
    if hits >= 2 and share >= 0.2:
        return "cy"  # Welsh whatever the detector says: spare its cost (most of this step)
    confidence = detector().compute_language_confidence(sample, Language.WELSH)
    return "cy" if confidence >= WELSH_THRESHOLD else "en"
