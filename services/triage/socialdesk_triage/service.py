"""Plain functions: a raw mention in, a triaged mention out (no Kafka here)."""

from __future__ import annotations

from datetime import datetime

from socialdesk.config import PlatformConfig
from socialdesk.events import Mention, TriagedMention, item_key_for_thread
from socialdesk_triage.scorer import score_mention


def triage_mention(
    mention: Mention, config: PlatformConfig, now: datetime | None = None
) -> TriagedMention:
    """Grade the mention and resolve the force from the account it reached."""
    force = config.force_for_account(
        mention.force_account.platform.value, mention.force_account.handle
    )
    return TriagedMention(
        mention=mention,
        triage=score_mention(mention, now),
        force=force,
        item_key=item_key_for_thread(mention.thread_key()),
    )
