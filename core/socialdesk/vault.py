"""Per-author data keys, so erasing one member of the public makes every Kafka copy about
them unreadable (crypto-shredding; docs/data-protection.md, "Kafka").

Each author (socialdesk.personal.author_key) has one AES-256-GCM data key, created on
first sight, kept in Elasticsearch wrapped by the master key (SOCIALDESK_VAULT_KEY).
Destroying the key document is the erasure: ciphertext nobody can open again is as
good as deleted, on every partition, replica and backup of every topic at once.

Keys are fetched a batch at a time (one mget) into a bounded cache whose entries
expire, so a destroyed key stops opening records in a running service within
`vault_cache_ttl_s`.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from prometheus_client import Counter

from socialdesk.settings import DEV_SECRET, BaseServiceSettings

KEYS_CREATED = Counter("socialdesk_vault_keys_created_total", "Author data keys created")
KEYS_DESTROYED = Counter("socialdesk_vault_keys_destroyed_total", "Author data keys destroyed")
KEY_FETCHES = Counter(
    "socialdesk_vault_key_fetches_total", "Batched key look-ups that reached the key store"
)

SEALED_PREFIX = b'{"sealed":1,'
_NONCE = 12


class VaultError(Exception):
    """The vault cannot work as configured (wrong master key, development key in
    production): never treated as an erased record."""


class KeyStore(Protocol):
    """Where wrapped keys live (Elasticsearch in services; a dict in unit tests)."""

    async def get_many(self, kids: list[str]) -> dict[str, dict[str, Any]]: ...

    async def create_many(self, docs: dict[str, dict[str, Any]]) -> set[str]:
        """Create each document unless one exists; return the ids that already did."""

    async def delete(self, kid: str) -> bool: ...

    async def mark_erased(self, kid: str, at: datetime) -> None:
        """Record that this author's key was destroyed, for running services to see."""

    async def erased_since(self, since: datetime) -> list[tuple[str, datetime]]:
        """(author key, when) of every erasure recorded at or after `since`."""


def master_key(settings: BaseServiceSettings) -> bytes:
    """The 256-bit key-wrapping key, derived from SOCIALDESK_VAULT_KEY."""
    secret = settings.vault_key.get_secret_value()
    if settings.environment == "production" and (secret == DEV_SECRET or len(secret) < 32):
        raise VaultError("SOCIALDESK_VAULT_KEY is the development default or too short")
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"socialdesk-vault-v1"
    ).derive(secret.encode())


class _Cache:
    """kid -> data key (None: no key, i.e. erased), each entry for `ttl` seconds at most."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float]) -> None:
        self.ttl = ttl
        self.size = size
        self.clock = clock
        self.data: OrderedDict[str, tuple[float, bytes | None]] = OrderedDict()

    def get(self, kid: str) -> tuple[bool, bytes | None]:
        hit = self.data.get(kid)
        if hit is None or hit[0] <= self.clock():
            return False, None
        return True, hit[1]

    def put(self, kid: str, key: bytes | None) -> None:
        self.data[kid] = (self.clock() + self.ttl, key)
        self.data.move_to_end(kid)
        while len(self.data) > self.size:
            self.data.popitem(last=False)

    def drop(self, kid: str) -> None:
        self.data.pop(kid, None)


class Vault:
    """Creates, fetches (batched, cached) and destroys per-author data keys, and seals
    and opens values under them."""

    def __init__(
        self,
        store: KeyStore,
        master: bytes,
        *,
        ttl_s: float = 60.0,
        max_entries: int = 50_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._wrap = AESGCM(master)
        self.cache = _Cache(ttl_s, max_entries, clock)

    async def keys(self, kids: Iterable[str], *, create: bool) -> dict[str, bytes | None]:
        """The data key of each author (None if it was destroyed or never made); with
        create=True a missing key is made, so the result has a key for every kid."""
        out: dict[str, bytes | None] = {}
        missing: list[str] = []
        for kid in set(kids):
            hit, key = self.cache.get(kid)
            if hit and (key is not None or not create):
                out[kid] = key
            else:
                missing.append(kid)
        if not missing:
            return out
        KEY_FETCHES.inc()
        found = await self.store.get_many(missing)
        absent = [k for k in missing if k not in found]
        if create and absent:
            fresh = {kid: os.urandom(32) for kid in absent}
            docs = {kid: self._wrapped(kid, key) for kid, key in fresh.items()}
            raced = await self.store.create_many(docs)
            KEYS_CREATED.inc(len(fresh) - len(raced))
            if raced:  # another instance made them first: theirs is the key
                found.update(await self.store.get_many(sorted(raced)))
            for kid, key in fresh.items():
                if kid not in raced:
                    found[kid] = {"_key": key}
        for kid in missing:
            doc = found.get(kid)
            key = None if doc is None else doc.get("_key") or self._unwrap(kid, doc)
            self.cache.put(kid, key)
            out[kid] = key
        return out

    async def destroy(self, kid: str) -> bool:
        """Forget the author's data key: everything sealed under it is unreadable. The
        erasure is recorded so running services drop their cached copy of the key (and
        any state about the person) within `vault_erasure_poll_s`, not the cache TTL."""
        self.cache.drop(kid)
        gone = await self.store.delete(kid)
        await self.store.mark_erased(kid, datetime.now(UTC))
        if gone:
            KEYS_DESTROYED.inc()
        return gone

    async def erased_since(self, since: datetime) -> list[tuple[str, datetime]]:
        """Erasures recorded since `since`; their keys leave this vault's cache."""
        found = await self.store.erased_since(since)
        for kid, _ in found:
            self.cache.drop(kid)
        return found

    def _wrapped(self, kid: str, key: bytes) -> dict[str, Any]:
        nonce = os.urandom(_NONCE)
        wrapped = nonce + self._wrap.encrypt(nonce, key, kid.encode())
        return {"w": _b64(wrapped), "created_at": datetime.now(UTC).isoformat()}

    def _unwrap(self, kid: str, doc: dict[str, Any]) -> bytes:
        raw = base64.b64decode(doc["w"])
        try:
            return self._wrap.decrypt(raw[:_NONCE], raw[_NONCE:], kid.encode())
        except InvalidTag as exc:
            raise VaultError("the vault key does not open the author keys (wrong key?)") from exc


def seal(kid: str, key: bytes, clear: bytes) -> bytes:
    """The wire form of a sealed value: which author's key, the nonce, the ciphertext
    (bound to the key id). Built by hand: json.dumps of the long base64 costs 4x."""
    nonce = os.urandom(_NONCE)
    ct = AESGCM(key).encrypt(nonce, clear, kid.encode())
    parts = (SEALED_PREFIX, b'"kid":', json.dumps(kid).encode(), b',"n":"', base64.b64encode(nonce))
    return b"".join((*parts, b'","ct":"', base64.b64encode(ct), b'"}'))


def envelope(raw: bytes | None) -> dict[str, Any] | None:
    """A sealed value's envelope; None for a value in clear."""
    if not raw or not raw.startswith(SEALED_PREFIX):
        return None
    try:
        env = json.loads(raw)
    except ValueError:
        return None
    return env if isinstance(env, dict) and isinstance(env.get("kid"), str) else None


def open_envelope(env: dict[str, Any], key: bytes | None) -> bytes | None:
    """The clear value, or None when the key is gone (or is a later one: the author was
    erased and has been seen again since)."""
    if key is None:
        return None
    try:
        return AESGCM(key).decrypt(
            base64.b64decode(env["n"]), base64.b64decode(env["ct"]), env["kid"].encode()
        )
    except (InvalidTag, KeyError, ValueError):
        return None


def open_sealed(raw: bytes, key: bytes | None) -> bytes | None:
    """open_envelope for a raw value."""
    env = envelope(raw)
    return None if env is None else open_envelope(env, key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class EsKeyStore:
    """Wrapped keys as documents of the `author-keys` index, id = author key; erasures
    (author key and time, no key material) in `author-erasures`."""

    def __init__(self, es: Any, index: str, erasures: str) -> None:
        self.es = es
        self.index = index
        self.erasures = erasures
        self._ready = False

    async def get_many(self, kids: list[str]) -> dict[str, dict[str, Any]]:
        if not kids:
            return {}
        resp = await self.es.mget(index=self.index, ids=kids, realtime=True)
        out: dict[str, dict[str, Any]] = {}
        for doc in resp["docs"]:
            if doc.get("found"):
                out[doc["_id"]] = doc["_source"]
            elif "error" in doc and "index_not_found" not in json.dumps(doc["error"]):
                raise VaultError(f"author key look-up failed: {doc['error'].get('type')}")
        return out

    async def create_many(self, docs: dict[str, dict[str, Any]]) -> set[str]:
        await self._ensure_index()
        ops: list[dict[str, Any]] = []
        for kid, doc in docs.items():
            ops += [{"create": {"_index": self.index, "_id": kid}}, doc]
        resp = await self.es.bulk(operations=ops, refresh=False)
        raced: set[str] = set()
        for entry in resp["items"]:
            res = entry["create"]
            if res.get("status") == 409:
                raced.add(res["_id"])
            elif res.get("status", 500) >= 300:
                raise VaultError(f"author key not stored: {res.get('error', {}).get('type')}")
        return raced

    async def delete(self, kid: str) -> bool:
        resp = await self.es.options(ignore_status=404).delete(
            index=self.index, id=kid, refresh=True
        )
        return bool(resp.get("result") == "deleted")

    async def mark_erased(self, kid: str, at: datetime) -> None:
        if not await self.es.indices.exists(index=self.erasures):
            await self.es.options(ignore_status=400).indices.create(
                index=self.erasures,
                settings={"number_of_shards": 1},
                mappings={
                    "properties": {
                        "author_key": {"type": "keyword"},
                        "erased_at": {"type": "date"},
                    }
                },
            )
        await self.es.index(
            index=self.erasures,
            id=f"{kid}:{at.isoformat()}",
            document={"author_key": kid, "erased_at": at.isoformat()},
            refresh=True,
        )

    async def erased_since(self, since: datetime) -> list[tuple[str, datetime]]:
        resp = await self.es.options(ignore_status=404).search(
            index=self.erasures,
            query={"range": {"erased_at": {"gte": since.isoformat()}}},
            size=10_000,
            sort=[{"erased_at": "asc"}],
        )
        hits = resp.get("hits", {}).get("hits", []) if "hits" in resp else []
        return [
            (h["_source"]["author_key"], datetime.fromisoformat(h["_source"]["erased_at"]))
            for h in hits
        ]

    async def expunge(self) -> None:
        """Rewrite segments holding deleted keys, so a destroyed key leaves the disk."""
        await self.es.options(ignore_status=404).indices.forcemerge(
            index=self.index, only_expunge_deletes=True
        )

    async def _ensure_index(self) -> None:
        if self._ready:
            return
        if not await self.es.indices.exists(index=self.index):
            await self.es.options(ignore_status=400).indices.create(
                index=self.index,
                settings={"number_of_shards": 1},
                # wrapped keys are never searched: stored, not indexed
                mappings={"dynamic": False, "properties": {"created_at": {"type": "date"}}},
            )
        self._ready = True


def make_vault(settings: BaseServiceSettings, es: Any | None = None) -> Vault:
    """The vault a service uses: keys in `<index prefix>-author-keys`."""
    from socialdesk.es import alias, make_es
    from socialdesk.indices import AUTHOR_ERASURES, AUTHOR_KEYS

    store = EsKeyStore(
        es or make_es(settings), alias(settings, AUTHOR_KEYS), alias(settings, AUTHOR_ERASURES)
    )
    return Vault(
        store,
        master_key(settings),
        ttl_s=settings.vault_cache_ttl_s,
        max_entries=settings.vault_cache_entries,
    )
