"""Fetching one attachment from the platform's media host (HTTP only: what is kept is
decided in keeper.py). The body is read in chunks and the fetch stops once the limit is
reached, so an oversized file is refused without being read."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from socialdesk_media.sniff import SNIFF_BYTES, ContentType, Reason, sniff

CHUNK = 64 * 1024


@dataclass(frozen=True)
class Fetched:
    body: bytes
    content_type: ContentType


@dataclass(frozen=True)
class Refused:
    reason: Reason
    detail: str = ""


class Fetcher:
    """GET with the account's token where the host needs one; never follows a redirect
    off the allowed hosts."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        allowed_hosts: frozenset[str],
        token_hosts: frozenset[str],
        limit_bytes: int,
    ) -> None:
        self.http = http
        self.allowed_hosts = allowed_hosts
        self.token_hosts = token_hosts
        self.limit_bytes = limit_bytes  # a file of this size or larger is refused

    def host_allowed(self, url: str) -> bool:
        """A listed host or a subdomain of one (CDNs name regional hosts:
        scontent-lhr8-1.cdninstagram.com)."""
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return parts.scheme in ("https", "http") and any(
            host == h or host.endswith("." + h) for h in self.allowed_hosts
        )

    async def fetch(self, url: str, token: str | None) -> Fetched | Refused:
        """The bytes and their sniffed type, or why they are not kept. A network error
        raises httpx.HTTPError: the caller decides whether to try again."""
        if not self.host_allowed(url):
            return Refused(Reason.not_allowed_host, urlsplit(url).hostname or "")
        headers = {}
        if token and (urlsplit(url).hostname or "") in self.token_hosts:
            headers["Authorization"] = f"Bearer {token}"
        async with self.http.stream("GET", url, headers=headers) as resp:
            if resp.status_code in (404, 410):  # what platforms answer for a dead link
                return Refused(Reason.expired, f"HTTP {resp.status_code}")
            if resp.status_code >= 400:
                return Refused(Reason.fetch_failed, f"HTTP {resp.status_code}")
            declared = resp.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) >= self.limit_bytes:
                return Refused(Reason.too_large, f"{int(declared)} bytes declared")
            return await self._read(resp)

    async def _read(self, resp: httpx.Response) -> Fetched | Refused:
        body = bytearray()
        kind: ContentType | None = None
        async for chunk in resp.aiter_bytes(CHUNK):
            body.extend(chunk)
            if len(body) >= self.limit_bytes:
                return Refused(Reason.too_large, f"{self.limit_bytes} bytes or more")
            if kind is None and len(body) >= SNIFF_BYTES:
                found = sniff(bytes(body[:SNIFF_BYTES]))
                if isinstance(found, Reason):
                    return Refused(found)
                kind = found
        if kind is None:
            found = sniff(bytes(body[:SNIFF_BYTES]))
            if isinstance(found, Reason):
                return Refused(found)
            kind = found
        return Fetched(bytes(body), kind)
