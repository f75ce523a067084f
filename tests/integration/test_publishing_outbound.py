"""Publishing through the outbound service on a real broker, with the stand-in platform:
bad input (an approval by the author, a post over X's limit, an image without alt text,
an unknown account, a command that is not JSON) gets its reason back and sends nothing;
a good post goes out from its account, with every step audited and the delivered post
on posts.outbound with its objective for the reports."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from socialdesk.events import Actor, utcnow
from socialdesk.publishing import (
    AccountRef,
    ChecklistItem,
    Objective,
    PostCommand,
    PostCommandType,
    PostDraft,
    PostKind,
    PostMedia,
    PublishingRole,
)
from socialdesk.taxonomy import Platform
from socialdesk.topics import AUDIT_EVENTS, DEADLETTER, POSTS_COMMANDS, POSTS_EVENTS, POSTS_OUTBOUND
from socialdesk_tools.stack import Stack, StackPorts, kill_tree
from tests.browser.fakes import FakeCdn, FakePlatform, Served

from .conftest import Backend
from .helpers import create_topics, produce, read_all, settings_for, wait_until

AUTHOR = Actor(kind="operator", id="comms.amy", force="merseyside")
X = AccountRef(platform=Platform.x, handle="MerseyPolice")


def draft(**kw: Any) -> PostDraft:
    base: dict[str, Any] = {
        "kind": PostKind.road_closure,
        "objective": Objective.warn_inform,
        "accounts": [X],
        "text": {Platform.x: "The A59 is closed at Ormskirk Road after a collision."},
        "checklist": {i: True for i in ChecklistItem},
    }
    return PostDraft.model_validate({**base, **kw})


def commands(post_id: str, *steps: tuple[PostCommandType, dict[str, Any]]) -> list[PostCommand]:
    return [
        PostCommand.model_validate(
            {
                "command_id": f"{post_id}:{n}",
                "post_id": post_id,
                "force": "merseyside",
                "type": t,
                "actor": AUTHOR,
                "at": utcnow(),
                "actor_roles": [PublishingRole.comms, PublishingRole.approver],
                **extra,
            }
        )
        for n, (t, extra) in enumerate(steps)
    ]


SAVE, NOW = PostCommandType.save_draft, PostCommandType.publish_now


async def test_bad_input_sends_nothing_and_a_good_post_goes_out_audited(
    noida: Backend, prefix: str, tmp_path: Path
) -> None:
    settings = settings_for(noida.kafka, prefix)
    create_topics(settings)
    api = FakePlatform()
    srv = Served(api.app()).start()
    stack = Stack(tmp_path, ports=StackPorts.free())
    env = {
        "SOCIALDESK_KAFKA_BOOTSTRAP": noida.kafka,
        "SOCIALDESK_TOPIC_PREFIX": prefix,
        "SOCIALDESK_ENVIRONMENT": "test",
        "SOCIALDESK_REPLY_PUBLISHER": "platforms",
        "SOCIALDESK_X_API_BASE_URL": srv.url,
        "SOCIALDESK_X_BEARER_TOKEN": "tok-merseyside",
    }
    appeal = draft(kind=PostKind.appeal, objective=Objective.appeal)
    kent = [AccountRef(platform=Platform.x, handle="kent_police")]
    bad = [
        *commands(
            "pst_own",
            (SAVE, {"draft": appeal}),
            (PostCommandType.submit, {}),
            (PostCommandType.approve, {"checklist_seen": True}),
        ),
        *commands("pst_long", (SAVE, {"draft": draft(text={Platform.x: "z" * 281})}), (NOW, {})),
        *commands(
            "pst_alt",
            (SAVE, {"draft": draft(media=[PostMedia(url="https://i.test/a.jpg")])}),
            (NOW, {}),
        ),
        *commands("pst_kent", (SAVE, {"draft": draft(accounts=kent)}), (NOW, {})),
    ]
    good = commands("pst_good", (SAVE, {"draft": draft()}), (NOW, {}))
    records: list[tuple[str | None, bytes]] = [
        (c.post_id, c.model_dump_json().encode()) for c in bad
    ]
    records.append(("pst_poison", b"{not json"))
    records += [(c.post_id, c.model_dump_json().encode()) for c in good]

    async def events(kind: str) -> dict[str, dict[str, Any]]:
        return {
            v["post_id"]: v
            for _, v in await read_all(noida.kafka, prefix + POSTS_EVENTS)
            if v["type"] == kind
        }

    proc = stack.spawn("outbound", extra_env=env)
    try:
        await asyncio.to_thread(stack.wait_ready, "outbound", 120)
        await produce(noida.kafka, prefix + POSTS_COMMANDS, records)
        await wait_until(lambda: events("published"), within=60)
        rejected = await wait_until(
            lambda: _when(events("rejected"), lambda r: len(r) == 4), within=30
        )
        dead = await wait_until(lambda: read_all(noida.kafka, prefix + DEADLETTER), within=30)
    finally:
        kill_tree(proc)
        srv.stop()
        print("--- outbound.log\n" + stack.log_tail("outbound", 20))

    reasons = {post: ev["reason"] for post, ev in rejected.items()}
    assert reasons["pst_own"] == "you wrote this post: another approver must decide on it"
    assert "text.x: 281 characters; x allows 280" in reasons["pst_long"]
    assert "media.0.alt_text: add alt text" in reasons["pst_alt"]
    assert "unknown account x:kent_police for this force" in reasons["pst_kent"]
    ((_, letter),) = dead
    assert letter["service"] == "outbound-posts" and letter["reason"] == "invalid_payload"
    assert letter["origin"]["key"] == "pst_poison"

    # Only the good post reached the platform, once, with the account's token.
    assert [(c["body"]["text"], c["auth"]) for c in api.calls] == [
        ("The A59 is closed at Ormskirk Road after a collision.", "Bearer tok-merseyside")
    ]
    published = (await events("published"))["pst_good"]["post"]
    assert published["status"] == "published"
    (delivery,) = published["deliveries"]
    assert delivery["status"] == "delivered" and delivery["platform_id"]
    outbound = [v for _, v in await read_all(noida.kafka, prefix + POSTS_OUTBOUND)]
    assert [(o["post_id"], o["objective"], o["kind"]) for o in outbound] == [
        ("pst_good", "warn_inform", "post")
    ]
    # audit.events is keyed by actor (the author, or outbound itself): order by time.
    audit = sorted(
        (v for _, v in await read_all(noida.kafka, prefix + AUDIT_EVENTS)),
        key=lambda a: str(a["at"]),
    )
    good_steps = [a["action"] for a in audit if a["target_id"] == "pst_good"]
    assert good_steps == ["post.saved", "post.publishing", "post.delivered", "post.published"]
    assert [a["action"] for a in audit if a["target_id"] == "pst_own"][-1] == "post.rejected"
    assert all(a["target_type"] == "post" for a in audit)


async def _when(got: Any, ok: Any) -> Any:
    value = await got
    return value if ok(value) else None


JPEG = b"\xff\xd8\xff\xe0" + bytes(2048)
APPROVER = Actor(kind="operator", id="approver.bo", force="merseyside")


def approved(post_id: str, appeal: PostDraft) -> list[PostCommand]:
    """An appeal needs another officer's approval before it goes out."""
    steps = commands(
        post_id,
        (SAVE, {"draft": appeal}),
        (PostCommandType.submit, {}),
        (PostCommandType.approve, {"checklist_seen": True}),
        (NOW, {}),
    )
    steps[2] = steps[2].model_copy(update={"actor": APPROVER})
    return steps


SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
STILL = "CCTV still: a man in a grey hooded top at the door of the shop"


async def test_an_appeal_with_a_photo_reaches_x_with_its_alt_text_and_an_svg_is_refused(
    noida: Backend, prefix: str, tmp_path: Path
) -> None:
    settings = settings_for(noida.kafka, prefix)
    create_topics(settings)
    api, cdn = FakePlatform(), FakeCdn(files={"still.jpg": (JPEG, "image/jpeg")})
    cdn.files["poster.svg"] = (SVG, "image/jpeg")  # a server's claimed type is not trusted
    srv, images = Served(api.app()).start(), Served(cdn.app()).start()
    stack = Stack(tmp_path, ports=StackPorts.free())
    env = {
        "SOCIALDESK_KAFKA_BOOTSTRAP": noida.kafka,
        "SOCIALDESK_TOPIC_PREFIX": prefix,
        "SOCIALDESK_ENVIRONMENT": "test",
        "SOCIALDESK_REPLY_PUBLISHER": "platforms",
        "SOCIALDESK_X_API_BASE_URL": srv.url,
        "SOCIALDESK_X_BEARER_TOKEN": "tok-merseyside",
        "SOCIALDESK_PUBLISH_IMAGE_INTERNAL_HOSTS": '["127.0.0.1"]',  # the stand-in image host
    }
    appeal = {"kind": PostKind.appeal, "objective": Objective.appeal}
    text = "Do you recognise this man? Call 101 quoting ref 123."
    photo = draft(
        **appeal,
        text={Platform.x: text},
        media=[PostMedia(url=f"{images.url}/media/still.jpg", alt_text=STILL)],
    )
    svg = draft(
        **appeal,
        text={Platform.x: "An SVG poster."},
        media=[PostMedia(url=f"{images.url}/media/poster.svg", alt_text="A poster")],
    )
    steps = [*approved("pst_photo", photo), *approved("pst_svg", svg)]

    async def outcomes() -> dict[str, dict[str, Any]] | None:
        got = {
            v["post_id"]: v["post"]
            for _, v in await read_all(noida.kafka, prefix + POSTS_EVENTS)
            if v["post"] and v["post"]["status"] in ("published", "failed")
        }
        return got if len(got) == 2 else None

    proc = stack.spawn("outbound", extra_env=env)
    try:
        await asyncio.to_thread(stack.wait_ready, "outbound", 120)
        await produce(
            noida.kafka,
            prefix + POSTS_COMMANDS,
            [(c.post_id, c.model_dump_json().encode()) for c in steps],
        )
        posts = await wait_until(outcomes, within=60)
    finally:
        kill_tree(proc)
        srv.stop()
        images.stop()
        print("--- outbound.log\n" + stack.log_tail("outbound", 20))

    # The photo reached X as an image with its alt text, from the force's account.
    assert api.posted_media() == {text: [("image/jpeg", STILL, "Bearer tok-merseyside")]}
    assert [m["bytes"] for m in api.media.values()] == [len(JPEG)]
    (photo_delivery,) = posts["pst_photo"]["deliveries"]
    assert photo_delivery["status"] == "delivered" and photo_delivery["platform_id"]
    # The SVG was refused with its reason; nothing of it was uploaded or posted.
    (svg_delivery,) = posts["pst_svg"]["deliveries"]
    assert posts["pst_svg"]["status"] == "failed" and svg_delivery["status"] == "undeliverable"
    assert "image 1: not a JPEG, PNG, GIF or WebP" in svg_delivery["error"]
    assert [c["body"]["text"] for c in api.calls] == [text]
