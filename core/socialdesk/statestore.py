"""A key-value state store backed by a compacted Kafka changelog topic.

The service that owns some state (assign owns items, sla owns clocks) keeps it in memory
per input partition and writes every change to a changelog partition of the same number.
The store remembers which keys changed since the runtime last asked, so only those reach
the changelog, newest value only. The runtime (socialdesk.kafka.runtime) reads assigned
partitions back to the end before any input is processed and forgets the ones that moved
away, so a restart or a move to another instance recovers the state exactly.
(faust tables do the same; on the local broker their recovery stalled, see
docs/architecture.md, so the store is written once here on faust's own aiokafka client.)
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from aiokafka.structs import ConsumerRecord, TopicPartition

from socialdesk.backoff import Backoff
from socialdesk.kafka.client import start_reader, topic_name
from socialdesk.kafka.outputs import Output
from socialdesk.kafka.reading import Opener, follow, partitions_of, read_to_end, reconnecting
from socialdesk.kafka.sealing import Sealer, authors_in, drop_authors, opener_for, sealer_for
from socialdesk.settings import BaseServiceSettings

log = logging.getLogger(__name__)
T = TypeVar("T")


def _apply(data: dict[str, T], records: list[ConsumerRecord], decode: Callable[[bytes], T]) -> int:
    """Apply changelog records to a key-value map (a null value deletes the key)."""
    n = 0
    for rec in records:
        if rec.key is None:
            continue
        key = rec.key.decode()
        if rec.value is None:
            data.pop(key, None)
        else:
            data[key] = decode(rec.value)
        n += 1
    return n


class ChangelogStore(Generic[T]):
    def __init__(
        self,
        settings: BaseServiceSettings,
        changelog: str,
        decode: Callable[[bytes], T],
        encode: Callable[[T], bytes],
        *,
        packed: int = 0,
    ) -> None:
        """packed=N: hold each value as its changelog bytes (zlib-compressed), decoded on
        demand, with the N values used last kept decoded (and compressed only when they
        leave that set): many values as objects cost memory and long collector pauses
        (assign's threads; docs/benchmarks.md)."""
        self.settings = settings
        self.changelog = changelog
        self._decode = decode
        self._encode = encode
        self._packed = packed
        self._hot: dict[tuple[int, str], T] = {}  # packed: the values used last, decoded
        # packed: hot values changed since they were last packed, as their changelog bytes;
        # compressed when they leave the hot set, so a thread written many times while hot
        # is compressed once
        self._unpacked: dict[tuple[int, str], bytes] = {}
        self.partitions: dict[int, dict[str, Any]] = {}
        self.restored: set[int] = set()
        self._changed: dict[tuple[int, str], Output] = {}
        # whom each sealed value is about (author key), and whose messages it holds, for
        # dropping an erased person
        self.subjects: dict[tuple[int, str], str] = {}
        self.authors: dict[tuple[int, str], set[str]] = {}
        # Restores run one at a time: two overlapping restores of a partition would let
        # the later one wipe state applied since the earlier one finished.
        self._restoring = asyncio.Lock()

    def get(self, partition: int, key: str) -> T | None:
        data = self.partitions.get(partition)
        if not self._packed:
            return data.get(key) if data is not None else None
        hot = self._hot.pop((partition, key), None)
        if hot is None:
            raw = data.get(key) if data is not None else None
            if raw is None:
                return None
            hot = self._decode(zlib.decompress(raw))
        self._keep_hot(partition, key, hot)
        return hot

    def _keep_hot(self, partition: int, key: str, value: T) -> None:
        self._hot[(partition, key)] = value  # re-inserted: dict order is recency
        if len(self._hot) > self._packed:
            coldest = next(iter(self._hot))
            del self._hot[coldest]
            raw = self._unpacked.pop(coldest, None)
            if raw is not None:
                self.partitions[coldest[0]][coldest[1]] = zlib.compress(raw, 1)

    async def ensure_restored(self, partitions: set[int]) -> set[int]:
        """Restore any of these partitions not yet restored; return those restored now.

        Called on assignment and again before each batch: a message must never be
        applied to a partition whose state has not been read back."""
        async with self._restoring:
            missing = partitions - self.restored
            if missing:
                await self.restore(missing)
            return missing

    def put(self, partition: int, key: str, value: T, *, tracked: bool = True) -> Output:
        """Change the state now; the change reaches the changelog with the batch
        (tracked=False: the caller writes the returned record itself, at once)."""
        raw = self._encode(value)
        if self._packed:
            self.partitions.setdefault(partition, {})[key] = None  # packed when it goes cold
            self._unpacked[(partition, key)] = raw
            self._hot.pop((partition, key), None)
            self._keep_hot(partition, key, value)
        else:
            self.partitions.setdefault(partition, {})[key] = value
        self._note_authors(partition, key, raw)
        out = Output(self.changelog, key, raw, partition=partition)
        self._track(partition, key, out, tracked)
        return out

    def _note_authors(self, partition: int, key: str, raw: bytes | None) -> None:
        found = authors_in(raw) if raw else set()
        if found:
            self.authors[(partition, key)] = found
        else:
            self.authors.pop((partition, key), None)

    def delete(self, partition: int, key: str, *, tracked: bool = True) -> Output:
        self.partitions.setdefault(partition, {}).pop(key, None)
        self._hot.pop((partition, key), None)
        self._unpacked.pop((partition, key), None)
        self.subjects.pop((partition, key), None)
        self.authors.pop((partition, key), None)
        out = Output(self.changelog, key, None, partition=partition)
        self._track(partition, key, out, tracked)
        return out

    def note_subject(self, partition: int, key: str, kid: str) -> None:
        """The value last written for this key was sealed under this author's key."""
        if key in self.partitions.get(partition, {}):
            self.subjects[(partition, key)] = kid

    def drop_subjects(self, kids: set[str]) -> set[int]:
        """Delete (with a tombstone) every value about one of these erased people, and
        take their messages out of other people's values; the partitions touched, whose
        derived state the service rebuilds."""
        gone = [pk for pk, kid in self.subjects.items() if kid in kids]
        for partition, key in gone:
            self.delete(partition, key)
        cleaned = [pk for pk, found in self.authors.items() if found & kids]
        for partition, key in cleaned:
            value = self.get(partition, key)
            if value is None:
                continue
            try:
                self.put(partition, key, self._decode(drop_authors(self._encode(value), kids)))
            except ValueError:  # what is left does not make a state: the person comes first
                log.warning("state dropped whole on erasure", extra={"changelog": self.changelog})
                self.delete(partition, key)
        return {partition for partition, _ in gone + cleaned}

    def _track(self, partition: int, key: str, out: Output, tracked: bool) -> None:
        if tracked:
            self._changed[(partition, key)] = out
        else:
            self._changed.pop((partition, key), None)

    def take_changes(self) -> list[Output]:
        """The changelog records for every key changed since the last call, newest only."""
        changed, self._changed = self._changed, {}
        return list(changed.values())

    def items(self) -> Iterator[tuple[int, str, T]]:
        for partition, data in self.partitions.items():
            for key, value in data.items():
                if self._packed:
                    hot = self._hot.get((partition, key))
                    value = hot if hot is not None else self._decode(zlib.decompress(value))
                yield partition, key, value

    def __len__(self) -> int:
        return sum(len(d) for d in self.partitions.values())

    def forget(self, partitions: set[int]) -> None:
        for p in partitions:
            self.partitions.pop(p, None)
            self.restored.discard(p)
        self._hot = {k: v for k, v in self._hot.items() if k[0] not in partitions}
        self._unpacked = {k: v for k, v in self._unpacked.items() if k[0] not in partitions}
        self.subjects = {k: v for k, v in self.subjects.items() if k[0] not in partitions}
        self.authors = {k: v for k, v in self.authors.items() if k[0] not in partitions}
        self._changed = {k: v for k, v in self._changed.items() if k[0] not in partitions}

    async def restore(self, partitions: set[int]) -> int:
        """Read the changelog partitions from the beginning to their current end.

        Replaces what is held for them: call through ensure_restored, which never
        restores a partition twice."""
        if not partitions:
            return 0
        topic = topic_name(self.settings, self.changelog)
        consumer = await start_reader(self.settings, f"restore-{self.changelog}")
        restored = 0

        def apply(tp: TopicPartition, records: list[ConsumerRecord]) -> None:
            nonlocal restored
            restored += _apply(self.partitions[tp.partition], records, self._held)

        try:
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            for tp in tps:
                self.partitions[tp.partition] = {}
            self._hot = {k: v for k, v in self._hot.items() if k[0] not in partitions}
            self._unpacked = {k: v for k, v in self._unpacked.items() if k[0] not in partitions}
            self.subjects = {k: v for k, v in self.subjects.items() if k[0] not in partitions}
            self.authors = {k: v for k, v in self.authors.items() if k[0] not in partitions}
            sealer = sealer_for(self.settings)
            # an erased record reads as a deletion: the state about that person is gone
            opener = None if sealer is None else self._tracking(sealer)
            await read_to_end(consumer, tps, apply, opener=opener)
        finally:
            await consumer.stop()
        self.restored |= partitions
        log.info(
            "state restored",
            extra={"changelog": self.changelog, "records": restored, "keys": len(self)},
        )
        return restored

    def _held(self, raw: bytes) -> Any:
        """What the store keeps of a changelog value: decoded, or (packed) its bytes
        once they decode, so a value that cannot be read fails the restore as before."""
        value = self._decode(raw)
        return zlib.compress(raw, 1) if self._packed else value

    def _tracking(self, sealer: Sealer) -> Opener:
        async def open_records(records: list[ConsumerRecord]) -> list[ConsumerRecord]:
            out = []
            for rec, kid in await sealer.open(records):
                if rec.key is not None:
                    key = (rec.partition, rec.key.decode())
                    if kid is None or rec.value is None:
                        self.subjects.pop(key, None)
                    else:
                        self.subjects[key] = kid
                    self._note_authors(key[0], key[1], rec.value)
                out.append(rec)
            return out

        return open_records


class GlobalTable(Generic[T]):
    """Every record of a compacted topic, all partitions, kept current by a background
    reader (no consumer group: each instance sees everything). For small, shared state
    such as operator presence."""

    def __init__(
        self, settings: BaseServiceSettings, topic: str, decode: Callable[[bytes], T]
    ) -> None:
        self.settings = settings
        self.topic = topic
        self._decode = decode
        self.data: dict[str, T] = {}
        self.caught_up = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    def _apply(self, _tp: TopicPartition, records: list[ConsumerRecord]) -> None:
        for rec in records:
            try:
                _apply(self.data, [rec], self._decode)
            except ValueError:
                log.warning("bad record ignored", extra={"topic": self.topic})

    async def _run(self) -> None:
        name = topic_name(self.settings, self.topic)

        async def attempt(backoff: Backoff) -> None:
            consumer = await start_reader(self.settings, f"global-{self.topic}")
            try:
                tps = await partitions_of(consumer, name)
                consumer.assign(tps)
                await consumer.seek_to_beginning(*tps)
                backoff.reset()
                opener = opener_for(self.settings)
                await read_to_end(consumer, tps, self._apply, opener=opener)
                self.caught_up.set()
                await follow(consumer, tps, self._apply, poll_ms=300, opener=opener)
            finally:
                await consumer.stop()

        await reconnecting("global table reconnecting", attempt)
