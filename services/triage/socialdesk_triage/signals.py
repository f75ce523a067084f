"""Layer 4: sentiment and abuse signals (VADER's lexicon, alt-profanity-check).

They are inputs to the classifier and give reasons an operator can read; they never
decide a grade on their own (a frightened message and an abusive one can both be very
negative). Sentiment uses VADER's lexicon with a simplified scorer (word valences, a
negator flips the next word, VADER's normalisation): VADER's full rule set cost 260 us a
message, a quarter of the scorer's budget, for a feature the classifier weighs lightly.
"""

from __future__ import annotations

import math
import re
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


@lru_cache(maxsize=1)
def _lexicon() -> dict[str, float]:
    return dict(_vader().lexicon)


_WORDS = re.compile(r"[a-z][a-z']*|[\U0001F300-\U0001FAFF\u2600-\u27BF]")
_NEGATORS = frozenset(
    "not no never nobody nothing nowhere neither nor cannot isn't aren't wasn't weren't "
    "don't doesn't didn't won't wouldn't can't couldn't shouldn't ain't".split()
)


def sentiment(text: str) -> tuple[float, float, float]:
    """(negative share, positive share, compound in -1..1), VADER-normalised."""
    lex = _lexicon()
    pos = neg = 0.0
    neutral = 0
    flip = False
    for w in _WORDS.findall(text.lower()):
        v = lex.get(w)
        if v is None:
            neutral += 1
        else:
            v = -0.74 * v if flip else v
            if v > 0:
                pos += v + 1
            else:
                neg += -v + 1
        flip = w in _NEGATORS
    total = pos - neg
    compound = total / math.sqrt(total * total + 15) if total else 0.0
    denom = pos + neg + neutral
    if not denom:
        return 0.0, 0.0, 0.0
    return neg / denom, pos / denom, compound


def _profanity(texts: Sequence[str]) -> list[float]:
    """profanity-check's own vectoriser and model, its probabilities computed by
    heads.head and vectorise.fast (the same figures as its predict_prob, without
    scikit-learn's per-call checks on its five-fold ensemble)."""
    from profanity_check.profanity_check import model, vectorizer

    from socialdesk_triage.heads import head
    from socialdesk_triage.vectorise import fast

    x = fast(vectorizer).transform(list(texts))
    return [float(p) for p in head(model).scores(x)[1][:, 1]]


def signals_for(texts: Sequence[str]) -> list[Signals]:
    """One call per batch: the profanity model is vectorised."""
    clipped = [t[:2000] for t in texts]
    prof = _profanity(clipped) if clipped else []
    out = []
    for text, p in zip(clipped, prof, strict=True):
        neg, pos, compound = sentiment(text)
        out.append(Signals(neg, pos, compound, p))
    return out
