"""Counters every console replica shares: failed sign-ins per account and per address
(with backoff) and reply previews per user, kept in an Elasticsearch index of the
console's own (`<prefix>-console-guards`).

Why Elasticsearch and not a Kafka topic: a get by id is real time on every replica, and
a write conditional on the document's sequence number (if_seq_no) makes an increment
from two replicas at once come out right; a compacted topic read by each replica would
let a burst of guesses through before every replica had caught up, and would need one
writer per key. These counters are short-lived security state, not part of the item
projection, so they are not rebuilt from Kafka: losing them only resets the backoff.

Keys are HMACs of the account name or address under the session secret, so the index
holds no usernames or IP addresses. The policy itself (next_failure, locked_for) is plain
functions, tested on their own.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from typing import Any

from elasticsearch import AsyncElasticsearch, ConflictError, NotFoundError

GUARDS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"kind": {"type": "keyword"}, "last_at": {"type": "double"}},
}


@dataclass(frozen=True)
class Backoff:
    """`free` failures within `window_s` cost nothing; each one after them locks the key
    for base_s, then twice as long, and so on up to max_s."""

    free: int
    window_s: float = 900.0
    base_s: float = 30.0
    max_s: float = 900.0


ACCOUNT = Backoff(free=5)  # the 6th attempt in 15 minutes waits 30 s, then 60 s, ...
ADDRESS = Backoff(free=20)  # one office's shared address: more room, same backoff


def next_failure(state: dict[str, Any] | None, now: float, policy: Backoff) -> dict[str, Any]:
    """The counter after one more failed attempt at `now`."""
    n = int((state or {}).get("n", 0))
    last = float((state or {}).get("last_at", 0.0))
    locked_until = float((state or {}).get("locked_until", 0.0))
    if now - max(last, locked_until) > policy.window_s:
        n = 0  # quiet for a whole window after any lock ended: start again
    n += 1
    lock = 0.0
    if n >= policy.free:
        lock = min(policy.max_s, policy.base_s * 2 ** (n - policy.free))
    return {"n": n, "last_at": now, "locked_until": now + lock if lock else 0.0}


def locked_for(state: dict[str, Any] | None, now: float) -> float:
    """Seconds until this key may try again (0: now)."""
    return max(0.0, float((state or {}).get("locked_until", 0.0)) - now)


class GuardStore:
    """Shared counters in Elasticsearch (see the module's docstring for why)."""

    def __init__(self, es: AsyncElasticsearch, index: str, secret: str) -> None:
        self.es = es
        self.index = index
        self._secret = secret.encode()
        self._ready = False

    def key(self, kind: str, value: str) -> str:
        digest = hmac.new(self._secret, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}:{digest[:40]}"

    async def ensure(self) -> None:
        if self._ready:
            return
        try:
            await self.es.indices.create(
                index=self.index,
                mappings=GUARDS_MAPPING,
                settings={"number_of_shards": 1},
            )
        except Exception as exc:
            if "already_exists" not in str(exc) and not await self.es.indices.exists(
                index=self.index
            ):
                raise
        self._ready = True

    async def read(self, ids: list[str]) -> dict[str, dict[str, Any]]:
        await self.ensure()
        resp = await self.es.mget(index=self.index, ids=ids)
        return {d["_id"]: d["_source"] for d in resp["docs"] if d.get("found")}

    async def update(self, id_: str, change: Any, kind: str) -> dict[str, Any]:
        """Apply change(old_state) -> new_state, conditional on nobody else having written
        in between (retried on a conflict)."""
        await self.ensure()
        for _ in range(10):
            try:
                got = await self.es.get(index=self.index, id=id_)
            except NotFoundError:
                got = None
            new = {**change(got["_source"] if got else None), "kind": kind}
            try:
                if got is None:
                    await self.es.index(index=self.index, id=id_, document=new, op_type="create")
                else:
                    await self.es.index(
                        index=self.index,
                        id=id_,
                        document=new,
                        if_seq_no=got["_seq_no"],
                        if_primary_term=got["_primary_term"],
                    )
                return new
            except ConflictError:
                continue
        raise RuntimeError("guard counter kept changing under us")

    async def purge(self, older_than_s: float = 86_400) -> None:
        """Delete counters untouched for a day (every lock has long ended by then)."""
        await self.ensure()
        await self.es.indices.refresh(index=self.index)
        await self.es.delete_by_query(
            index=self.index,
            query={"range": {"last_at": {"lt": time.time() - older_than_s}}},
            conflicts="proceed",
        )

    async def clear(self, id_: str) -> None:
        await self.ensure()
        try:
            await self.es.delete(index=self.index, id=id_)
        except NotFoundError:
            pass

    async def fail(self, id_: str, policy: Backoff, kind: str) -> dict[str, Any]:
        now = time.time()
        return await self.update(id_, lambda s: next_failure(s, now, policy), kind)

    async def take(self, id_: str, limit: int, window_s: float) -> bool:
        """A fixed-window rate limit: True if this use is within `limit` per window."""
        now = time.time()
        start = now - now % window_s

        def bump(state: dict[str, Any] | None) -> dict[str, Any]:
            n = int(state["n"]) if state and state.get("start") == start else 0
            return {"n": n + 1, "start": start, "last_at": now}

        state = await self.update(id_, bump, "rate")
        return int(state["n"]) <= limit
