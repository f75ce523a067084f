"""States that wait for a time: the due-heap sla and notify both keep over their stores.

Each entry is (due, key, partition); a state's due time can move after it was pushed,
so a popped entry is re-checked against the state's own next due time and pushed again
if that moved later. Rebuilt from the store on assignment, checked on every poll.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Generic, Protocol, TypeVar


class Keyed(Protocol):
    item_id: str


S = TypeVar("S", bound=Keyed)
S_co = TypeVar("S_co", bound=Keyed, covariant=True)


class Store(Protocol[S_co]):  # the part of statestore.ChangelogStore used here
    def get(self, partition: int, key: str) -> S_co | None: ...

    def items(self) -> Iterator[tuple[int, str, S_co]]: ...


class DueQueue(Generic[S]):
    def __init__(self, store: Store[S], next_due: Callable[[S], float | None]) -> None:
        self.store = store
        self.next_due = next_due
        self.heap: list[tuple[float, str, int]] = []

    def schedule(self, partition: int, st: S) -> None:
        due = self.next_due(st)
        if due is not None:
            heapq.heappush(self.heap, (due, st.item_id, partition))

    def rebuild(self) -> None:
        """Every state the store holds, after a change of assignment."""
        self.heap = []
        for partition, _, st in self.store.items():
            self.schedule(partition, st)

    def due(self, now: float) -> Iterator[tuple[int, S, float, float]]:
        """(partition, state, the time it was queued for, its actual due time) for every
        state due by `now`; the caller acts and schedules it again."""
        while self.heap and self.heap[0][0] <= now:
            queued, item_id, partition = heapq.heappop(self.heap)
            st = self.store.get(partition, item_id)
            if st is None:
                continue
            actual = self.next_due(st)
            if actual is None or actual > now:
                if actual is not None and actual != queued:
                    self.schedule(partition, st)
                continue
            yield partition, st, queued, actual
