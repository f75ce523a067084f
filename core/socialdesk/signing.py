"""Signed webhooks, both ways: HMAC-SHA256 over the timestamp and the raw body.

Header: ``X-Socialdesk-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``.
The timestamp is inside what is signed, so a captured request cannot be replayed later
with a fresh time; the receiver refuses one older (or newer) than the tolerance, and
remembers ids it has applied (the callback id) to refuse a replay inside the window.
Comparisons are constant-time. The same scheme signs what we send (notifications,
handovers) and verifies what the control room sends back (docs/control-room.md)."""

from __future__ import annotations

import hashlib
import hmac
import re

HEADER = "X-Socialdesk-Signature"
TOLERANCE_S = 300
_FORMAT = re.compile(r"^t=(\d{9,11}),v1=([0-9a-f]{64})$")


class SignatureProblem(Exception):
    """Why a signed request is refused: missing, malformed, stale or not ours."""


def signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str, body: bytes, header: str | None, now: float, tolerance_s: int = TOLERANCE_S
) -> int:
    """The signed timestamp, or SignatureProblem saying what is wrong."""
    if not header:
        raise SignatureProblem(f"unsigned: the {HEADER} header is missing")
    m = _FORMAT.match(header.strip())
    if m is None:
        raise SignatureProblem(f"malformed {HEADER}: expected t=<unix seconds>,v1=<hex>")
    ts = int(m.group(1))
    expected = signature(secret, body, ts)
    if not secret or not hmac.compare_digest(expected.encode(), header.strip().encode()):
        raise SignatureProblem("bad signature")
    if abs(now - ts) > tolerance_s:
        raise SignatureProblem(f"stale: signed {int(now - ts)} s from now (limit {tolerance_s} s)")
    return ts
