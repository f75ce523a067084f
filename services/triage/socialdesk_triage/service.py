"""Plain functions: raw mentions in, triaged mentions out (no Kafka, no index here)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from socialdesk.config import PlatformConfig
from socialdesk.events import Mention, TriagedMention, item_key_for_thread, utcnow
from socialdesk.taxonomy import Intent
from socialdesk_triage.scorer import AuthorContext, ScoreInput, Scorer, default_scorer


def author_key(platform: str, author_id: str) -> str:
    return f"{platform}:{author_id}"


def contexts_from_items(
    items: Iterable[Mapping[str, Any]], window_days: int
) -> dict[str, AuthorContext]:
    """Summarise index documents (author's recent items) per author."""
    counts: dict[str, list[int]] = {}
    for doc in items:
        key = author_key(str(doc.get("platform")), str(doc.get("author_id")))
        c = counts.setdefault(key, [0, 0, 0])
        c[0] += 1
        c[1] += doc.get("intent") == Intent.welfare_concern.value
        c[2] += doc.get("priority") in ("P1", "P2")
    return {k: AuthorContext(v[0], v[1], v[2], window_days) for k, v in counts.items()}


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
