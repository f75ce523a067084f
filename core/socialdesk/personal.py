"""One name for one member of the public across every store that holds their data.

Erasure, subject access, attachment storage and the per-author encryption keys all find
a person by this key, so a request about `x` author `123` reaches every copy without
the platform id itself being spread into object names or key ids."""

from __future__ import annotations

import hashlib


def author_key(platform: str, author_id: str) -> str:
    """A stable, non-reversible-by-eye id for (platform, author id): 32 hex characters."""
    digest = hashlib.sha256(f"{platform}:{author_id}".encode()).hexdigest()
    return digest[:32]
