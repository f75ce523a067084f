"""A packed state store (assign's: values held as compressed changelog bytes, the few
used last kept decoded) answers exactly as the plain store does, whatever has left the
decoded set, and writes the same changelog records."""

from __future__ import annotations

import json
import sys

from socialdesk.settings import BaseServiceSettings
from socialdesk.statestore import ChangelogStore


def _decode(raw: bytes) -> dict[str, int]:
    return dict(json.loads(raw))


def _encode(value: dict[str, int]) -> bytes:
    return json.dumps(value, sort_keys=True).encode()


def stores() -> tuple[ChangelogStore[dict[str, int]], ChangelogStore[dict[str, int]]]:
    settings = BaseServiceSettings()
    plain = ChangelogStore(settings, "test.changelog", _decode, _encode)
    packed = ChangelogStore(settings, "test.changelog", _decode, _encode, packed=3)
    return plain, packed


def test_packed_store_answers_as_the_plain_store_after_values_leave_the_decoded_set() -> None:
    plain, packed = stores()
    for store in (plain, packed):
        for i in range(20):
            store.put(i % 4, f"k{i}", {"n": i, "seen": 1})
        store.put(1, "k5", {"n": 5, "seen": 2})
        store.delete(2, "k6")
    for i in range(20):
        assert packed.get(i % 4, f"k{i}") == plain.get(i % 4, f"k{i}")
    assert packed.get(1, "k5") == {"n": 5, "seen": 2}
    assert packed.get(2, "k6") is None
    assert sorted(packed.items(), key=str) == sorted(plain.items(), key=str)
    assert len(packed) == len(plain) == 19
    assert [(o.key, o.value) for o in packed.take_changes()] == [
        (o.key, o.value) for o in plain.take_changes()
    ]


def test_a_forgotten_partition_leaves_nothing_decoded_behind() -> None:
    _, packed = stores()
    packed.restored = {0, 1}
    packed.put(0, "a", {"n": 1})
    packed.put(1, "b", {"n": 2})
    packed.forget({0})
    assert packed.get(0, "a") is None
    assert packed.get(1, "b") == {"n": 2}


def test_packed_values_take_less_room_than_the_decoded_ones() -> None:
    plain, packed = stores()
    value = {f"field{j}": j for j in range(50)}
    for store in (plain, packed):
        for i in range(100):
            store.put(0, f"k{i}", dict(value))
    held = packed.partitions[0]
    assert sum(sys.getsizeof(v) for v in held.values()) < sum(
        sys.getsizeof(v) for v in plain.partitions[0].values()
    )


def test_a_value_rewritten_while_decoded_is_read_back_as_last_written_once_it_goes_cold() -> None:
    plain, packed = stores()
    for store in (plain, packed):
        for n in range(5):  # rewritten while among the 3 decoded ones
            store.put(0, "busy", {"n": n})
        for i in range(6):  # then pushed out of the decoded set, and back, and out
            store.put(1, f"other{i}", {"n": i})
            if i == 2:
                store.get(0, "busy")
    assert packed.get(0, "busy") == plain.get(0, "busy") == {"n": 4}
    assert sorted(packed.items(), key=str) == sorted(plain.items(), key=str)
    packed.delete(0, "busy")
    for i in range(6, 10):
        packed.put(1, f"other{i}", {"n": i})
    assert packed.get(0, "busy") is None
