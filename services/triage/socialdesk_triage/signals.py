"""Layer 4: sentiment and abuse signals (VADER, alt-profanity-check).

They are inputs to the classifier and give reasons an operator can read; they never
decide a grade on their own (a frightened message and an abusive one can both be very
negative).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any


@dataclass(frozen=True, slots=True)
class Signals:
    negative: float  # VADER neg share, 0..1
    positive: float
    compound: float  # -1..1
    profanity: float  # probability the text is offensive, 0..1

    def as_features(self) -> list[float]:
        return [self.negative, self.positive, (self.compound + 1) / 2, self.profanity]

    def reasons(self) -> list[str]:
        out = []
        if self.profanity >= 0.8:
            out.append("abusive or offensive language")
        if self.compound <= -0.75:
            out.append("strongly negative tone")
        return out


FEATURE_NAMES = ("sentiment_negative", "sentiment_positive", "sentiment_compound", "profanity")


@lru_cache(maxsize=1)
def _vader() -> Any:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def _profanity(texts: Sequence[str]) -> list[float]:
    from profanity_check import predict_prob

    return [float(p) for p in predict_prob(list(texts))]


def signals_for(texts: Sequence[str]) -> list[Signals]:
    """One call per batch: the profanity model is vectorised."""
    clipped = [t[:2000] for t in texts]
    prof = _profanity(clipped) if clipped else []
    vader = _vader()
    out = []
    for text, p in zip(clipped, prof, strict=True):
        s = vader.polarity_scores(text)
        out.append(Signals(s["neg"], s["pos"], s["compound"], p))
    return out
