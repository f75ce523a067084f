"""Calibrated linear heads scored without scikit-learn's per-call overhead.

A CalibratedClassifierCV (sigmoid) over a linear SVM is, at prediction time, a sparse
matrix product, a sigmoid per class and a normalisation. scikit-learn wraps that in
input checks that cost about 0.2 ms a call; the triage heads and profanity-check's
five-fold ensemble made some 115 such calls a message, so one message alone took
39 ms. The arithmetic here is scikit-learn's own (calibration.py, _CalibratedClassifier
and CalibratedClassifierCV.predict_proba); tests/unit/test_triage_layers.py checks the
results equal predict_proba's.
"""

from __future__ import annotations

import weakref
from typing import Any

import numpy as np
from scipy.special import expit


class _Member:
    """One calibrated classifier: the linear model and a sigmoid per class."""

    def __init__(self, cc: Any, classes: Any) -> None:
        est = cc.estimator
        self.coef_t = np.ascontiguousarray(np.asarray(est.coef_, dtype=np.float64).T)
        self.intercept = np.asarray(est.intercept_, dtype=np.float64)
        self.a = np.asarray([c.a_ for c in cc.calibrators], dtype=np.float64)
        self.b = np.asarray([c.b_ for c in cc.calibrators], dtype=np.float64)
        self.columns = np.searchsorted(classes, est.classes_)

    def margins(self, x: Any) -> Any:
        return np.asarray(x @ self.coef_t) + self.intercept

    def proba(self, margins: Any, n_classes: int) -> Any:
        calibrated = expit(-(self.a * margins + self.b))
        proba = np.zeros((margins.shape[0], n_classes))
        if n_classes == 2:
            proba[:, 1] = calibrated[:, 0]
            proba[:, 0] = 1.0 - proba[:, 1]
            return proba
        proba[:, self.columns] = calibrated
        total = proba.sum(axis=1)[:, np.newaxis]
        uniform = np.full_like(proba, 1 / n_classes)
        return np.divide(proba, total, out=uniform, where=total != 0)


class LinearSigmoidHead:
    """CalibratedClassifierCV(method="sigmoid") over linear models, any ensemble size."""

    def __init__(self, clf: Any) -> None:
        classes = np.asarray(clf.classes_)
        self.n_classes = len(classes)
        self.members = [_Member(cc, classes) for cc in clf.calibrated_classifiers_]

    def scores(self, x: Any) -> tuple[Any, Any]:
        """(the first member's margins, as decision_function gives them; the mean of
        the members' calibrated probabilities, as predict_proba gives it)."""
        first = None
        total = None
        for m in self.members:
            margins = m.margins(x)
            p = m.proba(margins, self.n_classes)
            first = margins if first is None else first
            total = p if total is None else total + p
        assert first is not None and total is not None
        if self.n_classes == 2:
            first = first[:, 0]
        return first, total / len(self.members)


class SklearnHead:
    """Any other classifier: scikit-learn's own methods."""

    def __init__(self, clf: Any) -> None:
        self.clf = clf

    def scores(self, x: Any) -> tuple[Any, Any]:
        inner = getattr(self.clf, "calibrated_classifiers_", None)
        est = inner[0].estimator if inner else self.clf
        return est.decision_function(x), self.clf.predict_proba(x)


_FAST: weakref.WeakKeyDictionary[Any, LinearSigmoidHead] = weakref.WeakKeyDictionary()


def _fits(clf: Any) -> bool:
    cc: list[Any] = getattr(clf, "calibrated_classifiers_", None) or []
    return bool(cc) and all(
        getattr(c, "method", "sigmoid") == "sigmoid"
        and hasattr(c.estimator, "coef_")
        and all(hasattr(cal, "a_") and hasattr(cal, "b_") for cal in c.calibrators)
        for c in cc
    )


def head(clf: Any) -> LinearSigmoidHead | SklearnHead:
    """The fast form of a fitted classifier, built once (and dropped with it)."""
    fast = _FAST.get(clf)
    if fast is not None:
        return fast
    if _fits(clf):
        fast = _FAST[clf] = LinearSigmoidHead(clf)
        return fast
    return SklearnHead(clf)
