"""An operator's re-grade becomes a labelled example: the indexer keeps it in the
corrections index, and `socialdesk triage train --from-index` retrains with it and
prints the held-out figures."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from elasticsearch import AsyncElasticsearch

from socialdesk.config import load_config
from socialdesk.es import alias
from socialdesk.events import Actor, ItemEvent
from socialdesk.taxonomy import Priority
from socialdesk.topics import ITEMS_EVENTS
from socialdesk_assign.aggregate import apply_mention
from socialdesk_indexer.flows import IndexerProcessor
from tests.unit.conftest import make_mention, make_triaged

from .conftest import Backend
from .helpers import Running, create_topics, produce, settings_for, wait_until

ROOT = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TEXT = "the lads keep setting the bins on fire behind the flats on Croxteth Rd"


def regraded_event() -> ItemEvent:
    config = load_config(ROOT / "config")
    created = apply_mention(None, make_triaged(make_mention(TEXT)), config, NOW).events[-1]
    assert created.item is not None
    item = created.item.model_copy(update={"priority": Priority.P2, "seq": created.seq + 1})
    return ItemEvent(
        event_id="ev-regrade-1",
        item_id=item.id,
        seq=item.seq,
        type="regraded",
        actor=Actor(kind="operator", id="op.merseyside", force="merseyside"),
        at=NOW,
        data={"from": "P3", "to": "P2"},
        item=item,
    )


def test_a_regrade_is_kept_and_used_by_retraining(
    noida: Backend, prefix: str, tmp_path: Path
) -> None:
    settings = settings_for(noida.kafka, prefix, noida.es_url)
    create_topics(settings)
    ev = regraded_event()

    async def index_it() -> None:
        es = AsyncElasticsearch(settings.elasticsearch_url)
        try:
            await produce(
                noida.kafka,
                prefix + ITEMS_EVENTS,
                [(ev.item_id, ev.model_dump_json().encode())],
            )
            async with Running(settings, IndexerProcessor(settings, es)):

                async def stored() -> bool:
                    try:
                        await es.indices.refresh(index=alias(settings, "corrections"))
                        res = await es.count(index=alias(settings, "corrections"))
                    except Exception:
                        return False
                    return int(res["count"]) == 1

                await wait_until(stored, within=60)
        finally:
            await es.close()

    asyncio.run(index_it())
    model = tmp_path / "triage.joblib"
    env = os.environ | {
        "SOCIALDESK_ELASTICSEARCH_URL": settings.elasticsearch_url,
        "SOCIALDESK_INDEX_PREFIX": settings.index_prefix,
    }
    cmd = [sys.executable, "-m", "socialdesk_tools.cli", "triage", "train", "--from-index"]
    out = subprocess.run(
        [*cmd, "--model", str(model)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    ).stdout
    assert "== before ==" not in out  # no model at that path yet
    assert "real messages, 1 operator correction)" in out
    assert "P1 recall" in out and "Welsh vs English" in out
    assert model.exists()
