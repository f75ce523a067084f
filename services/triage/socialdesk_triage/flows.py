"""Kafka adapter for triage: decode, grade with the plain function, produce."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka.structs import TopicPartition

from socialdesk.config import PlatformConfig, load_config
from socialdesk.events import Mention
from socialdesk.kafka import BatchResult, Meta, Output, process_each
from socialdesk.settings import BaseServiceSettings
from socialdesk.stream import serve_processor
from socialdesk.topics import MENTIONS_RAW, MENTIONS_TRIAGED
from socialdesk_triage.service import triage_mention


class TriageProcessor:
    service = "triage"
    group_id = "socialdesk-triage"
    topics: Sequence[str] = (MENTIONS_RAW,)

    def __init__(self, config: PlatformConfig) -> None:
        self.config = config

    def decode(self, topic: str, raw: bytes) -> Mention:
        return Mention.model_validate_json(raw)

    def _one(self, mention: Any, meta: Meta) -> list[Output]:
        triaged = triage_mention(mention, self.config)
        return [Output(MENTIONS_TRIAGED, triaged.item_key, triaged)]

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        return BatchResult(outputs=process_each(self.service, batch, self._one))

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        return None

    async def on_revoke(self, partitions: set[TopicPartition]) -> None:
        return None


def main() -> None:
    settings = BaseServiceSettings()
    config = load_config(settings.config_dir)
    asyncio.run(serve_processor(settings, TriageProcessor(config)))
