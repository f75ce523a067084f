"""A reply goes out from the force account the mention reached, with that account's
token: resolution per account, the deployment-wide fallback, no credentials at all (reply
by hand), a refused token (401), and tokens about to expire."""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from functools import partial

import httpx
import pytest
from prometheus_client import REGISTRY

from socialdesk.config import PlatformConfig, load_config
from socialdesk.events import ItemMessage, utcnow
from socialdesk.settings import OutboundSettings
from socialdesk.taxonomy import Platform
from socialdesk_outbound.credentials import (
    Credentials,
    Source,
    Token,
    check_credentials,
    expiring,
    publish_expiry,
    watch_expiry,
)
from socialdesk_outbound.delivery import deliver, outcome_audit
from socialdesk_outbound.publishers import PlatformRouter, XPublisher
from socialdesk_outbound.reply import CredentialsError, OutboundReply, outbound_from_event
from tests.unit.conftest import CONFIG_DIR
from tests.unit.test_outbound import T0, replied

ENV = {
    "SOCIALDESK_TOKEN_NORTH_WALES_X_NWPOLICE": "tok-nwp",
    "SOCIALDESK_TOKEN_NORTH_WALES_X_HEDDLUGOGCYMRU": "tok-hgc",
}


def reply(force: str | None, account: str | None, platform: str = "x") -> OutboundReply:
    return OutboundReply("i:2", "i", force, platform, "public_mention", "99", "a1", "hi", account)


@pytest.fixture(scope="module")
def config() -> PlatformConfig:
    return load_config(CONFIG_DIR)


def test_each_account_has_its_own_token_and_others_fall_back(config: PlatformConfig) -> None:
    creds = Credentials(config, OutboundSettings(x_bearer_token="deployment"), ENV)
    own = creds.token(reply("north-wales", "HeddluGogCymru"))
    assert (own.value, own.source) == ("tok-hgc", Source.account)
    assert creds.token(reply("north-wales", "@nwpolice")).value == "tok-nwp"  # as handles match
    other = creds.token(reply("merseyside", "MerseyPolice"))
    assert (other.value, other.source) == ("deployment", Source.deployment)
    # A webhook names the account by its platform id: the same account, the same token.
    fc = config.forces["north-wales"]
    ids = {Platform.x: {"1234567": "HeddluGogCymru"}}
    forces = {**config.forces, fc.id: fc.model_copy(update={"account_ids": ids})}
    by_id = Credentials(PlatformConfig(config.national, forces), OutboundSettings(), ENV)
    assert by_id.token(reply("north-wales", "1234567")).value == "tok-hgc"
    unset = Credentials(config, OutboundSettings(x_bearer_token="deployment"), {})
    assert unset.token(reply("north-wales", "NWPolice")).source == Source.deployment


def test_no_credentials_at_all_names_the_variable_to_set(config: PlatformConfig) -> None:
    none = Credentials(config, OutboundSettings(), {}).token(reply("north-wales", "NWPolice"))
    assert none == Token(None, Source.none, "SOCIALDESK_TOKEN_NORTH_WALES_X_NWPOLICE")
    assert (
        Credentials(config, OutboundSettings(meta_page_token="m"), {})
        .token(reply("north-wales", "northwalespolice", "facebook"))
        .value
        == "m"
    )
    assert (
        Credentials(config, OutboundSettings(x_bearer_token="t"), {})
        .token(reply("north-wales", "x", "tiktok"))
        .source
        == Source.none
    )


def test_the_reply_names_the_account_the_mention_reached() -> None:
    ev = replied()
    assert ev.item is not None
    ev.item.messages.insert(
        0, ItemMessage(mention_id="x:98", direction="inbound", author="a1", text="q", at=T0)
    )
    ev.item.messages[1] = ev.item.messages[1].model_copy(update={"account": "HeddluGogCymru"})
    out = outbound_from_event(ev)
    assert out is not None and out.account == "HeddluGogCymru"
    assert outbound_from_event(replied()).account is None  # type: ignore[union-attr]


async def test_two_accounts_two_tokens_and_a_refused_token(config: PlatformConfig) -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if request.headers["Authorization"] == "Bearer tok-hgc":
            return httpx.Response(401, text="token tok-hgc expired")
        return httpx.Response(201, json={"data": {"id": "p1"}})

    creds = Credentials(config, OutboundSettings(), ENV)
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        x = XPublisher("https://x.test", creds, http)
        assert await x.send(reply("north-wales", "NWPolice")) == "p1"
        refused = reply("north-wales", "HeddluGogCymru")
        with pytest.raises(CredentialsError, match="undeliverable: credentials") as exc:
            await x.send(refused)
        assert "tok-hgc" not in str(exc.value)

        async def never(*_: object) -> None:
            raise AssertionError("a refused token is not retried")

        result = await deliver(lambda: x.send(refused), 1.0, never)
    assert seen == ["Bearer tok-nwp", "Bearer tok-hgc", "Bearer tok-hgc"]
    assert result is not None and result.status == "undeliverable"
    audit = outcome_audit(refused, result)
    assert audit.action == "reply.undeliverable"
    assert audit.details["account"] == "HeddluGogCymru"
    assert audit.details["reason"] == "credentials"
    assert "tok-" not in audit.model_dump_json()


async def test_a_channel_without_a_publisher_or_a_token_is_replied_to_by_hand(
    config: PlatformConfig,
) -> None:
    async def never(*_: object) -> None:
        raise AssertionError("not retried")

    async with httpx.AsyncClient() as http:
        router = PlatformRouter(
            {"x": XPublisher("https://x.test", Credentials(config, OutboundSettings(), {}), http)}
        )
        for r in (reply("north-wales", "nwp", "tiktok"), reply("north-wales", "NWPolice")):
            result = await deliver(partial(router.send, r), 1.0, never)
            assert result is not None and result.reason == "reply_by_hand", r
            assert "reply by hand" in (result.error or "")
            assert outcome_audit(r, result).details["reason"] == "reply_by_hand"


def test_tokens_about_to_expire_are_flagged(
    config: PlatformConfig, caplog: pytest.LogCaptureFixture
) -> None:
    fc = config.forces["north-wales"]
    expires = {"NWPolice": date(2026, 3, 20), "HeddluGogCymru": date(2026, 9, 1)}
    x = {
        h: c.model_copy(update={"expires": expires[h]})
        for h, c in fc.credentials[Platform.x].items()
    }
    forces = {**config.forces, fc.id: fc.model_copy(update={"credentials": {Platform.x: x}})}
    cfg = PlatformConfig(config.national, forces)
    notices = expiring(cfg, date(2026, 3, 10))
    assert [(n.account, n.days) for n in notices] == [("NWPolice", 10), ("HeddluGogCymru", 175)]
    with caplog.at_level(logging.WARNING):
        publish_expiry(cfg, date(2026, 3, 10))
    warned = [r for r in caplog.records if "expires soon" in r.getMessage()]
    assert [getattr(r, "account", None) for r in warned] == ["x:NWPolice"]
    labels = {"force": "north-wales", "account": "x:NWPolice"}
    assert REGISTRY.get_sample_value("socialdesk_outbound_token_expiry_days", labels) == 10
    report = check_credentials(cfg, "config", ENV, True, date(2026, 3, 10))
    assert report.problems == []
    own = [w for w in report.warnings if "no token of their own" not in w]
    assert own == [
        "config/forces/north-wales.yaml: credentials.x.NWPolice.expires: expires in 10 days"
    ]
    unset = check_credentials(cfg, "config", {}, True, date(2026, 3, 10))
    assert (
        len(unset.problems) == 2 and "SOCIALDESK_TOKEN_NORTH_WALES_X_NWPOLICE" in unset.problems[0]
    )


async def test_the_expiry_gauge_is_kept_current_and_warned_once_a_day(
    config: PlatformConfig, caplog: pytest.LogCaptureFixture
) -> None:
    fc = config.forces["north-wales"]
    soon = utcnow().date() + timedelta(days=5)
    x = {h: c.model_copy(update={"expires": soon}) for h, c in fc.credentials[Platform.x].items()}
    forces = {**config.forces, fc.id: fc.model_copy(update={"credentials": {Platform.x: x}})}
    with caplog.at_level(logging.WARNING), pytest.raises(TimeoutError):
        await asyncio.wait_for(watch_expiry(PlatformConfig(config.national, forces), 0.01), 0.1)
    warned = [r for r in caplog.records if "expires soon" in r.getMessage()]
    assert len(warned) == 2  # one per account, not one per pass
    labels = {"force": "north-wales", "account": "x:HeddluGogCymru"}
    assert REGISTRY.get_sample_value("socialdesk_outbound_token_expiry_days", labels) == 5
