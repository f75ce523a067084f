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
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

from aiokafka.structs import ConsumerRecord
from prometheus_client import Counter
from pydantic import BaseModel

from socialdesk.events import Author
from socialdesk.kafka.outputs import Output, encode
from socialdesk.personal import author_key
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import load_topic_specs
from socialdesk.vault import SEALED_PREFIX, Vault, make_vault, open_sealed, seal

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
    batch."""

    def __init__(self, vault: Vault, personal: frozenset[str], prefix: str = "") -> None:
        self.vault = vault
        self.personal = personal
        self.prefix = prefix

    async def seal(self, outputs: list[Output]) -> list[Output]:
        """The same outputs, personal ones sealed under their subject's key."""
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
        keys = await self.vault.keys((kid for _, kid in todo), create=True)
        sealed = list(outputs)
        for i, kid in todo:
            out = outputs[i]
            key = keys[kid]
            assert key is not None  # create=True gives every author a key
            clear = encode(out.value)
            assert clear is not None
            sealed[i] = replace(out, value=seal(kid, key, clear), subject=kid)
            SEALED.labels(out.topic).inc()
        return sealed

    async def open(self, records: list[ConsumerRecord]) -> list[tuple[ConsumerRecord, str | None]]:
        """Each record with its value in clear and the author it is about (None: it was
        never sealed); an erased record comes back with value None."""
        envs: list[str | None] = []
        for rec in records:
            envs.append(_kid(rec.value))
        kids = {k for k in envs if k is not None}
        if not kids:
            return [(rec, None) for rec in records]
        keys = await self.vault.keys(kids, create=False)
        out: list[tuple[ConsumerRecord, str | None]] = []
        for rec, kid in zip(records, envs, strict=True):
            if kid is None:
                out.append((rec, None))
                continue
            clear = open_sealed(rec.value, keys.get(kid))
            if clear is None:
                ERASED_SKIPPED.labels(_logical(rec.topic, self.prefix)).inc()
            out.append((replace(rec, value=clear), kid))
        return out

    async def open_values(self, records: list[ConsumerRecord]) -> list[ConsumerRecord]:
        """For readers that need only values: erased records read as deletions (None)."""
        return [rec for rec, _ in await self.open(records)]


def _kid(raw: bytes | None) -> str | None:
    if not raw or not raw.startswith(SEALED_PREFIX):
        return None
    try:
        kid = json.loads(raw).get("kid")
    except ValueError:
        return None
    return kid if isinstance(kid, str) else None


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
    )
    sealer = per_loop.get(ident)
    if sealer is None:
        sealer = Sealer(make_vault(settings), personal_topics(), settings.topic_prefix)
        per_loop[ident] = sealer
    return sealer


def opener_for(settings: BaseServiceSettings) -> Opener | None:
    """What a hand-made reader passes to read_to_end/follow to see clear values."""
    sealer = sealer_for(settings)
    return None if sealer is None else sealer.open_values
