"""Plain functions: raw mentions in, triaged mentions out (no Kafka, no index here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from socialdesk.authors import author_key
from socialdesk.config import PlatformConfig
from socialdesk.events import Mention, TriagedMention, item_key_for_thread, utcnow
from socialdesk.taxonomy import Intent
from socialdesk_triage.scorer import AuthorContext, ScoreInput, Scorer, default_scorer


def contexts_from_entries(
    entries: Mapping[str, Iterable[Mapping[str, Any]]], window_days: int
) -> dict[str, AuthorContext]:
    """Each author's recent items (socialdesk.authors entries) as counts the scorer uses."""
    out = {}
    for key, items in entries.items():
        c = [0, 0, 0]
        for item in items:
            c[0] += 1
            c[1] += item.get("intent") == Intent.welfare_concern.value
            c[2] += item.get("priority") in ("P1", "P2")
        out[key] = AuthorContext(c[0], c[1], c[2], window_days)
    return out


def triage_batch(
    mentions: Sequence[Mention],
    config: PlatformConfig,
    scorer: Scorer | None = None,
    contexts: Mapping[str, AuthorContext] | None = None,
    now: datetime | None = None,
) -> list[TriagedMention]:
    """Grade each mention and resolve the force from the account it reached."""
    scorer = scorer or default_scorer()
    now = now or utcnow()
    contexts = contexts or {}
    grades = scorer.score_batch(
        [
            ScoreInput(
                m.text,
                m.language,
                contexts.get(author_key(m.platform.value, m.author.id)),
            )
            for m in mentions
        ],
        now,
    )
    return [
        TriagedMention(
            mention=m,
            triage=t,
            force=config.force_for_account(m.force_account.platform.value, m.force_account.handle),
            item_key=item_key_for_thread(m.thread_key()),
        )
        for m, t in zip(mentions, grades, strict=True)
    ]


def triage_mention(
    mention: Mention,
    config: PlatformConfig,
    now: datetime | None = None,
    scorer: Scorer | None = None,
) -> TriagedMention:
    return triage_batch([mention], config, scorer, None, now)[0]
