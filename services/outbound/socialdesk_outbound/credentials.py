"""Which token a reply is sent with: the token of the force account the mention reached
(its `credentials` entry in config/forces/<force>.yaml names the variable), else the
deployment-wide token in OutboundSettings (a fallback for accounts without their own
reference), else none: the reply is then for an operator to send by hand."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Protocol

from prometheus_client import Gauge

from socialdesk.config import TOKEN_WARNING_DAYS, AccountCredential, PlatformConfig
from socialdesk.events import utcnow
from socialdesk.settings import OutboundSettings
from socialdesk.taxonomy import Platform

log = logging.getLogger(__name__)
EXPIRY_WARNING_DAYS = TOKEN_WARNING_DAYS
TOKEN_EXPIRY = Gauge(
    "socialdesk_outbound_token_expiry_days",
    "Days until a force account's token expires (negative: expired)",
    ["force", "account"],
)
# The platforms whose deployment-wide token stands in for an account without its own.
_FALLBACK_PLATFORMS = {Platform.x: "x", Platform.facebook: "meta", Platform.instagram: "meta"}


class Addressed(Protocol):
    """A reply or a post from one account: whose token sends it."""

    @property
    def force(self) -> str | None: ...
    @property
    def platform(self) -> str: ...
    @property
    def account(self) -> str | None: ...


class Source(StrEnum):
    account = "account"  # the account's own variable
    deployment = "deployment"  # SOCIALDESK_X_BEARER_TOKEN / SOCIALDESK_META_PAGE_TOKEN
    none = "none"


@dataclass(frozen=True)
class Token:
    value: str | None
    source: Source
    variable: str | None = None  # the variable read, for messages (never the value)


@dataclass(frozen=True)
class ExpiryNotice:
    force: str
    platform: str
    account: str
    expires: date
    days: int


class Credentials:
    """Resolves a reply's token from the forces' config and the environment."""

    def __init__(
        self,
        config: PlatformConfig | None,
        settings: OutboundSettings,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.environ = os.environ if environ is None else environ
        x = settings.x_bearer_token.get_secret_value() if settings.x_bearer_token else None
        meta = settings.meta_page_token.get_secret_value() if settings.meta_page_token else None
        self.deployment = {"x": x or None, "meta": meta or None}

    def token(self, reply: Addressed) -> Token:
        """The account's own token if its variable is set, else the deployment's."""
        cred = self._credential(reply)
        if cred is not None and self.environ.get(cred.env):
            return Token(self.environ[cred.env], Source.account, cred.env)
        kind = _FALLBACK_PLATFORMS.get(Platform(reply.platform))
        value = self.deployment.get(kind) if kind else None
        if value:
            return Token(value, Source.deployment)
        return Token(None, Source.none, cred.env if cred else None)

    def _credential(self, reply: Addressed) -> AccountCredential | None:
        """The account's reference, by handle, or by platform id (a webhook's Page id
        that ingest kept as the account reached)."""
        config = self.config
        force = config.forces.get(reply.force) if config and reply.force else None
        if config is None or force is None or not reply.account:
            return None
        handle = config.account_id_index.get((reply.platform, reply.account), reply.account)
        return force.credential(reply.platform, handle)


def expiring(config: PlatformConfig, today: date) -> list[ExpiryNotice]:
    """Every account token with a known expiry, soonest first."""
    out = [
        ExpiryNotice(force.id, platform.value, handle, cred.expires, (cred.expires - today).days)
        for force in config.forces.values()
        for platform, creds in force.credentials.items()
        for handle, cred in creds.items()
        if cred.expires is not None
    ]
    return sorted(out, key=lambda n: n.days)


def publish_expiry(config: PlatformConfig, today: date, warn: bool = True) -> None:
    """Set the expiry gauge per account; log a warning for each within the window."""
    for n in expiring(config, today):
        TOKEN_EXPIRY.labels(n.force, f"{n.platform}:{n.account}").set(n.days)
        if warn and n.days <= EXPIRY_WARNING_DAYS:
            log.warning(
                "account token expires soon; renew it",
                extra={"force": n.force, "account": f"{n.platform}:{n.account}", "days": n.days},
            )


async def watch_expiry(config: PlatformConfig, every_s: float = 3600.0) -> None:
    """Keep the gauge current while outbound runs (it runs for weeks); warn once a day."""
    warned: date | None = None
    while True:
        today = utcnow().date()
        publish_expiry(config, today, warn=today != warned)
        warned = today
        await asyncio.sleep(every_s)


# The platforms outbound has a publisher for: an account on any other is replied to by hand.
PUBLISHED = frozenset({Platform.x, Platform.facebook, Platform.instagram})


@dataclass
class CredentialReport:
    accounts: int = 0  # accounts with a reference
    warnings: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def check_credentials(
    config: PlatformConfig,
    config_dir: str,
    environ: Mapping[str, str],
    production: bool,
    today: date,
) -> CredentialReport:
    """For config-check: a referenced variable that is unset (refused in production for a
    platform with a publisher, else a warning), a token expiring within 14 days, and, in a
    production deployment for several forces, the accounts with no token of their own."""
    report = CredentialReport()
    for force in config.forces.values():
        path = f"{config_dir}/forces/{force.id}.yaml"
        bare = [
            f"{p.value}:{h}"
            for p, handles in force.accounts.items()
            if p in PUBLISHED
            for h in handles
            if force.credential(p.value, h) is None
        ]
        if production and len(config.forces) > 1 and bare:
            report.warnings.append(
                f"{path}: credentials: no token of their own for {', '.join(bare)}: they "
                "would send with the deployment-wide token, as the account it was issued to"
            )
        for platform, creds in force.credentials.items():
            for handle, cred in creds.items():
                report.accounts += 1
                where = f"{path}: credentials.{platform.value}.{handle}"
                if not environ.get(cred.env):
                    line = f"{where}.env: {cred.env} is not set"
                    if production and platform in PUBLISHED:
                        report.problems.append(line)
                    else:
                        report.warnings.append(line)
                if cred.expires is not None:
                    days = (cred.expires - today).days
                    if days < 0:
                        report.warnings.append(f"{where}.expires: expired {-days} days ago")
                    elif days <= EXPIRY_WARNING_DAYS:
                        report.warnings.append(f"{where}.expires: expires in {days} days")
    return report
