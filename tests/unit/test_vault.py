"""Per-author keys (socialdesk.vault) and sealing at the kit's boundary
(socialdesk.kafka.sealing): what a member of the public's erasure does to the Kafka
copies of their data, with the key store in memory (the real one: test_shred.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord

from socialdesk.events import Author, ForceAccount, Mention
from socialdesk.kafka.outputs import Output
from socialdesk.kafka.sealing import Sealer, personal_topics, subject_of
from socialdesk.personal import author_key
from socialdesk.settings import BaseServiceSettings
from socialdesk.taxonomy import Channel, Platform
from socialdesk.topics import ITEMS_EVENTS, MENTIONS_RAW, SLA_EVENTS
from socialdesk.vault import Vault, VaultError, master_key, open_sealed, seal

MASTER = b"m" * 32


class MemoryStore:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.lookups = 0
        self.erasures: list[tuple[str, datetime]] = []

    async def get_many(self, kids: list[str]) -> dict[str, dict[str, Any]]:
        self.lookups += 1
        return {k: self.docs[k] for k in kids if k in self.docs}

    async def create_many(self, docs: dict[str, dict[str, Any]]) -> set[str]:
        raced = {k for k in docs if k in self.docs}
        self.docs.update({k: v for k, v in docs.items() if k not in raced})
        return raced

    async def delete(self, kid: str) -> bool:
        return self.docs.pop(kid, None) is not None

    async def mark_erased(self, kid: str, at: datetime) -> None:
        self.erasures.append((kid, at))

    async def erased_since(self, since: datetime) -> list[tuple[str, datetime]]:
        return [(k, at) for k, at in self.erasures if at >= since]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def mention(author_id: str, text: str) -> Mention:
    at = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    return Mention(
        id=f"x:{author_id}-1",
        platform=Platform.x,
        native_id=f"{author_id}-1",
        channel=Channel.public_mention,
        author=Author(id=author_id, handle=f"@{author_id}", display_name="Jo Bloggs"),
        text=text,
        posted_at=at,
        received_at=at,
        force_account=ForceAccount(platform=Platform.x, handle="@merpolice"),
        media=[],
    )


def record(value: bytes | None, topic: str = MENTIONS_RAW, offset: int = 0) -> ConsumerRecord:
    return ConsumerRecord(topic, 0, offset, 0, 0, b"k", value, None, 1, len(value or b""), ())


def vault(store: MemoryStore, clock: Clock | None = None, master: bytes = MASTER) -> Vault:
    return Vault(store, master, ttl_s=60, clock=clock or Clock())


async def test_sealed_mention_shows_nothing_readable_and_opens_for_the_service() -> None:
    store = MemoryStore()
    sealer = Sealer(vault(store), frozenset({MENTIONS_RAW}))
    m = mention("1234567", "my bike was stolen from Bold Street")
    (out,) = await sealer.seal([Output(MENTIONS_RAW, m.id, m)])
    assert isinstance(out.value, bytes)
    for secret in (b"1234567", b"Jo Bloggs", b"Bold Street"):
        assert secret not in out.value
    assert json.loads(out.value)["kid"] == author_key("x", "1234567")
    ((opened, kid),) = await sealer.open([record(out.value)])
    assert kid == author_key("x", "1234567")
    assert Mention.model_validate_json(opened.value) == m


async def test_destroyed_key_makes_only_that_authors_records_unreadable() -> None:
    store = MemoryStore()
    v = vault(store)
    sealer = Sealer(v, frozenset({MENTIONS_RAW}))
    a, b = mention("111", "from A"), mention("222", "from B")
    sealed = await sealer.seal([Output(MENTIONS_RAW, a.id, a), Output(MENTIONS_RAW, b.id, b)])
    assert await v.destroy(author_key("x", "111"))
    opened = await sealer.open([record(o.value, offset=i) for i, o in enumerate(sealed)])
    assert opened[0][0].value is None  # erased: skipped by readers, never dead-lettered
    assert opened[1][0].value is not None and b"from B" in opened[1][0].value


async def test_a_running_service_stops_opening_a_destroyed_key_once_its_cache_expires() -> None:
    store, clock = MemoryStore(), Clock()
    service = vault(store, clock)  # a running service with the key cached
    eraser = vault(store, clock)  # the erasure command, another process
    kid = author_key("x", "111")
    keys = await service.keys([kid], create=True)
    blob = seal(kid, keys[kid] or b"", b"secret")
    await eraser.destroy(kid)
    clock.now += 30
    assert open_sealed(blob, (await service.keys([kid], create=False))[kid]) == b"secret"
    clock.now += 31
    assert open_sealed(blob, (await service.keys([kid], create=False))[kid]) is None


async def test_an_author_seen_again_after_erasure_gets_a_new_key_that_opens_nothing_old() -> None:
    store = MemoryStore()
    v = vault(store)
    kid = author_key("x", "111")
    old = seal(kid, (await v.keys([kid], create=True))[kid] or b"", b"before")
    await v.destroy(kid)
    new_key = (await v.keys([kid], create=True))[kid]
    assert new_key is not None
    assert open_sealed(old, new_key) is None
    assert open_sealed(seal(kid, new_key, b"after"), new_key) == b"after"


async def test_wrong_master_key_fails_loudly_not_as_erasure() -> None:
    store = MemoryStore()
    kid = author_key("x", "111")
    await vault(store).keys([kid], create=True)
    with pytest.raises(VaultError):
        await vault(store, master=b"w" * 32).keys([kid], create=False)


async def test_one_key_lookup_per_batch_not_per_record() -> None:
    store = MemoryStore()
    sealer = Sealer(vault(store), frozenset({MENTIONS_RAW}))
    ms = [mention(str(1000 + i % 7), f"text {i}") for i in range(200)]
    sealed = await sealer.seal([Output(MENTIONS_RAW, m.id, m) for m in ms])
    assert store.lookups == 1
    fresh = Sealer(vault(store), frozenset({MENTIONS_RAW}))
    opened = await fresh.open([record(o.value, offset=i) for i, o in enumerate(sealed)])
    assert store.lookups == 2
    assert [Mention.model_validate_json(r.value or b"").text for r, _ in opened] == [
        m.text for m in ms
    ]


async def test_topics_not_personal_and_records_naming_nobody_stay_in_clear() -> None:
    sealer = Sealer(vault(MemoryStore()), frozenset({MENTIONS_RAW, ITEMS_EVENTS}))
    m = mention("111", "hello")
    clock_event = {"item_id": "itm_1", "type": "started"}
    outs = await sealer.seal([Output(SLA_EVENTS, "k", m), Output(ITEMS_EVENTS, "k", clock_event)])
    assert outs[0].value is m and outs[1].value is clock_event
    assert MENTIONS_RAW in personal_topics() and SLA_EVENTS not in personal_topics()


def test_subject_found_in_nested_records_and_dead_letter_payloads() -> None:
    m = mention("555", "hi")
    want = author_key("x", "555")
    assert subject_of(m) == want
    nested = {"mention": m.to_json_dict(), "item_key": "itm_1"}
    assert subject_of(json.dumps({"state": nested}).encode()) == want
    assert subject_of({"payload": json.dumps(m.to_json_dict())}) == want


def test_development_vault_key_is_refused_in_production() -> None:
    with pytest.raises(VaultError):
        master_key(BaseServiceSettings(environment="production"))
    assert len(master_key(BaseServiceSettings(environment="production", vault_key="k" * 40))) == 32
    assert BaseServiceSettings(environment="production", vault_seal=False).sealing
    assert not BaseServiceSettings(environment="test").sealing


async def test_a_running_service_learns_of_an_erasure_before_its_cache_would_expire() -> None:
    store, clock = MemoryStore(), Clock()
    service = Sealer(vault(store, clock), frozenset({MENTIONS_RAW}), poll_s=5, clock=clock)
    eraser = vault(store, clock)
    a = mention("111", "from A")
    (sealed,) = await service.seal([Output(MENTIONS_RAW, a.id, a)])
    await eraser.destroy(author_key("x", "111"))
    clock.now += 6  # the next poll, well inside the 60 s cache life
    ((opened, kid),) = await service.open([record(sealed.value)])  # type: ignore[arg-type]
    assert opened.value is None and kid == author_key("x", "111")
    assert service.erased == [author_key("x", "111")]
    # writing again, A is sealed under a new key that opens
    (again,) = await service.seal([Output(MENTIONS_RAW, a.id, a)])
    ((reopened, _),) = await service.open([record(again.value)])  # type: ignore[arg-type]
    assert reopened.value is not None and b"from A" in reopened.value


def test_a_store_drops_and_tombstones_what_it_holds_about_an_erased_person() -> None:
    from socialdesk.statestore import ChangelogStore

    store: ChangelogStore[bytes] = ChangelogStore(
        BaseServiceSettings(), "assign.items.changelog", bytes, bytes
    )
    store.put(0, "itm_a", b"A's thread")
    store.put(3, "itm_b", b"B's thread")
    store.take_changes()
    store.note_subject(0, "itm_a", "kid-a")
    store.note_subject(3, "itm_b", "kid-b")
    assert store.drop_subjects({"kid-a"}) == {0}
    assert store.get(0, "itm_a") is None and store.get(3, "itm_b") == b"B's thread"
    (tombstone,) = store.take_changes()
    assert (tombstone.key, tombstone.value, tombstone.partition) == ("itm_a", None, 0)


def thread(a_text: str, b_text: str) -> dict[str, Any]:
    """An item of A's public thread that B has joined: two people in one record."""
    return {
        "item": {
            "platform": "x",
            "author": {"id": "111", "handle": "@a"},
            "messages": [
                {"author_key": author_key("x", "111"), "text": a_text},
                {"author_key": author_key("x", "222"), "text": b_text},
            ],
        }
    }


async def test_each_person_in_one_record_is_sealed_under_their_own_key() -> None:
    store = MemoryStore()
    v = vault(store)
    sealer = Sealer(v, frozenset({ITEMS_EVENTS}))
    (out,) = await sealer.seal([Output(ITEMS_EVENTS, "itm_1", thread("A asks", "B adds"))])
    await v.destroy(author_key("x", "222"))  # B is erased; A's item still reads
    ((rec, kid),) = await sealer.open([record(out.value, ITEMS_EVENTS)])
    assert kid == author_key("x", "111")
    item = json.loads(rec.value or b"")["item"]
    assert [m["text"] for m in item["messages"]] == ["A asks"]
    await v.destroy(author_key("x", "111"))  # and when A is erased, all of it goes
    ((rec, _),) = await sealer.open([record(out.value, ITEMS_EVENTS)])
    assert rec.value is None


def test_a_store_takes_an_erased_persons_messages_out_of_anothers_thread() -> None:
    from socialdesk.statestore import ChangelogStore

    store: ChangelogStore[dict[str, Any]] = ChangelogStore(
        BaseServiceSettings(),
        "assign.items.changelog",
        json.loads,
        lambda v: json.dumps(v).encode(),
    )
    store.put(2, "itm_a", thread("A asks", "B adds"))
    store.take_changes()
    assert store.drop_subjects({author_key("x", "222")}) == {2}
    held = store.get(2, "itm_a")
    assert held is not None and [m["text"] for m in held["item"]["messages"]] == ["A asks"]
    (rewritten,) = store.take_changes()
    assert isinstance(rewritten.value, bytes) and b"B adds" not in rewritten.value


async def test_a_dead_letter_is_sealed_under_the_person_its_record_was_about() -> None:
    from socialdesk.kafka.outputs import Meta, PoisonMessage, process_each
    from socialdesk.topics import DEADLETTER

    def fails(_value: Any, _meta: Meta) -> list[Output]:
        raise PoisonMessage("unreadable", "no")

    kid = author_key("x", "111")
    m = mention("111", "my address is 4 Quarry Lane")
    (dead,) = process_each("assign", [(m, Meta(MENTIONS_RAW, 0, 7, "k", 0, kid))], fails)
    assert dead.topic == DEADLETTER and dead.subject == kid
    store = MemoryStore()
    v = vault(store)
    (sealed,) = await Sealer(v, frozenset({DEADLETTER})).seal([dead])
    assert isinstance(sealed.value, bytes) and b"Quarry Lane" not in sealed.value
    await v.destroy(kid)
    ((opened, _),) = await Sealer(v, frozenset()).open([record(sealed.value, DEADLETTER)])
    assert opened.value is None
