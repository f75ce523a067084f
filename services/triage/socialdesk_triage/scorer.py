"""The scorer: safety rules, classifier, language and signals combined into a grade.

Plain Python, no Kafka. Safety first: a safety rule that reads a threat to life makes
the message P1 whatever the classifier says, and the classifier alone can also raise
P1 above a threshold chosen for recall. Everything else follows the classifier, with
reasons an operator can read. Anything the scorer cannot read is P2 with the reason
"could not be assessed automatically", so a human looks at it soon.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from socialdesk.events import Mention, Triage, utcnow
from socialdesk.taxonomy import PRIORITY_ORDER, Flag, Intent, Priority
from socialdesk_triage.corpus import cache_dir_for, training_fingerprint, training_set
from socialdesk_triage.language import detect_language, warm
from socialdesk_triage.model import (
    GUARDED_P1,
    RECIPE,
    Prediction,
    TriageModel,
    load,
    save,
    train,
)
from socialdesk_triage.risk import RiskReading
from socialdesk_triage.risk import read as read_risk
from socialdesk_triage.rules import RuleResult, apply_rules, guarded
from socialdesk_triage.signals import Signals, signals_for

__all__ = [
    "RULES_VERSION",
    "UNASSESSED",
    "AuthorContext",
    "Scorer",
    "default_scorer",
    "detect_language",
    "score_mention",
    "score_text",
]

log = logging.getLogger(__name__)

RULES_VERSION = "rules-0.7"
UNASSESSED = "could not be assessed automatically"
MAX_TEXT = 200_000  # a mention holds at most 100,000 characters; rules read them all
# Urgency bands keep urgency and grade in the same order: any P1 outranks any P2.
BANDS = {
    Priority.P1: (0.85, 1.0),
    Priority.P2: (0.6, 0.85),
    Priority.P3: (0.25, 0.6),
    Priority.P4: (0.0, 0.25),
}
INTENT_LABEL = {
    Intent.crime_report: "crime report",
    Intent.asb: "anti-social behaviour",
    Intent.welfare_concern: "welfare concern",
    Intent.information: "information for police",
    Intent.road_traffic: "road traffic",
    Intent.enquiry: "enquiry",
    Intent.complaint: "complaint",
    Intent.appreciation: "thanks or praise",
    Intent.abuse: "abuse aimed at police",
    Intent.other: "no police matter",
}
P2_THRESHOLD = 0.3  # P(P2) among P2-P4 that makes it P2 even when P3 or P4 is likelier
TRUST_MODEL = 0.5  # below this probability the classifier defers to a rule that fired
WELSH_REASON = "written in Welsh: answer in Welsh (Welsh Language Standards)"


@dataclass(frozen=True, slots=True)
class AuthorContext:
    """The author's recent items in this force (from the index), newest window only."""

    recent: int = 0
    welfare: int = 0
    urgent: int = 0
    window_days: int = 7


@dataclass(frozen=True, slots=True)
class ScoreInput:
    text: str
    language_hint: str | None = None
    context: AuthorContext | None = None


_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffd\ue000-\uf8ff]")
_LETTERS = re.compile(r"[^\W\d_]")
_SPACE = re.compile(r"\s+")


def readable(text: object) -> bool:
    """False for empty text, binary junk or text without words (regex counts: this runs
    on every message, so no per-character Python loop)."""
    if not isinstance(text, str) or not text.strip():
        return False
    sample = _SPACE.sub("", text[:5000])
    if len(_CONTROLS.findall(sample)) > 0.05 * len(sample):
        return False
    letters = len(_LETTERS.findall(sample))
    if letters >= 0.3 * len(sample):
        return True
    emoji = sum(unicodedata.category(ch) == "So" for ch in sample)
    return letters + emoji >= 0.3 * len(sample)


class Scorer:
    """Holds the model (loaded once) and grades batches of messages."""

    def __init__(self, model: TriageModel | None) -> None:
        self.model = model

    @property
    def version(self) -> str:
        return f"{RULES_VERSION}+{self.model.version}" if self.model else RULES_VERSION

    def score(
        self,
        text: str,
        language_hint: str | None = None,
        context: AuthorContext | None = None,
        now: datetime | None = None,
    ) -> Triage:
        return self.score_batch([ScoreInput(text, language_hint, context)], now)[0]

    def score_batch(
        self, inputs: Sequence[ScoreInput], now: datetime | None = None
    ) -> list[Triage]:
        """Grade many messages at once (the vectorised parts run once per batch).
        Never raises: a message that fails on its own is graded P2 for a human."""
        now = now or utcnow()
        out: list[Triage | None] = [None] * len(inputs)
        ok = [i for i, inp in enumerate(inputs) if readable(inp.text)]
        try:
            texts = [inputs[i].text[:MAX_TEXT] for i in ok]
            signals = signals_for(texts)
            preds: list[Prediction | None] = (
                list(self.model.predict(texts, signals)) if self.model else [None] * len(texts)
            )
        except Exception:  # the model failed on the batch: grade one by one
            log.exception("batch scoring failed; scoring one at a time")
            signals, preds = [], []
        for n, i in enumerate(ok):
            try:
                if preds:
                    sig, pred = signals[n], preds[n]
                else:
                    sig = signals_for([inputs[i].text[:MAX_TEXT]])[0]
                    pred = (
                        self.model.predict([inputs[i].text[:MAX_TEXT]])[0] if self.model else None
                    )
                out[i] = self._combine(inputs[i], sig, pred, now)
            except Exception:
                log.exception("could not score one message")
        return [t if t is not None else self._unassessed(now) for t in out]

    def _unassessed(self, now: datetime) -> Triage:
        return Triage(
            priority=Priority.P2,
            intent=Intent.other,
            flags=[],
            urgency=0.6,
            confidence=0.0,
            language=None,
            reasons=[UNASSESSED],
            model_version=self.version,
            scored_at=now,
        )

    def _combine(
        self, inp: ScoreInput, sig: Signals, pred: Prediction | None, now: datetime
    ) -> Triage:
        text = inp.text[:MAX_TEXT]
        rules = apply_rules(text)
        language = detect_language(text, inp.language_hint)
        reasons = list(rules.reasons)
        risk = pred.risk if pred is not None and pred.risk is not None else read_risk(text)
        priority, grade_p = self._priority(rules, pred)
        priority, grade_p = _safety_net(priority, grade_p, risk)
        intent, intent_p = self._intent(rules, pred)
        flags = set(rules.flags)
        risk_reason = risk.reason()
        if risk_reason:
            reasons.append(risk_reason)
        if pred is not None:
            flags |= {f for f, p in pred.flags.items() if p >= 0.5}
            reasons.append(self._model_reason(pred, intent, priority, grade_p))
        if rules.discounted and priority != Priority.P1:
            reasons.extend(r for r in dict.fromkeys(rules.discounted) if r not in reasons)
        reasons.extend(sig.reasons())
        if language == "cy":
            flags.add(Flag.welsh_language)
            reasons.append(WELSH_REASON)
        priority, context_reason = _apply_context(priority, intent, flags, inp.context)
        if context_reason:
            reasons.append(context_reason)
            grade_p = max(grade_p, 0.5)
        if not reasons:
            reasons.append("no specific signal; general message")
        lo, hi = BANDS[priority]
        confidence = math.sqrt(max(grade_p, 0.0) * max(intent_p, 0.0))
        return Triage(
            priority=priority,
            intent=intent,
            flags=sorted(flags, key=lambda f: f.value),
            urgency=round(lo + (hi - lo) * min(1.0, grade_p), 3),
            confidence=round(min(1.0, confidence), 3),
            language=language,
            reasons=reasons,
            model_version=self.version,
            scored_at=now,
        )

    def _priority(self, rules: RuleResult, pred: Prediction | None) -> tuple[Priority, float]:
        if pred is None:
            if rules.priority is None:
                return Priority.P4, 0.4
            return rules.priority, 0.9
        p1 = pred.p1
        assert self.model is not None
        if rules.critical:
            return Priority.P1, max(p1, 0.9)
        # Alarming words the rules read as idiom, negated or past, or a message a rule
        # recognised as routine or as a specific P2 matter: the classifier must be surer
        # before it calls an emergency the rules have another reading for.
        threshold = self.model.p1_threshold
        if guarded(rules):
            threshold = max(threshold, GUARDED_P1)

        if p1 >= threshold:
            return Priority.P1, max(p1, 0.5)
        rest = {g: p for g, p in pred.priority.items() if g != Priority.P1}
        grade, p = max(rest.items(), key=lambda kv: kv[1])
        total = max(1e-9, sum(rest.values()))
        p = p / total
        p2 = rest.get(Priority.P2, 0.0) / total
        if grade != Priority.P2 and p2 >= P2_THRESHOLD:
            # A missed priority costs more than a routine message looked at early.
            grade, p = Priority.P2, p2
        if rules.priority is not None and p < TRUST_MODEL:
            return rules.priority, max(0.5, p)
        if rules.priority is not None and PRIORITY_ORDER[rules.priority] < PRIORITY_ORDER[grade]:
            # A specific rule (missing person, domestic abuse, road hazard...) floors it.
            return rules.priority, max(0.6, p)
        return grade, p

    @staticmethod
    def _intent(rules: RuleResult, pred: Prediction | None) -> tuple[Intent, float]:
        if pred is None:
            return (rules.intent or Intent.other), (0.8 if rules.intent else 0.4)
        intent, p = pred.top_intent
        if rules.critical and rules.intent is not None:
            # The safety rule that made it P1 knows what kind of emergency it is.
            return rules.intent, max(p if intent == rules.intent else 0.0, 0.8)
        if rules.intent is not None and p < TRUST_MODEL and rules.intent != intent:
            # An unsure classifier defers to a rule that recognised the message.
            return rules.intent, max(pred.intent.get(rules.intent, 0.0), 0.5)
        # A P1 raised by the classifier alone keeps the classifier's intent: forcing an
        # emergency-shaped one mislabels its false alarms more often than not (docs/triage.md).
        return intent, p

    @staticmethod
    def _model_reason(pred: Prediction, intent: Intent, priority: Priority, grade_p: float) -> str:
        ip = pred.intent.get(intent, 0.0)
        words = ", ".join(f"'{w}'" for w in pred.evidence)
        tail = f"; words that weighed most: {words}" if words else ""
        return (
            f"classifier: {INTENT_LABEL[intent]} ({ip:.0%}), "
            f"grade {priority.value} ({grade_p:.0%}){tail}"
        )


def _safety_net(priority: Priority, grade_p: float, risk: RiskReading) -> tuple[Priority, float]:
    """Raise (never lower) the grade to the floor the risk factors set (risk.py)."""
    floor = risk.floor
    if floor is None or PRIORITY_ORDER[floor] >= PRIORITY_ORDER[priority]:
        return priority, grade_p
    return floor, max(grade_p, 0.5)


def _apply_context(
    priority: Priority, intent: Intent, flags: set[Flag], ctx: AuthorContext | None
) -> tuple[Priority, str | None]:
    """Repeated welfare concerns from one author raise the grade to at least P2."""
    if ctx is None or ctx.welfare < 2:
        return priority, None
    welfare_like = intent == Intent.welfare_concern or flags & {
        Flag.self_harm,
        Flag.missing_person,
        Flag.domestic_abuse,
        Flag.child_at_risk,
    }
    if not welfare_like:
        return priority, None
    reason = f"author raised {ctx.welfare} welfare concerns in the last {ctx.window_days} days"
    if PRIORITY_ORDER[priority] > PRIORITY_ORDER[Priority.P2]:
        return Priority.P2, reason + ": raised to P2"
    return priority, reason


# -- the process-wide scorer -------------------------------------------------------

_DEFAULT: Scorer | None = None


def repo_data_dir() -> Path:
    return Path(__file__).resolve().parents[3] / "data" / "triage"


def build_scorer(data_dir: Path | None = None, model_path: Path | None = None) -> Scorer:
    """Load the trained model; train it (and save it) when the file is missing,
    unreadable, or was built from other training data or another recipe. Training
    fetches the real-text grades' texts once (corpus.py). A model retrained with
    operators' corrections is kept as long as the shipped data is unchanged."""
    data_dir = data_dir or repo_data_dir()
    warm()
    path = model_path or data_dir.parent.parent / ".data" / "models" / "triage.joblib"
    wanted = training_fingerprint(data_dir)
    if path.exists():
        try:
            model = load(path)
            if model.shipped_fingerprint == wanted and model.recipe == RECIPE:
                return Scorer(model)
            log.info("retraining: %s was built from other data", path)
        except Exception as exc:  # unreadable, or from another scikit-learn
            log.warning("retraining: cannot load %s (%s)", path, exc)
    train_set = training_set(data_dir, cache_dir_for(data_dir))
    log.info("training the triage model from %s (%d examples)", data_dir, len(train_set))
    model = train(train_set)
    model.shipped_fingerprint = wanted
    try:
        save(model, path)
    except OSError as exc:
        log.warning("could not save the model to %s: %s", path, exc)
    return Scorer(model)


def default_scorer() -> Scorer:
    """The shared scorer, built on first use (never at import time)."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = build_scorer()
    return _DEFAULT


def score_text(
    text: str,
    language_hint: str | None = None,
    now: datetime | None = None,
    context: AuthorContext | None = None,
) -> Triage:
    return default_scorer().score(text, language_hint, context, now)


def score_mention(
    mention: Mention, now: datetime | None = None, context: AuthorContext | None = None
) -> Triage:
    return score_text(mention.text, mention.language, now, context)
