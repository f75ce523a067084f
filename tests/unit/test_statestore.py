"""The state store restores each partition once, even when the rebalance callback and the
first batch ask for it at the same moment: a second restore would wipe what the batch
applied in between (items then answer "unknown item")."""

from __future__ import annotations

import asyncio

from socialdesk.settings import BaseServiceSettings
from socialdesk.statestore import ChangelogStore


class SlowStore(ChangelogStore[str]):
    """Restore reads nothing but takes a while, as a changelog read does under load."""

    def __init__(self) -> None:
        super().__init__(BaseServiceSettings(), "test.changelog", bytes.decode, str.encode)
        self.calls: list[set[int]] = []

    async def restore(self, partitions: set[int]) -> int:
        self.calls.append(set(partitions))
        await asyncio.sleep(0.05)
        for p in partitions:
            self.partitions[p] = {}
        self.restored |= partitions
        return 0


async def test_overlapping_restores_never_wipe_state_applied_in_between() -> None:
    store = SlowStore()

    async def batch() -> None:
        await store.ensure_restored({1, 2})
        store.put(1, "itm_a", "created")

    await asyncio.gather(batch(), store.ensure_restored({0, 1, 2, 3}))
    assert store.get(1, "itm_a") == "created"
    assert sorted(p for call in store.calls for p in call) == [0, 1, 2, 3]


def test_only_the_keys_a_batch_changed_reach_the_changelog_newest_value_once() -> None:
    store: ChangelogStore[str] = ChangelogStore(
        BaseServiceSettings(), "test.changelog", bytes.decode, str.encode
    )
    store.put(0, "a", "created")
    store.put(0, "a", "assigned")
    store.put(1, "b", "created")
    store.delete(1, "b")
    store.put(2, "c", "sent", tracked=False)  # written by its caller at once
    changes = {(o.partition, o.key): o.value for o in store.take_changes()}
    assert changes == {(0, "a"): b"assigned", (1, "b"): None}
    assert store.take_changes() == []  # taken once
    assert store.get(2, "c") == "sent"


def test_forgetting_a_partition_drops_its_pending_changes() -> None:
    store: ChangelogStore[str] = ChangelogStore(
        BaseServiceSettings(), "test.changelog", bytes.decode, str.encode
    )
    store.restored = {0, 1}
    store.put(0, "a", "x")
    store.put(1, "b", "y")
    store.forget({1})
    assert [(o.partition, o.key) for o in store.take_changes()] == [(0, "a")]
    assert store.restored == {0} and store.get(1, "b") is None
