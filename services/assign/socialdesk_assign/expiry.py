"""Which threads assign may forget: the retention policy's items period
(config/national/retention.yaml) applied to assign's own copy of each thread, so the
compacted changelog does not keep a person's messages after the indexer's sweeper has
deleted the same items from Elasticsearch. Pure: the clock is a parameter."""

from __future__ import annotations

from datetime import datetime

from socialdesk.config import PlatformConfig
from socialdesk.retention import DataClass, is_due, periods_for
from socialdesk.taxonomy import OPEN_STATUSES
from socialdesk_assign.aggregate import ThreadState


def thread_expired(state: ThreadState, config: PlatformConfig, now: datetime) -> bool:
    """Every item of the thread closed and last changed before its force's items period
    (the indexer sweeper's rule for the same items); a thread with an open item stays."""
    if config.retention is None or not state.items:
        return False
    for item in state.items.values():
        period = periods_for(config, item.force)[DataClass.items]
        if not is_due(period, item.updated_at, now, open_item=item.status in OPEN_STATUSES):
            return False
    return True
