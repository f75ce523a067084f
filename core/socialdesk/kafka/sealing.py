"""Sealing personal topics at the kit's serialisation boundary (socialdesk.vault).

A record on a topic marked `personal: true` in schemas/topics/ is sealed whole under
the data key of the member of the public it is about: the producer side of the runtime,
DurableWriter and produce_and_wait seal; the runtime, the state stores and the topic
followers open. Services see clear values and change nothing. A record whose key was
destroyed is erased: skipped (counted), never dead-lettered.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import weakref
from collections import Counter as Counter_
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter
from pydantic import BaseModel

from socialdesk.events import Author
from socialdesk.kafka.outputs import Output, encode
from socialdesk.personal import author_key
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import load_topic_specs
from socialdesk.vault import SEALED_PREFIX, Vault, envelope, make_vault, open_envelope, seal

ERASED_SKIPPED = Counter(
    "socialdesk_kafka_erased_records_total",
    "Records read whose author key was destroyed (erased), skipped",
    ["topic"],
)
SEALED = Counter("socialdesk_kafka_sealed_records_total", "Records sealed", ["topic"])
NO_SUBJECT = Counter(
    "socialdesk_kafka_unsealed_personal_total",
    "Records on a personal topic naming no member of the public, sent in clear",
    ["topic"],
)

Opener = Callable[[list[ConsumerRecord]], Awaitable[list[ConsumerRecord]]]
_DEPTH = 6
_SKEW = timedelta(seconds=30)  # clocks and the index's refresh: look back this far
log = logging.getLogger(__name__)


def subject_of(value: BaseModel | dict[str, Any] | bytes | None) -> str | None:
    """The author key of the member of the public a record is about: the first object
    with a `platform` and an `author` (or a DM's `recipient`) found in it."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        found = _from_model(value, 0)
        if found is not None:
            return found
        return _find(value.model_dump(mode="json"), 0)
    if isinstance(value, bytes):
        try:
            return _find(json.loads(value), 0)
        except ValueError:
            return None
    return _find(value, 0)


def _from_model(m: BaseModel, depth: int) -> str | None:
    platform = getattr(m, "platform", None)
    for attr in ("author", "recipient"):
        person = getattr(m, attr, None)
        if isinstance(person, Author) and platform is not None:
            return author_key(str(platform), person.id)
    for attr in ("mention", "item"):
        inner = getattr(m, attr, None)
        if isinstance(inner, BaseModel) and depth < _DEPTH:
            return _from_model(inner, depth + 1)
    return None


def _find(obj: Any, depth: int) -> str | None:
    if depth > _DEPTH:
        return None
    if isinstance(obj, dict):
        platform = obj.get("platform")
        for attr in ("author", "recipient"):
            person = obj.get(attr)
            if isinstance(platform, str) and isinstance(person, dict) and person.get("id"):
                return author_key(platform, str(person["id"]))
        children: Any = obj.values()
    elif isinstance(obj, list):
        children = obj
    elif isinstance(obj, str) and obj.startswith("{") and depth > 0:
        try:  # a dead letter's payload: the original record
            children = [json.loads(obj)]
        except ValueError:
            return None
    else:
        return None
    for child in children:
        found = _find(child, depth + 1)
        if found is not None:
            return found
    return None


class Sealer:
    """Seals outputs for personal topics and opens sealed records, one key look-up per
    batch; every `poll_s` it asks which authors were erased, so their keys leave the
    cache at once and the runtime can drop state about them (`erased`)."""

    def __init__(
        self,
        vault: Vault,
        personal: frozenset[str],
        prefix: str = "",
        *,
        poll_s: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.vault = vault
        self.personal = personal
        self.prefix = prefix
        self.poll_s = poll_s
        self.clock = clock
        self.erased: list[str] = []  # append-only: each reader keeps its own position
        self._seen: set[tuple[str, datetime]] = set()
        self._since = datetime.now(UTC) - _SKEW
        self._next_poll = 0.0

    async def refresh(self) -> None:
        """Take in erasures recorded since the last look (at most every poll_s)."""
        if self.poll_s is None or self.clock() < self._next_poll:
            return
        self._next_poll = self.clock() + self.poll_s
        asked_at = datetime.now(UTC)
        try:
            found = await self.vault.erased_since(self._since)
        except Exception as exc:  # the cache TTL still bounds how long a key is used
            log.warning("erasures not read, will retry", extra={"error": repr(exc)})
            return
        for kid, at in found:
            if (kid, at) not in self._seen:
                self._seen.add((kid, at))
                self.erased.append(kid)
        self._since = asked_at - _SKEW
        self._seen = {(k, at) for k, at in self._seen if at >= self._since}

    async def seal(self, outputs: list[Output]) -> list[Output]:
        """The same outputs, personal ones sealed under their subject's key."""
        await self.refresh()
        todo: list[tuple[int, str]] = []
        for i, out in enumerate(outputs):
            if out.topic not in self.personal or out.value is None:
                continue
            if isinstance(out.value, bytes) and out.value.startswith(SEALED_PREFIX):
                continue
            kid = out.subject or subject_of(out.value)
            if kid is None:
                NO_SUBJECT.labels(out.topic).inc()
                continue
            todo.append((i, kid))
        if not todo:
            return outputs
        plans = []
        wanted: set[str] = set()
        for i, kid in todo:
            clear = encode(outputs[i].value)
            assert clear is not None
            others = authors_in(clear) - {kid}  # other people's messages inside
            plans.append((i, kid, clear, others))
            wanted |= others | {kid}
        keys = await self.vault.keys(wanted, create=True)
        sealed = list(outputs)
        for i, kid, clear, others in plans:
            out = outputs[i]
            if others:
                clear = seal_nested(clear, kid, keys)
            key = keys[kid]
            assert key is not None  # create=True: every author has one
            sealed[i] = Output(out.topic, out.key, seal(kid, key, clear), out.partition, kid)
        for topic, n in Counter_(sealed[i].topic for i, _ in todo).items():
            SEALED.labels(topic).inc(n)
        return sealed

    async def open(self, records: list[ConsumerRecord]) -> list[tuple[ConsumerRecord, str | None]]:
        """Each record with its value in clear and the author it is about (None: it was
        never sealed); an erased record comes back with value None."""
        envs = [envelope(rec.value) for rec in records]
        kids = {env["kid"] for env in envs if env is not None}
        if not kids:
            return [(rec, None) for rec in records]
        await self.refresh()
        keys = await self.vault.keys(kids, create=False)
        out: list[tuple[ConsumerRecord, str | None]] = []
        nested: set[str] = set()
        for rec, env in zip(records, envs, strict=True):
            if env is None:
                out.append((rec, None))
                continue
            kid = env["kid"]
            clear = open_envelope(env, keys.get(kid))
            if clear is None:
                ERASED_SKIPPED.labels(_logical(rec.topic, self.prefix)).inc()
            elif _NESTED in clear:
                nested |= {k.decode() for k in _NESTED_KID.findall(clear)}
            out.append((_with_value(rec, clear), kid))
        if nested:
            inner = await self.vault.keys(nested, create=False)
            out = [(self._open_nested(rec, inner), kid) for rec, kid in out]
        return out

    def _open_nested(self, rec: ConsumerRecord, keys: dict[str, bytes | None]) -> ConsumerRecord:
        if rec.value is None or _NESTED not in rec.value:
            return rec
        clear, dropped = open_nested(rec.value, keys)
        if dropped:
            ERASED_SKIPPED.labels(_logical(rec.topic, self.prefix)).inc(dropped)
        return _with_value(rec, clear)

    async def open_values(self, records: list[ConsumerRecord]) -> list[ConsumerRecord]:
        """For readers that need only values: erased records read as deletions (None)."""
        return [rec for rec, _ in await self.open(records)]


_AUTHOR_KEY = re.compile(rb'"author_key":\s*"([^"\\]{1,64})"')
# a member of the public as an event's actor: assign names them by author key
_PUBLIC_ACTOR = re.compile(rb'"kind":\s*"public",\s*"id":\s*"([0-9a-f]{32})"')
_ERASED_ACTOR = {"kind": "public", "id": "erased", "force": None}
_NESTED = b'{"sealed":1,"kid":'
_NESTED_KID = re.compile(rb'\{"sealed":1,"kid":"([^"\\]{1,64})"')
_DROP = object()


def authors_in(clear: bytes) -> set[str]:
    """The author keys of the messages a value holds (a C regex: no parse on the way)."""
    found: set[str] = set()
    if b'"author_key":' in clear:
        found |= {k.decode() for k in _AUTHOR_KEY.findall(clear)}
    if b'"public"' in clear:
        found |= {k.decode() for k in _PUBLIC_ACTOR.findall(clear)}
    return found


def seal_nested(clear: bytes, subject: str, keys: dict[str, bytes | None]) -> bytes:
    """Seal each object written by someone other than `subject` (it has another
    `author_key`) under that person's own key, in place."""

    def one(obj: dict[str, Any]) -> Any:
        actor = obj.get("kind") == "public"
        kid = obj.get("id") if actor else obj.get("author_key")
        key = keys.get(kid) if isinstance(kid, str) and kid != subject else None
        if key is None:
            return obj
        env = json.loads(seal(str(kid), key, json.dumps(obj, separators=(",", ":")).encode()))
        if actor:  # an event needs an actor: what stands in once this one is erased
            env["stub"] = _ERASED_ACTOR
        return env

    return json.dumps(_walk(json.loads(clear), one), separators=(",", ":")).encode()


def open_nested(clear: bytes, keys: dict[str, bytes | None]) -> tuple[bytes, int]:
    """Open the nested sealed objects; one whose key is gone is left out (from a list)
    or null. Returns the value and how many were left out."""
    dropped = 0

    def one(obj: dict[str, Any]) -> Any:
        nonlocal dropped
        if obj.get("sealed") != 1 or not isinstance(obj.get("kid"), str):
            return obj
        inner = open_envelope(obj, keys.get(obj["kid"]))
        if inner is None:
            dropped += 1
            return obj.get("stub", _DROP)
        return json.loads(inner)

    doc = _walk(json.loads(clear), one)
    return json.dumps(None if doc is _DROP else doc, separators=(",", ":")).encode(), dropped


def drop_authors(clear: bytes, kids: set[str]) -> bytes:
    """The value without the objects (messages) written by these people."""

    def one(obj: dict[str, Any]) -> Any:
        if obj.get("kind") == "public" and obj.get("id") in kids:
            return dict(_ERASED_ACTOR)
        return _DROP if obj.get("author_key") in kids else obj

    doc = _walk(json.loads(clear), one)
    return json.dumps(None if doc is _DROP else doc, separators=(",", ":")).encode()


def _walk(obj: Any, fn: Callable[[dict[str, Any]], Any]) -> Any:
    """Apply fn to every object, innermost first; _DROP leaves it out of its list (or
    makes it null as a field)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            w = _walk(v, fn)
            obj[k] = None if w is _DROP else w
        return fn(obj)
    if isinstance(obj, list):
        return [w for w in (_walk(v, fn) for v in obj) if w is not _DROP]
    return obj


def _with_value(rec: ConsumerRecord, value: bytes | None) -> ConsumerRecord:
    """The record with another value (by hand: dataclasses.replace costs 3x)."""
    return ConsumerRecord(
        rec.topic,
        rec.partition,
        rec.offset,
        rec.timestamp,
        rec.timestamp_type,
        rec.key,
        value,
        rec.checksum,
        rec.serialized_key_size,
        rec.serialized_value_size,
        rec.headers,
    )


def _logical(topic: str, prefix: str) -> str:
    return topic[len(prefix) :] if prefix and topic.startswith(prefix) else topic


def personal_topics() -> frozenset[str]:
    """Topics whose records carry members of the public's data (`personal: true`)."""
    return frozenset(name for name, spec in load_topic_specs().items() if spec.personal)


_SEALERS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[Any, ...], Sealer]] = (
    weakref.WeakKeyDictionary()
)


def sealer_for(settings: BaseServiceSettings) -> Sealer | None:
    """This process's sealer for these settings (one per event loop: its Elasticsearch
    client belongs to the loop), or None when sealing is off."""
    if not settings.sealing:
        return None
    loop = asyncio.get_running_loop()
    per_loop = _SEALERS.setdefault(loop, {})
    ident = (
        settings.elasticsearch_url,
        settings.index_prefix,
        settings.topic_prefix,
        settings.vault_key.get_secret_value(),
        settings.vault_cache_ttl_s,
        settings.vault_erasure_poll_s,
    )
    sealer = per_loop.get(ident)
    if sealer is None:
        sealer = Sealer(
            make_vault(settings),
            personal_topics(),
            settings.topic_prefix,
            poll_s=settings.vault_erasure_poll_s,
        )
        per_loop[ident] = sealer
    return sealer


def opener_for(settings: BaseServiceSettings) -> Opener | None:
    """What a hand-made reader passes to read_to_end/follow to see clear values."""
    sealer = sealer_for(settings)
    return None if sealer is None else sealer.open_values
