"""Sealing cost: CPU per 1,000 records sealed and opened (socialdesk.kafka.sealing),
beside the unsealed baseline (encode and decode only) in the same run, for the two
personal payloads services handle most: a mention (mentions.raw) and an item event
(items.events, the item carried whole), and an item event holding a second person's
message (sealed again under that person's key inside). Keys come from an in-memory store here: this
measures the CPU each record costs; key look-ups are one mget per batch (counted).

    .venv/bin/python bench/seal_bench.py
"""

from __future__ import annotations

import asyncio
import gzip
import json
import statistics
import time
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord
from pydantic import BaseModel

from socialdesk.events import ItemEvent, Mention
from socialdesk.kafka.outputs import Output, encode
from socialdesk.kafka.sealing import Sealer
from socialdesk.personal import author_key
from socialdesk.topics import ITEMS_EVENTS, MENTIONS_RAW
from socialdesk.vault import Vault

ROOT = Path(__file__).resolve().parents[1]
N = 1000
BATCH = 500
AUTHORS = 200  # distinct people in 1,000 records
RUNS = 7


class MemoryStore:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.lookups = 0
        self.erasures: list[tuple[str, datetime]] = []

    async def get_many(self, kids: list[str]) -> dict[str, dict[str, Any]]:
        self.lookups += 1
        return {k: self.docs[k] for k in kids if k in self.docs}

    async def create_many(self, docs: dict[str, dict[str, Any]]) -> set[str]:
        self.docs.update(docs)
        return set()

    async def delete(self, kid: str) -> bool:
        return self.docs.pop(kid, None) is not None

    async def mark_erased(self, kid: str, at: datetime) -> None:
        self.erasures.append((kid, at))

    async def erased_since(self, since: datetime) -> list[tuple[str, datetime]]:
        return [(k, at) for k, at in self.erasures if at >= since]


def records(kind: type[BaseModel], example: str, joined: bool = False) -> list[BaseModel]:
    """The example, 1,000 times, each with a demo mention's author and text (so a gzip
    batch compresses as real traffic does, not as 1,000 copies)."""
    doc = json.loads((ROOT / "schemas/examples" / example).read_text())
    lines = (ROOT / "data/demo/mentions.jsonl").read_text().splitlines()
    demo = [json.loads(line) for line in lines if line.strip()]
    out = []
    for i in range(N):
        d = json.loads(json.dumps(doc))
        m = demo[i % len(demo)]
        holder = d["item"] if "item" in d else d
        holder["author"] = {**m["author"], "id": f"{m['author']['id']}{i % AUTHORS}"}
        if "item" in d:
            first = holder["messages"][0]
            first["text"] = m["text"]
            first["author_key"] = author_key(holder["platform"], holder["author"]["id"])
            if joined:  # someone else has replied in the thread: sealed under their key
                other = {**first, "author_key": author_key("x", f"other{i}"), "text": "me too"}
                holder["messages"].append(other)
        else:
            holder["text"] = m["text"]
        out.append(kind.model_validate(d))
    return out


def as_record(topic: str, i: int, value: bytes | None) -> ConsumerRecord:
    return ConsumerRecord(topic, 0, i, 0, 0, b"k", value, None, 1, len(value or b""), ())


async def baseline(kind: type[BaseModel], topic: str, values: list[BaseModel]) -> float:
    started = time.process_time()
    for start in range(0, N, BATCH):
        chunk = values[start : start + BATCH]
        raw = [encode(v) for v in chunk]
        for b in raw:
            kind.model_validate_json(b or b"")
    return (time.process_time() - started) * 1000


async def sealed(
    kind: type[BaseModel], topic: str, values: list[BaseModel], store: MemoryStore
) -> float:
    # a fresh cache per run: every batch looks its authors' keys up once, as after a restart
    sealer = Sealer(Vault(store, b"k" * 32, ttl_s=60), frozenset({topic}))
    started = time.process_time()
    for start in range(0, N, BATCH):
        chunk = values[start : start + BATCH]
        outs = await sealer.seal([Output(topic, "k", v) for v in chunk])
        recs = [as_record(topic, i, o.value) for i, o in enumerate(outs)]  # type: ignore[arg-type]
        for rec, _ in await sealer.open(recs):
            kind.model_validate_json(rec.value or b"")
    return (time.process_time() - started) * 1000


async def main() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    created = "items.events/1/created.json"
    for name, kind, topic, example, joined in (
        ("mention", Mention, MENTIONS_RAW, "mentions.raw/1/x-public-mention-knife.json", False),
        ("item_event", ItemEvent, ITEMS_EVENTS, created, False),
        ("item_2people", ItemEvent, ITEMS_EVENTS, created, True),
    ):
        values = records(kind, example, joined)
        store = MemoryStore()
        await sealed(kind, topic, values, store)  # warm up, and create the keys
        base = [await baseline(kind, topic, values) for _ in range(RUNS)]
        store.lookups = 0
        seal = [await sealed(kind, topic, values, store) for _ in range(RUNS)]
        lookups = store.lookups / RUNS
        clear_size = sum(len(encode(v) or b"") for v in values) / N
        sealer = Sealer(Vault(store, b"k" * 32), frozenset({topic}))
        outs = await sealer.seal([Output(topic, "k", v) for v in values[:BATCH]])
        one = outs[0].value
        # what a gzip producer batch (kafka_compression) makes of them
        gz_clear = len(gzip.compress(b"".join(encode(v) or b"" for v in values[:BATCH]), 1))
        gz_sealed = len(gzip.compress(b"".join(o.value for o in outs), 1))  # type: ignore[misc]
        figures[name] = {
            "baseline_cpu_ms_per_1000": round(statistics.median(base), 1),
            "sealed_cpu_ms_per_1000": round(statistics.median(seal), 1),
            "added_cpu_ms_per_1000": round(statistics.median(seal) - statistics.median(base), 1),
            "key_lookups_per_1000": lookups,
            "bytes_clear": round(clear_size),
            "bytes_sealed": len(one or b""),
            "gzip_batch_bytes_clear": round(gz_clear / BATCH),
            "gzip_batch_bytes_sealed": round(gz_sealed / BATCH),
        }
        # the option not taken: compress each value before sealing it (zlib level 1)
        clear_values = [encode(v) or b"" for v in values]
        started = time.process_time()
        packed = [zlib.compress(v, 1) for v in clear_values]
        for p in packed:
            zlib.decompress(p)
        figures[name]["zlib_cpu_ms_per_1000"] = round((time.process_time() - started) * 1000, 1)
        figures[name]["zlib_bytes"] = round(sum(map(len, packed)) / N)
        f = figures[name]
        print(
            f"{name:10s} CPU per {N} records: encode+decode {f['baseline_cpu_ms_per_1000']} ms; "
            f"sealed+opened {f['sealed_cpu_ms_per_1000']} ms "
            f"(+{f['added_cpu_ms_per_1000']} ms); key look-ups {f['key_lookups_per_1000']}; "
            f"bytes {f['bytes_clear']} -> {f['bytes_sealed']}; "
            f"in a gzip batch {f['gzip_batch_bytes_clear']} -> {f['gzip_batch_bytes_sealed']}; "
            f"zlib first: {f['zlib_bytes']} bytes for {f['zlib_cpu_ms_per_1000']} ms"
        )
    return figures


if __name__ == "__main__":
    asyncio.run(main())
