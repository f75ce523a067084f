"""Webhook authenticity: Meta's and X's HMAC-SHA256 schemes, always over the raw body.

Comparisons are constant-time (hmac.compare_digest) so response timing reveals nothing
about how much of a forged signature was right."""

from __future__ import annotations

import base64
import hashlib
import hmac


def meta_signature(secret: str, body: bytes) -> str:
    """X-Hub-Signature-256: 'sha256=' + hex HMAC-SHA256 of the raw body, app secret key."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_meta(secret: str, body: bytes, header: str | None) -> bool:
    if not header or not secret:
        return False
    return hmac.compare_digest(meta_signature(secret, body).encode(), header.strip().encode())


def meta_handshake(
    verify_token: str, mode: str | None, token: str | None, challenge: str | None
) -> str | None:
    """The subscription check: echo hub.challenge only for our own verify token."""
    if mode != "subscribe" or token is None or challenge is None or not verify_token:
        return None
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return challenge


def x_signature(consumer_secret: str, data: bytes) -> str:
    """'sha256=' + base64 HMAC-SHA256, the X Account Activity API scheme (CRC and POST)."""
    digest = hmac.new(consumer_secret.encode(), data, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def x_crc_response(consumer_secret: str, crc_token: str) -> dict[str, str]:
    return {"response_token": x_signature(consumer_secret, crc_token.encode())}


def verify_x(consumer_secret: str, body: bytes, header: str | None) -> bool:
    if not header or not consumer_secret:
        return False
    return hmac.compare_digest(x_signature(consumer_secret, body).encode(), header.strip().encode())
