"""What a streaming service supplies to the batch runtime (socialdesk.kafka.runtime):
how to decode, a pure-ish function over a batch, an optional timer step, and the state
stores the runtime restores, forgets and writes back for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from aiokafka.structs import TopicPartition

from socialdesk.kafka.outputs import BatchResult, Meta, Output


class StateStore(Protocol):
    """The part of socialdesk.statestore.ChangelogStore the runtime drives."""

    restored: set[int]

    async def ensure_restored(self, partitions: set[int]) -> set[int]: ...

    def forget(self, partitions: set[int]) -> None: ...

    def take_changes(self) -> list[Output]: ...


@runtime_checkable
class SubjectTracking(Protocol):
    """A store that knows whom each sealed value is about (socialdesk.kafka.sealing), so
    the runtime can drop what it holds about a person erased while it runs."""

    changelog: str

    def note_subject(self, partition: int, key: str, kid: str) -> None: ...

    def drop_subjects(self, kids: set[str]) -> set[int]: ...


class Processor(Protocol):
    """A streaming service's steps, in the order the runtime calls them."""

    service: str
    group_id: str
    topics: Sequence[str]
    stores: Sequence[StateStore]

    def decode(self, topic: str, raw: bytes) -> Any:
        """Parse one message; raise ValueError/ValidationError for a poison message."""

    async def handle(self, batch: list[tuple[Any, Meta]]) -> BatchResult:
        """Process decoded messages in order; poison ones come back as dead letters."""

    async def tick(self) -> BatchResult:
        """Called on every poll once assigned: emit whatever a clock has made due."""

    async def on_restored(self, partitions: set[int]) -> None:
        """The stores just read these partitions back before a batch: rebuild from them."""

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        """The stores hold exactly the assigned partitions now: rebuild derived state."""

    async def on_revoke(self, partitions: set[TopicPartition]) -> None:
        """Partitions are being given up (their work so far is committed)."""

    async def on_stop(self) -> None:
        """The service is stopping gracefully (its last batch committed): write out
        whatever it holds back (a projection it writes on a timer)."""


class StreamProcessor:
    """Defaults for the optional steps: no stores, no timer, nothing to rebuild."""

    stores: Sequence[StateStore] = ()

    async def tick(self) -> BatchResult:
        return BatchResult()

    async def on_restored(self, partitions: set[int]) -> None:
        return None

    async def on_assign(self, partitions: set[TopicPartition]) -> None:
        return None

    async def on_revoke(self, partitions: set[TopicPartition]) -> None:
        return None

    async def on_stop(self) -> None:
        return None
