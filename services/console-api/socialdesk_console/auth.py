"""Who is signed in: PBKDF2 local accounts (development and demos), identities from
OpenID Connect (oidc.py), server-side sessions that can be revoked and time out (idle
and absolute), and a per-session CSRF token checked on every form and state-changing
API call."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from elasticsearch import AsyncElasticsearch, NotFoundError
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

COOKIE = "sd_session"  # the session cookie: a signed session id
ROLES = (
    "operator",
    "supervisor",
    "force_admin",
    "national_viewer",
    "national_duty",
    "comms",  # a communications officer: composes the force's posts
    "approver",  # composes, and approves or refuses others' posts
    "dpo",  # data protection officer: erasure, restriction, subject access
)
# Who may use the publishing desk, and who may approve a post (never their own).
PUBLISHING_ROLES = ("comms", "approver", "force_admin")
APPROVER_ROLES = ("approver", "force_admin")


class Identity(Protocol):
    """What a session needs to know: a DemoUser or an identity mapped from OIDC claims."""

    @property
    def username(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def force(self) -> str | None: ...
    @property
    def role(self) -> str: ...
    @property
    def teams(self) -> Sequence[str]: ...
    @property
    def skills(self) -> Sequence[str]: ...


@dataclass(frozen=True)
class MappedIdentity:
    username: str
    display_name: str
    force: str | None
    role: str
    teams: Sequence[str] = ()
    skills: Sequence[str] = ()


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    force: str | None
    role: str
    teams: tuple[str, ...]
    csrf: str
    skills: tuple[str, ...] = ()

    auth: str = "local"
    session_id: str = ""
    started: float = 0.0  # when the session began: the page warns before its absolute end

    @property
    def national(self) -> bool:
        return self.role == "national_viewer"

    @property
    def duty(self) -> bool:
        """A national duty officer: works the national duty queue (items of no force)."""
        return self.role == "national_duty"

    @property
    def can_act(self) -> bool:
        """National viewers read every force but change nothing; a national duty officer
        (no force) acts on the national duty queue's items."""
        if self.duty:
            return True
        return self.role in ("operator", "supervisor", "force_admin") and self.force is not None

    @property
    def publishes(self) -> bool:
        return self.role in PUBLISHING_ROLES and self.force is not None

    @property
    def approves(self) -> bool:
        return self.role in APPROVER_ROLES and self.force is not None

    @property
    def is_admin(self) -> bool:
        return self.role == "force_admin"


def hash_password(password: str, iterations: int = 120_000) -> str:
    salt = secrets.token_hex(12)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def dummy_hash(users_hashes: Sequence[str]) -> str:
    """A hash to check an unknown username's password against, with the iteration count
    the real accounts use, so an unknown user costs what a known one does."""
    counts = [h.split("$")[1] for h in users_hashes if h.startswith("pbkdf2_sha256$")]
    iterations = int(max(set(counts), key=counts.count)) if counts else 120_000
    return hash_password(secrets.token_urlsafe(16), iterations)


def verify_password(password: str, encoded: str) -> bool:
    try:
        algo, iterations, salt, expected = encoded.split("$", 3)
    except ValueError:
        return False
    if algo != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(base64.b64encode(digest).decode(), expected)


SESSIONS_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "user": {"type": "keyword"},
        "created": {"type": "double"},
        "revoked_before": {"type": "double"},
    },
}
TOUCH_EVERY_S = 60.0  # last-seen is written at most once a minute per session


class SessionUnavailable(Exception):
    """The session store (Elasticsearch) could not be asked: the API answers 503."""


@dataclass(frozen=True)
class SessionRules:
    """Idle and absolute lifetimes, checked on every request by every replica."""

    idle_s: float
    absolute_s: float


def session_refusal(
    doc: dict[str, Any] | None,
    user_doc: dict[str, Any] | None,
    now: float,
    rules: SessionRules,
) -> str | None:
    """Why this stored session no longer signs anyone in (None: it still does)."""
    if doc is None:
        return "signed out"
    created, seen = float(doc.get("created", 0)), float(doc.get("seen", 0))
    if user_doc is not None and created <= float(user_doc.get("revoked_before", 0)):
        return "signed out everywhere"
    if now - created > rules.absolute_s:
        return "session too old"
    if now - seen > rules.idle_s:
        return "idle too long"
    return None


def session_doc_id(sid: str) -> str:
    """The index holds a hash of the session id, never the id itself: whoever can read
    the index cannot sign in with what they read."""
    return "s:" + hashlib.sha256(sid.encode()).hexdigest()


def user_doc_id(username: str) -> str:
    return "u:" + hashlib.sha256(username.encode()).hexdigest()


class Sessions:
    """Server-side sessions: the cookie carries a random session id (signed, so a forged
    one is refused without a lookup); the session itself lives in the console's own
    Elasticsearch index, read by id on every request (real time on every replica), so a
    sign-out, a "sign out everywhere" or a timeout takes effect at once on all of them.
    The CSRF token is an HMAC of the session id: nothing secret is stored."""

    def __init__(
        self, secret: str, rules: SessionRules, es: AsyncElasticsearch, index: str
    ) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="socialdesk-session-id")
        self._secret = secret.encode()
        self.rules = rules
        self.es = es
        self.index = index
        self._ready = False

    def csrf_for(self, sid: str) -> str:
        return hmac.new(self._secret, b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()

    def unsign(self, token: str | None) -> tuple[str, str] | None:
        """(session id, username) from a cookie, or None if forged, malformed or older
        than the absolute lifetime."""
        if not token or len(token) > 1000:
            return None
        try:
            data = self.serializer.loads(token, max_age=int(self.rules.absolute_s))
            return str(data["s"]), str(data["u"])
        except (BadSignature, SignatureExpired, KeyError, TypeError):
            return None

    async def _ensure(self) -> None:
        if self._ready:
            return
        try:
            await self.es.indices.create(
                index=self.index, mappings=SESSIONS_MAPPING, settings={"number_of_shards": 1}
            )
        except Exception as exc:
            if "already_exists" not in str(exc) and not await self.es.indices.exists(
                index=self.index
            ):
                raise
        self._ready = True

    async def issue(self, user: Identity, auth: str = "local") -> tuple[str, User]:
        """A new session for this identity: (cookie value, the signed-in user)."""
        sid = secrets.token_urlsafe(32)
        now = time.time()
        doc = {
            "user": user.username,
            "n": user.display_name,
            "f": user.force,
            "r": user.role,
            "t": list(user.teams),
            "s": list(user.skills),
            "a": auth,
            "created": now,
            "seen": now,
        }
        try:
            await self._ensure()
            await self.es.index(
                index=self.index, id=session_doc_id(sid), document=doc, op_type="create"
            )
        except Exception as exc:
            raise SessionUnavailable() from exc
        token = self.serializer.dumps({"s": sid, "u": user.username})
        out = self._user(sid, doc)
        assert out is not None
        return token, out

    def _user(self, sid: str, data: dict[str, Any]) -> User | None:
        try:
            if data["r"] not in ROLES:
                return None
            return User(
                data["user"],
                data["n"],
                data["f"],
                data["r"],
                tuple(data["t"]),
                self.csrf_for(sid),
                tuple(data.get("s", ())),
                data.get("a", "local"),
                sid,
                float(data.get("created", 0)),
            )
        except (KeyError, TypeError):
            return None

    async def read(self, token: str | None) -> User | None:
        """The signed-in user, or None; SessionUnavailable if the store can't be asked."""
        parsed = self.unsign(token)
        if parsed is None:
            return None
        sid, username = parsed
        sdoc, udoc = session_doc_id(sid), user_doc_id(username)
        try:
            await self._ensure()
            resp = await self.es.mget(index=self.index, ids=[sdoc, udoc])
        except Exception as exc:
            raise SessionUnavailable() from exc
        found = {d["_id"]: d["_source"] for d in resp["docs"] if d.get("found")}
        doc = found.get(sdoc)
        now = time.time()
        if doc is None or doc.get("user") != username:
            return None
        if session_refusal(doc, found.get(udoc), now, self.rules) is not None:
            return None
        if now - float(doc.get("seen", 0)) > TOUCH_EVERY_S:
            try:
                await self.es.update(index=self.index, id=sdoc, doc={"seen": now})
            except Exception:  # noqa: S110 - a missed touch only shortens the idle time
                pass
        return self._user(sid, doc)

    async def touch(self, user: User) -> None:
        """Restart the idle clock now (the "stay signed in" button before the idle
        sign-out); read() only does so once a minute."""
        try:
            await self.es.update(
                index=self.index, id=session_doc_id(user.session_id), doc={"seen": time.time()}
            )
        except Exception as exc:
            raise SessionUnavailable() from exc

    async def end(self, user: User) -> None:
        """Sign out: the session is deleted, so its cookie is refused everywhere."""
        try:
            await self.es.delete(index=self.index, id=session_doc_id(user.session_id))
        except NotFoundError:
            pass
        except Exception as exc:
            raise SessionUnavailable() from exc

    async def end_everywhere(self, user: User) -> None:
        """Every session of this user started until now is refused from now on."""
        try:
            await self._ensure()
            await self.es.index(
                index=self.index,
                id=user_doc_id(user.username),
                document={"user": user.username, "revoked_before": time.time()},
            )
        except Exception as exc:
            raise SessionUnavailable() from exc
        await self.end(user)

    async def purge(self) -> None:
        """Delete sessions past their absolute lifetime (refused anyway), and "sign out
        everywhere" marks older than any session they could still refuse."""
        await self._ensure()
        old = time.time() - self.rules.absolute_s
        await self.es.indices.refresh(index=self.index)
        await self.es.delete_by_query(
            index=self.index,
            query={
                "bool": {
                    "should": [
                        {"range": {"created": {"lt": old}}},
                        {"range": {"revoked_before": {"lt": old}}},
                    ],
                    "minimum_should_match": 1,
                }
            },
            conflicts="proceed",
        )
