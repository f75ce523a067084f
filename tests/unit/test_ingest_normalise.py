"""Every recorded platform payload normalises to the expected mentions / outbound posts,
with the fields the rest of the platform relies on (ids, channel, author, force account,
thread, media, links, raw). Plain functions: no broker, no HTTP."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from socialdesk.config import PlatformConfig
from socialdesk.events import Mention, OutboundPost
from socialdesk.taxonomy import Channel
from socialdesk_ingest.normalise import (
    Accounts,
    Normalised,
    UnknownPayload,
    normalise_meta,
    parse_json,
)
from socialdesk_ingest.normalise_x import normalise_x_activity, normalise_x_stream
from socialdesk_ingest.service import plan_ingest, plan_normalised, plan_outbound

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
NOW = datetime(2025, 11, 24, 23, 0, tzinfo=UTC)
ALL = sorted(p for p in FIXTURES.glob("*/*.json"))

# fixture -> (mentions, outbound, skipped): each mention/post as the fields that matter.
EXPECTED: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]], int]] = {
    "meta/facebook_message.json": (
        [
            {
                "id": "facebook:m_AbC1dEf2GhI3jKl4MnO5pQr6StU7vWx8yZ",
                "channel": "direct_message",
                "author": "6012345678901234",
                "force": "MerseysidePolice",
                "text_has": "blue Carrera",
                "posted_at": "2025-11-24T09:41:05.123000+00:00",
            }
        ],
        [],
        0,
    ),
    "meta/facebook_message_attachment.json": (
        [
            {
                "id": "facebook:m_Photo9zY8xW7vU6tS5rQ4pO3nM2lK1jI",
                "channel": "direct_message",
                "in_reply_to_id": "m_Earlier0aB1cD2eF3gH4iJ5kL6mN7oP",
                "media": [("image", "https://scontent.xx.fbcdn.net/v/t1.15752-9/van123.jpg")],
                "links": [
                    "https://maps.app.goo.gl/xYz123",
                    "https://www.example.org/parking-rules",
                ],
            }
        ],
        [],
        0,
    ),
    "meta/facebook_message_echo.json": (
        [],
        [
            {
                "id": "facebook:m_EchoReply1aB2cD3eF4gH5iJ6kL7mN8",
                "kind": "direct_message",
                "force": "MerseysidePolice",
                "recipient": "6012345678901234",
            }
        ],
        0,
    ),
    "meta/facebook_comment.json": (
        [
            {
                "id": "facebook:900000000000001_800000000000001",
                "channel": "comment",
                "author": "7012345678900001",
                "display_name": "Gary Roberts",
                "conversation_id": "104857600000001_900000000000001",
                "in_reply_to_id": "104857600000001_900000000000001",
                "posted_at": "2025-11-24T13:13:20+00:00",
            }
        ],
        [],
        0,
    ),
    "meta/facebook_comment_reply.json": (
        [
            {
                "id": "facebook:900000000000001_800000000000002",
                "channel": "reply",
                "in_reply_to_id": "900000000000001_800000000000001",
                "conversation_id": "104857600000001_900000000000001",
                "media": [("photo", "https://scontent.xx.fbcdn.net/v/t39.30808-6/scrambler.jpg")],
            }
        ],
        [],
        0,
    ),
    "meta/facebook_visitor_post.json": (
        [
            {
                "id": "facebook:104857600000002_910000000000001",
                "channel": "public_mention",
                "force": "northwalespolice",
                "text_has": "Diolch",
            }
        ],
        [],
        0,
    ),
    "meta/facebook_page_post.json": (
        [],
        [
            {
                "id": "facebook:104857600000001_900000000000002",
                "kind": "post",
                "force": "MerseysidePolice",
            }
        ],
        0,
    ),
    "meta/facebook_batch.json": (
        [
            {"id": "facebook:m_Batch1aaaaaaaaaaaaaaaaaaaaaaaaaa", "channel": "direct_message"},
            {"id": "facebook:m_Batch2bbbbbbbbbbbbbbbbbbbbbbbbbb", "channel": "direct_message"},
        ],
        [],
        2,  # a delivery receipt and a read receipt
    ),
    "meta/instagram_message.json": (
        [
            {
                "channel": "direct_message",
                "author": "1234567890123456",
                "force": "merseypolice",
                "text_has": "Smithdown",
            }
        ],
        [],
        0,
    ),
    "meta/instagram_message_media.json": (
        [
            {
                "channel": "direct_message",
                "in_reply_to_id": "18000000000000001",
                "media_types": ["image"],
                "links": ["https://www.instagram.com/p/DAbCdEfGhIj/"],
            }
        ],
        [],
        0,
    ),
    "meta/instagram_message_echo.json": (
        [],
        [{"kind": "direct_message", "force": "merseypolice", "recipient": "1234567890123456"}],
        0,
    ),
    "meta/instagram_comment.json": (
        [
            {
                "id": "instagram:18000000000000200",
                "channel": "comment",
                "handle": "wirral_walker",
                "conversation_id": "18000000000000100",
                "in_reply_to_id": "18000000000000100",
            }
        ],
        [],
        0,
    ),
    "meta/instagram_comment_reply.json": (
        [
            {
                "id": "instagram:18000000000000201",
                "channel": "reply",
                "in_reply_to_id": "18000000000000200",
                "conversation_id": "18000000000000100",
            }
        ],
        [],
        0,
    ),
    "meta/instagram_comment_by_force.json": (
        [],
        [{"id": "instagram:18000000000000202", "kind": "reply", "force": "merseypolice"}],
        0,
    ),
    "x/activity_mention.json": (
        [
            {
                "id": "x:1992900000000000001",
                "channel": "public_mention",
                "author": "1500000000000001",
                "handle": "kaz_from_kenny",
                "display_name": "Kaz From Kenny",
                "force": "MerseyPolice",
                "text_has": "County Rd & he's",  # HTML entities decoded
                "conversation_id": "1992900000000000001",
                "posted_at": "2025-11-24T10:15:02.123000+00:00",
            }
        ],
        [],
        0,
    ),
    "x/activity_reply.json": (
        [
            {
                "id": "x:1992900000000000003",
                "channel": "reply",
                "in_reply_to_id": "1992900000000000002",
                "conversation_id": "1992900000000000002",
            }
        ],
        [],
        0,
    ),
    "x/activity_media_urls.json": (
        [
            {
                "id": "x:1992900000000000004",
                "force": "NWPolice",  # not in the id map: resolved from the tweet itself
                "text_has": "Video here",  # the extended (untruncated) text
                "media": [
                    (
                        "video",
                        "https://video.twimg.com/ext_tw_video/1992800000000000001/pu/vid/1280x720/high.mp4",
                    ),
                    ("photo", "https://pbs.twimg.com/media/Gx0001.jpg"),
                ],
                "links": ["https://traffic.wales/a55-j11"],
            }
        ],
        [],
        0,
    ),
    "x/activity_by_force.json": (
        [],
        [{"id": "x:1992900000000000002", "kind": "reply", "force": "MerseyPolice"}],
        0,
    ),
    "x/activity_dm.json": (
        [
            {
                "id": "x:1992910000000000001",
                "channel": "direct_message",
                "handle": "scouse_sarah",
                "display_name": "Scouse Sarah",
                "force": "MerseyPolice",
                "posted_at": "2025-11-24T12:06:40+00:00",
            }
        ],
        [],
        0,
    ),
    "x/activity_dm_media.json": (
        [
            {
                "channel": "direct_message",
                "force": "metpoliceuk",
                "media_types": ["photo"],
                "links": [
                    "https://www.example-lettings.co.uk/listing/4821",
                    "https://twitter.com/messages/media/1992910000000000002",
                ],
            }
        ],
        [],
        0,
    ),
    "x/activity_dm_by_force.json": (
        [],
        [
            {
                "id": "x:1992910000000000009",
                "kind": "direct_message",
                "force": "MerseyPolice",
                "recipient": "1500000000000004",
            }
        ],
        0,
    ),
    "x/activity_favorite.json": ([], [], 1),
    "x/stream_mention.json": (
        [
            {
                "id": "x:1992920000000000001",
                "channel": "public_mention",
                "handle": "jay_l8",
                "force": "MerseyPolice",
                "conversation_id": "1992920000000000001",
                "posted_at": "2025-11-24T21:47:10+00:00",
            }
        ],
        [],
        0,
    ),
    "x/stream_reply_media.json": (
        [
            {
                "id": "x:1992920000000000002",
                "channel": "reply",
                "force": "NWPolice",  # the first force account the tweet names
                "in_reply_to_id": "1992920000000000000",
                "conversation_id": "1992920000000000000",
                "media_types": ["photo", "video"],
                "links": [
                    "https://youtu.be/dAsHcAm0001",
                    "https://x.com/motorist99/status/1992920000000000002/photo/1",
                ],
            }
        ],
        [],
        0,
    ),
    "x/stream_by_force.json": (
        [],
        [{"id": "x:1992920000000000003", "kind": "post", "force": "MerseyPolice"}],
        0,
    ),
}
REFUSED = {"meta/unknown_object.json", "x/activity_unknown.json"}


@pytest.fixture(scope="module")
def accounts(platform_config: PlatformConfig) -> Accounts:
    return Accounts.build(platform_config, ids_file=FIXTURES / "accounts.yaml")


def normaliser(name: str) -> Any:
    if name.startswith("meta/"):
        return normalise_meta
    return normalise_x_stream if "/stream_" in name else normalise_x_activity


def _name(p: Path) -> str:
    return f"{p.parent.name}/{p.name}"


def test_every_fixture_has_expectations() -> None:
    assert {_name(p) for p in ALL} == set(EXPECTED) | REFUSED


def _check(obj: Mention | OutboundPost, want: dict[str, Any]) -> None:
    checks = {
        "id": lambda: obj.id,
        "force": lambda: obj.force_account.handle,
        "text_has": None,
        "posted_at": lambda: obj.posted_at.isoformat(),
        "conversation_id": lambda: obj.conversation_id,
        "in_reply_to_id": lambda: obj.in_reply_to_id,
        "media": lambda: [(m.type, m.url) for m in obj.media],
        "media_types": lambda: [m.type for m in obj.media],
        "links": lambda: obj.links,
    }
    for key, value in want.items():
        if key == "text_has":
            assert value in obj.text
        elif key in checks:
            assert checks[key]() == value, key  # type: ignore[misc]
        elif isinstance(obj, Mention):
            got = {
                "channel": obj.channel.value,
                "author": obj.author.id,
                "handle": obj.author.handle,
                "display_name": obj.author.display_name,
            }[key]
            assert got == value, key
        else:
            got = {"kind": obj.kind, "recipient": obj.recipient.id if obj.recipient else None}[key]
            assert got == value, key


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_normalises(name: str, accounts: Accounts) -> None:
    payload = parse_json((FIXTURES / name).read_bytes())
    out: Normalised = normaliser(name)(payload, accounts, NOW)
    mentions, outbound, skipped = EXPECTED[name]
    assert out.unknown == []
    assert len(out.mentions) == len(mentions) and len(out.outbound) == len(outbound)
    assert len(out.skipped) == skipped
    for m, want in zip(out.mentions, mentions, strict=True):
        _check(m, want)
        assert m.id == f"{m.platform.value}:{m.native_id}"
        assert m.received_at == NOW and m.raw  # the platform's own event is kept
        # the raw event round-trips: normalising it again gives the same mention
        if not name.startswith("x/stream"):
            again = normaliser(name)(_envelope(name, m.raw), accounts, NOW).mentions
            assert [a.id for a in again] == [m.id]
        assert Mention.model_validate_json(m.model_dump_json()) == m
    for post, want in zip(out.outbound, outbound, strict=True):
        _check(post, want)
        assert OutboundPost.model_validate_json(post.model_dump_json()) == post


def _envelope(name: str, raw: dict[str, Any]) -> dict[str, Any]:
    """Meta mentions keep their one event plus the entry it came in; rebuild a body."""
    if not name.startswith("meta/"):
        return raw
    entry: dict[str, Any] = {"id": raw["entry_id"], "time": raw["entry_time"]}
    if "messaging" in raw:
        entry["messaging"] = [raw["messaging"]]
    else:
        entry["changes"] = [raw["change"]]
    return {"object": raw["object"], "entry": [entry]}


@pytest.mark.parametrize("name", sorted(REFUSED))
def test_unknown_shapes_are_refused(name: str, accounts: Accounts) -> None:
    with pytest.raises(UnknownPayload):
        normaliser(name)(parse_json((FIXTURES / name).read_bytes()), accounts, NOW)


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b"\xff\xfe", b""])
def test_malformed_json_is_refused(body: bytes) -> None:
    with pytest.raises(UnknownPayload):
        parse_json(body)


def test_dm_thread_joins_the_force_reply(accounts: Accounts) -> None:
    """The force's DM reply names the same thread as the public's DM it answers."""
    dm = normalise_x_activity(
        parse_json((FIXTURES / "x/activity_dm.json").read_bytes()), accounts, NOW
    ).mentions[0]
    reply = normalise_x_activity(
        parse_json((FIXTURES / "x/activity_dm_by_force.json").read_bytes()), accounts, NOW
    ).outbound[0]
    assert dm.thread_key() == reply.thread_key()


def test_unreadable_event_is_a_dead_letter_and_the_rest_goes_on(accounts: Accounts) -> None:
    payload = parse_json((FIXTURES / "meta/facebook_batch.json").read_bytes())
    payload["entry"][0]["messaging"].append({"sender": {"id": "1"}, "surprise": True})
    payload["entry"][1]["messaging"][0]["message"].pop("mid")
    out = normalise_meta(payload, accounts, NOW)
    assert [m.id for m in out.mentions] == ["facebook:m_Batch1aaaaaaaaaaaaaaaaaaaaaaaaaa"]
    assert len(out.unknown) == 2
    plan = plan_normalised(out, "meta")
    assert plan.accepted == 1 and len(plan.rejected) == 2
    topics = [o.topic for o in plan.outputs]
    assert topics == ["mentions.raw", "deadletter", "deadletter"]


def test_unknown_page_keeps_the_page_id_as_handle(accounts: Accounts) -> None:
    """Routing then falls back to places named in the text (see architecture.md)."""
    payload = parse_json((FIXTURES / "meta/facebook_message.json").read_bytes())
    payload["entry"][0]["id"] = "999"
    m = normalise_meta(payload, accounts, NOW).mentions[0]
    assert m.force_account.handle == "999"


def test_generic_mention_written_by_the_force_is_outbound() -> None:
    line = json.loads((FIXTURES.parents[1] / "data/demo/mentions.jsonl").read_text().split("\n")[0])
    mine = {
        **line,
        "id": "x:own",
        "native_id": "own",
        "author": {"id": "1", "handle": "@mErseyPolice"},
    }
    plan = plan_ingest([json.dumps(line).encode(), json.dumps(mine).encode()], "http:test")
    assert [o.topic for o in plan.outputs] == ["mentions.raw", "posts.outbound"]
    assert plan.accepted == 1 and plan.outbound == 1


def test_generic_outbound_endpoint_plan() -> None:
    example = (
        FIXTURES.parents[1] / "schemas/examples/posts.outbound/1/x-appeal-missing-child.json"
    ).read_bytes()
    plan = plan_outbound([example, b"", b'{"id": "x:1"}'], "http:test")
    assert plan.outbound == 1 and plan.rejected[0]["line"] == 3
    assert [o.topic for o in plan.outputs] == ["posts.outbound", "deadletter"]


def test_accounts_spec_and_force_handles(platform_config: PlatformConfig) -> None:
    acc = Accounts.build(platform_config, "facebook:1=MerseysidePolice, x:2=MerseyPolice")
    assert acc.handle_for("facebook", "1") == "MerseysidePolice"
    assert acc.is_force("x", "@merseypolice") and not acc.is_force("x", "someone")
    with pytest.raises(ValueError, match="platform:id=handle"):
        Accounts.build(None, "facebook-1")


def test_channel_values_are_core_channels() -> None:
    assert {c.value for c in Channel} >= {"public_mention", "reply", "comment", "direct_message"}


def test_every_receiving_account_maps_to_its_force(platform_config: PlatformConfig) -> None:
    """Issue 19: with no ids in the settings (as `make run` starts ingest), every recorded
    Meta and X delivery, every demo mention and every example mention reaches a force:
    ingest learns the Page, Instagram and X user ids from config/forces (account_ids)."""
    accounts = Accounts.build(platform_config)  # config only
    for path in ALL:
        name = f"{path.parent.name}/{path.name}"
        if "unknown" in name:
            continue
        out = normaliser(name)(parse_json(path.read_bytes()), accounts, NOW)
        for m in [*out.mentions, *out.outbound]:
            fa = m.force_account
            assert platform_config.force_for_account(fa.platform.value, fa.handle), (name, fa)
    repo = FIXTURES.parents[1]
    lines = [
        json.loads(line)
        for f in ("data/demo/mentions.jsonl", "data/demo/posts.jsonl")
        for line in (repo / f).read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    lines += [
        json.loads(p.read_text(encoding="utf-8"))
        for topic in ("mentions.raw", "posts.outbound")
        for p in (repo / "schemas/examples" / topic / "1").glob("*.json")
    ]
    for d in lines:
        fa = d["force_account"]
        assert platform_config.force_for_account(fa["platform"], fa["handle"]), fa
        for entry in (d.get("raw") or {}).get("entry") or []:  # a Meta envelope kept in raw
            assert platform_config.force_for_account(fa["platform"], str(entry["id"])), entry
    every_id = platform_config.account_id_index
    assert {p for p, _ in every_id} >= {"facebook", "instagram", "x"}
    for (platform, account_id), handle in every_id.items():
        assert accounts.handle_for(platform, account_id) == handle
        assert platform_config.force_for_account(platform, handle)
