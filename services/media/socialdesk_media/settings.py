"""The media service's settings (SOCIALDESK_*): where attachments may come from, how big
they may be, and the object store's (socialdesk.objectstore.ObjectStoreSettings)."""

from __future__ import annotations

from pydantic import Field

from socialdesk.objectstore import ObjectStoreSettings
from socialdesk.settings import BaseServiceSettings

# The platforms' media hosts (their CDNs): an attachment link anywhere else is refused,
# so a crafted message cannot make the service fetch from inside the force's network
# (a host's subdomains are allowed: CDNs name regional hosts).
DEFAULT_HOSTS = "twimg.com,ton.twitter.com,fbcdn.net,fbsbx.com,cdninstagram.com"


class MediaSettings(BaseServiceSettings, ObjectStoreSettings):
    media_limit_bytes: int = Field(
        20_000_000, ge=1024, le=512 * 1024 * 1024, description="this size or larger is refused"
    )
    media_allowed_hosts: str = Field(
        DEFAULT_HOSTS, description="comma-separated hosts; their subdomains too"
    )
    media_token_hosts: str = Field(
        "ton.twitter.com", description="hosts sent the account's token (comma-separated)"
    )
    media_fetch_window_hours: float = Field(
        24.0, gt=0, le=24 * 90, description="older links are recorded as expired, not fetched"
    )
    media_fetch_timeout_s: float = Field(30.0, gt=0, le=600)
    media_fetch_attempts: int = Field(3, ge=1, le=20, description="tries before 'failed'")

    @staticmethod
    def hosts(value: str) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in value.split(",") if h.strip())
