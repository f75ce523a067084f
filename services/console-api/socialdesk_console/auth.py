"""Local sign-in for development and demos: PBKDF2 password hashes, signed session
cookies that expire, and a per-session CSRF token checked on every form."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from socialdesk.config import DemoUser


@dataclass(frozen=True)
class User:
    username: str
    display_name: str
    force: str | None
    role: str
    teams: tuple[str, ...]
    csrf: str
    skills: tuple[str, ...] = ()

    @property
    def national(self) -> bool:
        return self.role == "national_viewer"


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

    def issue(self, user: DemoUser) -> str:
        return self.serializer.dumps(
            {
                "u": user.username,
                "n": user.display_name,
                "f": user.force,
                "r": user.role,
                "t": user.teams,
                "s": user.skills,
                "c": secrets.token_urlsafe(24),
            }
        )

    def read(self, token: str | None) -> User | None:
        if not token:
            return None
        try:
            data = self.serializer.loads(token, max_age=self.max_age_s)
        except (BadSignature, SignatureExpired):
            return None
        return User(
            data["u"],
            data["n"],
            data["f"],
            data["r"],
            tuple(data["t"]),
            data["c"],
            tuple(data.get("s", ())),
        )
