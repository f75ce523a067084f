"""Literal anchors: a cheap test that a big regular expression cannot match.

Python's `re` tries every alternative of a large alternation at every word boundary, so
the rules and vocabulary groups cost most of the scorer's time on messages they do not
match, which is nearly all of them. Every match of a pattern must contain at least one
of its anchors (plain substrings read from the parsed pattern), and a substring test is
far cheaper than the search, so a pattern is only run when one of its anchors occurs.
The answer is exactly the pattern's own: anchors only skip searches that would fail
(tests/unit/test_triage_layers.py checks this over every shipped message).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as P  # type: ignore[attr-defined]
from typing import Any

import ahocorasick

Anchors = frozenset[str] | None  # None: no anchors found, always run the pattern
MIN_ANCHOR = 2  # shorter anchors would occur in nearly every message


def _best(candidates: list[frozenset[str]]) -> Anchors:
    """The candidate set whose shortest member is longest (the rarest to occur)."""
    if not candidates:
        return None
    best = max(candidates, key=lambda s: (min(map(len, s)), -len(s)))
    return best if min(map(len, best)) >= MIN_ANCHOR else None


def _sequence(items: list[tuple[Any, Any]]) -> Anchors:
    """Anchors of a sequence: any single item's, or a run of consecutive literals."""
    candidates: list[frozenset[str]] = []
    run = ""
    for op, av in items:
        if op is C.LITERAL:
            run += chr(av)
            continue
        if run:
            candidates.append(frozenset({run}))
            run = ""
        found = _item(op, av)
        if found is not None:
            candidates.append(found)
    if run:
        candidates.append(frozenset({run}))
    return _best(candidates)


def _item(op: Any, av: Any) -> Anchors:
    if op is C.SUBPATTERN:
        if av[1] & re.IGNORECASE:  # (?i:...): its literals match either case
            return None
        return _sequence(list(av[-1]))
    if op is C.BRANCH:
        union: set[str] = set()
        for alternative in av[1]:
            found = _sequence(list(alternative))
            if found is None:
                return None  # one alternative without anchors: no set covers them all
            union |= found
        return frozenset(union)
    if op in (C.MAX_REPEAT, C.MIN_REPEAT) and av[0] >= 1:
        return _sequence(list(av[2]))
    return None  # optional parts, classes, assertions: they guarantee no text


def anchors(pattern: re.Pattern[str]) -> Anchors:
    """Substrings one of which every match contains, or None. Only for patterns
    matched case-sensitively (the texts are lower-cased first)."""
    if pattern.flags & re.IGNORECASE:
        return None
    return _sequence(list(P.parse(pattern.pattern, pattern.flags)))


def may_match(found: Anchors, text: str) -> bool:
    """False only when the pattern cannot match text."""
    return found is None or any(a in text for a in found)


class AnchorIndex:
    """Which of many patterns may match a text, found in one pass over the text.

    Testing each pattern's anchors one by one costs a substring scan per anchor per
    pattern; an Aho-Corasick automaton of every anchor reads the text once."""

    def __init__(self, patterns: Sequence[re.Pattern[str]]) -> None:
        self.anchors: tuple[Anchors, ...] = tuple(anchors(p) for p in patterns)
        self.always = frozenset(i for i, a in enumerate(self.anchors) if a is None)
        owners: dict[str, list[int]] = {}
        for i, found in enumerate(self.anchors):
            for anchor in found or ():
                owners.setdefault(anchor, []).append(i)
        self._automaton: Any = None
        if owners:
            self._automaton = ahocorasick.Automaton()
            for anchor, indices in owners.items():
                self._automaton.add_word(anchor, tuple(indices))
            self._automaton.make_automaton()

    def candidates(self, text: str) -> frozenset[int]:
        """The patterns that may match text: every other one cannot."""
        if self._automaton is None:
            return self.always
        found = set(self.always)
        for _end, indices in self._automaton.iter(text):
            found.update(indices)
        return frozenset(found)
