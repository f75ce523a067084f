"""Who is signed in: PBKDF2 local accounts (development and demos), identities from
OpenID Connect (oidc.py), signed session cookies that expire, and a per-session CSRF
token checked on every form and state-changing API call."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

ROLES = ("operator", "supervisor", "force_admin", "national_viewer", "national_duty")


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
    def is_admin(self) -> bool:
        return self.role == "force_admin"


def hash_password(password: str, iterations: int = 120_000) -> str:
    salt = secrets.token_hex(12)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), iterations)
    return f"pbkdf2_sha256${iterations}${salt}${base64.b64encode(digest).decode()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        algo, iterations, salt, expected = encoded.split("$", 3)
    except ValueError:
        return False
    if algo != "pbkdf2_sha256":
        return False
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
    return hmac.compare_digest(base64.b64encode(digest).decode(), expected)


class Sessions:
    def __init__(self, secret: str, max_age_s: int) -> None:
        self.serializer = URLSafeTimedSerializer(secret, salt="socialdesk-session")
        self.max_age_s = max_age_s

    def issue(self, user: Identity, auth: str = "local") -> str:
        return self.serializer.dumps(
            {
                "u": user.username,
                "n": user.display_name,
                "f": user.force,
                "r": user.role,
                "t": list(user.teams),
                "s": list(user.skills),
                "c": secrets.token_urlsafe(24),
                "a": auth,
            }
        )

    def read(self, token: str | None) -> User | None:
        if not token:
            return None
        try:
            data = self.serializer.loads(token, max_age=self.max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        try:
            if data["r"] not in ROLES:
                return None
            return User(
                data["u"],
                data["n"],
                data["f"],
                data["r"],
                tuple(data["t"]),
                data["c"],
                tuple(data.get("s", ())),
                data.get("a", "local"),
            )
        except (KeyError, TypeError):
            return None
