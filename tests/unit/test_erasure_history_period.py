"""Author history is deleted by one period, the retention policy's: the indexer's own
hourly expiry of author-day indices and the retention sweeper agree, whatever
SOCIALDESK_AUTHOR_HISTORY_DAYS says (it applies only where no policy is loaded)."""

from __future__ import annotations

from pathlib import Path

from elasticsearch import AsyncElasticsearch

from socialdesk.config import load_config
from socialdesk.retention import DataClass, periods_for
from socialdesk.settings import BaseServiceSettings
from socialdesk_indexer.flows import IndexerProcessor

ROOT = Path(__file__).resolve().parents[2]


def test_the_indexer_expires_author_days_by_the_retention_policy() -> None:
    config = load_config(ROOT / "config")
    settings = BaseServiceSettings(environment="test", author_history_days=30)
    es = AsyncElasticsearch("http://127.0.0.1:9")
    policy = periods_for(config, None)[DataClass.author_history].days
    assert policy == 8
    assert IndexerProcessor(settings, es, config=config).history_days == policy
    assert IndexerProcessor(settings, es).history_days == 30  # no policy loaded
