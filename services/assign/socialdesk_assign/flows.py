"""Kafka adapter for assign: state per thread in a changelog-backed store; mentions and
commands applied one at a time per item, in partition order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from aiokafka.structs import TopicPartition

from socialdesk.config import PlatformConfig, load_config
from socialdesk.events import ItemCommand, TriagedMention, item_key_of, utcnow
from socialdesk.kafka import BatchResult, Meta, Output, PoisonMessage, process_each
from socialdesk.settings import BaseServiceSettings
from socialdesk.statestore import ChangelogStore
from socialdesk.stream import serve_processor
from socialdesk.topics import ASSIGN_CHANGELOG, ITEMS_COMMANDS, ITEMS_EVENTS, MENTIONS_TRIAGED
from socialdesk_assign.aggregate import ThreadState, apply_command, apply_mention


def _decode_state(raw: bytes) -> ThreadState:
    return ThreadState.model_validate_json(raw)


def _encode_state(state: ThreadState) -> bytes:
    return state.model_dump_json().encode()


class AssignProcessor:
    service = "assign"
    group_id = "socialdesk-assign"
    topics: Sequence[str] = (MENTIONS_TRIAGED, ITEMS_COMMANDS)

    def __init__(self, settings: BaseServiceSettings, config: PlatformConfig) -> None:
        self.config = config
        self.store: ChangelogStore[ThreadState] = ChangelogStore(
            settings, ASSIGN_CHANGELOG, _decode_state, _encode_state
        )
        self._changelog: list[Output] = []

    def decode(self, topic: str, raw: bytes) -> Any:
        if topic == MENTIONS_TRIAGED:
            return TriagedMention.model_validate_json(raw)
        return ItemCommand.model_validate_json(raw)

    def _one(self, value: Any, meta: Meta) -> list[Output]:
        now = utcnow()
        if isinstance(value, TriagedMention):
            key = value.item_key
            if meta.key is not None and meta.key != key:
                raise PoisonMessage("wrong_key", f"message key {meta.key} is not {key}")
            result = apply_mention(self.store.get(meta.partition, key), value, self.config, now)
        else:
            key = item_key_of(value.item_id)
            if meta.key is not None and meta.key != key:
                raise PoisonMessage("wrong_key", f"commands are keyed by item key {key}")
            result = apply_command(self.store.get(meta.partition, key), value, self.config, now)
        if result.events and result.state.key:
            self._changelog.append(self.store.put(meta.partition, key, result.state))
        return [Output(ITEMS_EVENTS, key, ev) for ev in result.events]

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        self._changelog = []
        outputs = process_each(self.service, batch, self._one)
        return BatchResult(outputs=outputs, changelog=self._changelog)

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        wanted = {tp.partition for tp in partitions} - set(self.store.partitions)
        await self.store.restore(wanted)

    async def on_revoke(self, partitions: set[TopicPartition]) -> None:
        self.store.forget({tp.partition for tp in partitions})


def main() -> None:
    settings = BaseServiceSettings()
    config = load_config(settings.config_dir)
    asyncio.run(serve_processor(settings, AssignProcessor(settings, config)))
