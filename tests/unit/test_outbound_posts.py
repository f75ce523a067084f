"""Publishing in outbound without the stack: the processor applies commands, keeps the
post's state, and publishes one delivery per account through the reply's delivery path
(state acknowledged before each platform call, flagged rather than resent after a
crash), pacing each account under the platforms' limits; the publishers' requests; the
posts index document. The journal and publisher are fakes here; tests/integration/
test_publishing_drill.py runs the real thing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from socialdesk.config import PlatformConfig
from socialdesk.events import Actor, OutboundPost
from socialdesk.kafka import Meta, Output
from socialdesk.publishing import (
    AccountRef,
    ChecklistItem,
    Objective,
    Post,
    PostCommand,
    PostCommandType,
    PostDraft,
    PostEvent,
    PostKind,
    PostMedia,
    PostStatus,
    PublishingRole,
    start_publishing,
)
from socialdesk.settings import BaseServiceSettings, OutboundSettings
from socialdesk.taxonomy import Platform
from socialdesk.topics import AUDIT_EVENTS, OUTBOUND_POSTS, POSTS_EVENTS, POSTS_OUTBOUND
from socialdesk_indexer.posts import post_docs
from socialdesk_outbound.credentials import Credentials
from socialdesk_outbound.delivery import DeliveryRecord, deliver
from socialdesk_outbound.post_flows import PublishingProcessor
from socialdesk_outbound.posting import PostDelivery, PostState
from socialdesk_outbound.publishers import (
    MetaPublisher,
    PlatformRouter,
    RecorderPublisher,
    XPublisher,
)
from socialdesk_outbound.ratelimits import RateLimits, Window
from socialdesk_outbound.reply import PermanentSendError, PostByHand, TemporarySendError

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
AUTHOR = Actor(kind="operator", id="comms.amy", force="merseyside")
APPROVER = Actor(kind="operator", id="approver.bo", force="merseyside")
BOTH = [
    AccountRef(platform=Platform.x, handle="MerseyPolice"),
    AccountRef(platform=Platform.facebook, handle="MerseysidePolice"),
]


def draft(**kw: Any) -> PostDraft:
    base: dict[str, Any] = {
        "kind": PostKind.prevention,
        "objective": Objective.prevent,
        "accounts": BOTH,
        "text": {Platform.x: "Lock your car.", Platform.facebook: "Lock your car, please."},
        "checklist": {i: True for i in ChecklistItem},
    }
    return PostDraft.model_validate({**base, **kw})


class Platforms:
    """Publisher fake: answers from a script per call and notes what the post's state
    said about the delivery at the moment of each call."""

    def __init__(self, results: list[Exception | str]) -> None:
        self.results = results
        self.proc: PublishingProcessor | None = None  # set once the processor exists
        self.calls: list[tuple[str, str | None]] = []

    async def publish(self, post: PostDelivery) -> str:
        assert self.proc is not None
        state = self.proc.store.get(0, post.post_id)
        record = state.records.get(post.delivery_id) if state else None
        self.calls.append((post.delivery_id, record.status if record else None))
        got = self.results.pop(0)
        if isinstance(got, Exception):
            raise got
        return got

    def idempotent_post(self, post: PostDelivery) -> bool:
        return False

    async def send(self, reply: Any) -> str:
        raise AssertionError("no replies here")

    def idempotent(self, reply: Any) -> bool:
        return False


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def processor(
    config: PlatformConfig, results: list[Exception | str]
) -> tuple[PublishingProcessor, Platforms, list[tuple[str, Any]], Clock]:
    clock = Clock()
    settings = OutboundSettings(reply_retry_max_delay_s=0.01)
    pub = Platforms(results)
    proc = PublishingProcessor(settings, pub, config, clock=clock)
    pub.proc = proc
    proc.store.restored = {0}
    written: list[tuple[str, Any]] = []

    async def write(outputs: list[Output]) -> None:
        for out in outputs:
            if out.topic == OUTBOUND_POSTS:
                assert isinstance(out.value, bytes)
                state = PostState.from_json(out.value)
                written.append(("state", {k: r.status for k, r in state.records.items()}))
            elif out.topic == POSTS_EVENTS:
                assert isinstance(out.value, PostEvent)
                written.append(("event", out.value.type.value))
            elif out.topic == AUDIT_EVENTS:
                written.append(("audit", out.value.action))  # type: ignore[union-attr]
            else:
                assert out.topic == POSTS_OUTBOUND and isinstance(out.value, OutboundPost)
                written.append(("outbound", out.value))

    proc.journal.write = write  # type: ignore[method-assign]
    return proc, pub, written, clock


def command(n: int, type_: PostCommandType, actor: Actor = AUTHOR, **kw: Any) -> PostCommand:
    roles = [PublishingRole.approver] if actor == APPROVER else [PublishingRole.comms]
    return PostCommand.model_validate(
        {
            "command_id": f"c{n}",
            "post_id": "pst_1",
            "force": "merseyside",
            "type": type_,
            "actor": actor,
            "at": T0,
            "actor_roles": roles,
            **kw,
        }
    )


def meta(offset: int) -> Meta:
    return Meta("posts.commands", 0, offset, "pst_1", 0)


X_ID, FB_ID = "pst_1|x:MerseyPolice", "pst_1|facebook:MerseysidePolice"


async def test_publish_now_sends_once_per_account_with_state_before_each_call(
    platform_config: PlatformConfig,
) -> None:
    proc, pub, written, _ = processor(platform_config, [TemporarySendError("503"), "t1", "fb1"])
    await proc.handle([(command(1, PostCommandType.save_draft, draft=draft()), meta(0))])
    await proc.handle([(command(2, PostCommandType.publish_now), meta(1))])
    assert pub.calls == [(X_ID, "sending"), (X_ID, "sending"), (FB_ID, "sending")]
    events = [v for k, v in written if k == "event"]
    assert events == ["saved", "publishing", "delivered", "delivered", "published"]
    steps = [(k, v) for k, v in written if k in ("state", "audit")][4:]
    assert steps[:4] == [
        ("state", {X_ID: "sending"}),
        ("audit", "post.send_failed"),
        ("state", {X_ID: "retrying"}),
        ("state", {X_ID: "sending"}),
    ]
    posted = [v for k, v in written if k == "outbound"]
    assert [(p.id, p.objective, p.post_id, p.kind) for p in posted] == [
        ("x:t1", "prevent", "pst_1", "post"),
        ("facebook:fb1", "prevent", "pst_1", "post"),
    ]
    state = proc.store.get(0, "pst_1")
    assert state is not None and state.post.status == PostStatus.published
    # The same commands again (a replay after a crash before the commit): nothing more.
    before = len(written)
    await proc.handle([(command(2, PostCommandType.publish_now), meta(1))])
    assert len(written) == before and pub.results == []


async def test_a_post_caught_in_flight_is_flagged_and_the_next_account_still_goes(
    platform_config: PlatformConfig,
) -> None:
    proc, pub, _written, _ = processor(platform_config, ["fb1"])
    await proc.handle([(command(1, PostCommandType.save_draft, draft=draft()), meta(0))])
    # Killed after `sending` for X was acknowledged, before X answered: restart and replay.
    state = proc.store.get(0, "pst_1")
    assert state is not None
    post, _ = start_publishing(state.post, T0)
    proc.store.put(0, "pst_1", PostState(post, {X_ID: DeliveryRecord("sending", 1)}, ["c1", "c2"]))
    await proc.handle([(command(2, PostCommandType.publish_now), meta(1))])
    assert pub.calls == [(FB_ID, "sending")]  # X is never called again
    final = proc.store.get(0, "pst_1")
    assert final is not None and final.post.status == PostStatus.partly_published
    x = next(d for d in final.post.deliveries if d.account.platform == Platform.x)
    assert x.status == "unconfirmed" and "check the platform" in (x.error or "")
    assert final.records[X_ID].status == "unconfirmed"


async def test_a_refused_command_is_rejected_with_its_reason_and_nothing_is_sent(
    platform_config: PlatformConfig,
) -> None:
    proc, pub, written, _ = processor(platform_config, [])
    appeal = draft(kind=PostKind.appeal)
    await proc.handle([(command(1, PostCommandType.save_draft, draft=appeal), meta(0))])
    await proc.handle([(command(2, PostCommandType.publish_now), meta(1))])
    await proc.handle([(command(3, PostCommandType.submit), meta(2))])
    approve = command(4, PostCommandType.approve, AUTHOR, checklist_seen=True)
    approve = approve.model_copy(update={"actor_roles": [PublishingRole.approver]})
    await proc.handle([(approve, meta(3))])
    elsewhere = command(5, PostCommandType.save_draft, draft=appeal)
    await proc.handle([(elsewhere.model_copy(update={"force": "atlantis"}), meta(4))])
    events = [v for k, v in written if k == "event"]
    assert events == ["saved", "rejected", "submitted", "rejected", "rejected"]
    audits = [v for k, v in written if k == "audit"]
    assert audits == ["post.saved", "post.rejected", "post.submitted"] + ["post.rejected"] * 2
    assert pub.calls == []
    state = proc.store.get(0, "pst_1")
    assert state is not None and state.post.status == PostStatus.awaiting_approval


async def test_a_scheduled_post_goes_out_when_its_time_comes(
    platform_config: PlatformConfig,
) -> None:
    proc, pub, _written, clock = processor(platform_config, ["t1", "fb1"])
    at = T0 + timedelta(minutes=30)
    await proc.handle([(command(1, PostCommandType.save_draft, draft=draft()), meta(0))])
    await proc.handle([(command(2, PostCommandType.schedule, publish_at=at), meta(1))])
    await proc.tick()
    assert pub.calls == []
    clock.now = at
    proc._next_scan = 0
    await proc.tick()
    assert [c for c, _ in pub.calls] == [X_ID, FB_ID]
    state = proc.store.get(0, "pst_1")
    assert state is not None and state.post.status == PostStatus.published


async def test_an_account_waits_for_room_under_its_platform_limit() -> None:
    now = [0.0]
    limits = RateLimits({Platform.x: (Window(2, 900, "test"),)}, clock=lambda: now[0])
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    for _ in range(3):
        assert await limits.acquire("x", "MerseyPolice", sleep=sleep)
    assert sum(slept) == 900  # the third waited for the first to leave the window
    assert limits.wait_for("x", "NWPolice") == 0  # another account has its own window
    assert limits.wait_for("tiktok", "any") == 0
    assert await limits.acquire("x", "MerseyPolice", sleep=sleep)  # two at t=900: full again
    assert not await limits.acquire("x", "MerseyPolice", lambda: True, sleep=sleep)


async def test_publishers_post_from_the_account_and_honour_retry_after(
    platform_config: PlatformConfig,
) -> None:
    seen: list[httpx.Request] = []
    answers = iter(
        [
            httpx.Response(429, headers={"retry-after": "120"}),
            httpx.Response(201, json={"data": {"id": "t9"}}),
            httpx.Response(200, json={"id": "ph1"}),
            httpx.Response(200, json={"id": "page_post1"}),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    creds = Credentials(
        platform_config, OutboundSettings(x_bearer_token="tx", meta_page_token="tm"), {}
    )
    post = PostDelivery("p|x:MerseyPolice", "p", "merseyside", "x", "MerseyPolice", "hello")
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        x = XPublisher("https://x.test", creds, http)
        with pytest.raises(TemporarySendError) as exc:
            await x.publish(post)
        assert exc.value.retry_after == 120
        assert await x.publish(post) == "t9"
        with_image = PostDelivery(
            "p|facebook:MerseysidePolice",
            "p",
            "merseyside",
            "facebook",
            "MerseysidePolice",
            "Lock your car.",
            ("https://example.org/appeal",),
            (("https://img.test/a.jpg", "A car with its window smashed"),),
        )
        meta_pub = MetaPublisher("https://graph.test", creds, http)
        assert await meta_pub.publish(with_image) == "page_post1"
        with pytest.raises(PermanentSendError, match="only an http"):
            await x.publish(
                PostDelivery("q", "q", "merseyside", "x", "MerseyPolice", "t", (), (("u", "a"),))
            )
        router = PlatformRouter({"x": x})
        tiktok = PostDelivery("r", "r", "merseyside", "tiktok", "merseysidepolice", "hi")
        with pytest.raises(PermanentSendError, match="post it by hand"):
            await router.publish(tiktok)
    assert seen[1].headers["authorization"] == "Bearer tx"
    assert str(seen[2].url) == "https://graph.test/me/photos?access_token=tm"
    assert str(seen[3].url) == "https://graph.test/me/feed?access_token=tm"
    body = json.loads(seen[3].content)
    assert body == {
        "message": "Lock your car.",
        "link": "https://example.org/appeal",
        "attached_media": [{"media_fbid": "ph1"}],
    }


def test_the_posts_index_keeps_the_whole_post_at_its_version() -> None:
    post = Post(
        id="pst_1",
        force="merseyside",
        author=AUTHOR,
        draft=draft(media=[PostMedia(url="https://img.test/a.jpg", alt_text="a car")]),
        status=PostStatus.scheduled,
        created_at=T0,
        updated_at=T0,
        version=3,
    )
    ev = PostEvent(
        event_id="pst_1:3",
        post_id="pst_1",
        force="merseyside",
        type="scheduled",
        at=T0,
        actor=AUTHOR,
        post=post,
    )
    (doc,) = post_docs(BaseServiceSettings(index_prefix="sd"), ev)
    assert (doc.index, doc.id, doc.version) == ("sd-posts", "pst_1", 3)
    assert doc.doc["status"] == "scheduled" and doc.doc["force"] == "merseyside"
    assert doc.doc["accounts"] == ["x:MerseyPolice", "facebook:MerseysidePolice"]
    assert Post.model_validate({k: v for k, v in doc.doc.items() if k in Post.model_fields}) == post
    rejected = ev.model_copy(update={"post": None, "type": "rejected"})
    assert post_docs(BaseServiceSettings(index_prefix="sd"), rejected) == []


async def test_a_429_is_waited_out_for_as_long_as_the_platform_asks() -> None:
    answers: list[Exception | str] = [TemporarySendError("X answered 429", retry_after=900), "t1"]
    slept: list[float] = []

    async def send() -> str:
        got = answers.pop(0)
        if isinstance(got, Exception):
            raise got
        return got

    async def on_failure(attempt: int, error: str, delay: float) -> None:
        return None

    async def sleep(s: float) -> None:
        slept.append(s)

    result = await deliver(send, 60, on_failure, sleep=sleep)
    assert result is not None and result.platform_id == "t1"
    assert slept == [900]  # X's window, not our 0.5 s backoff (nor its 60 s cap)


async def test_instagram_takes_one_image_from_the_accounts_id_and_the_recorder_once(
    platform_config: PlatformConfig, tmp_path: Path
) -> None:
    seen: list[httpx.Request] = []
    answers = iter([httpx.Response(200, json={"id": "c1"}), httpx.Response(200, json={"id": "m1"})])

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers)

    creds = Credentials(platform_config, OutboundSettings(meta_page_token="tm"), {})
    image = (("https://img.test/a.jpg", "Officers at a community event"),)
    post = PostDelivery(
        "p|instagram:merseypolice",
        "p",
        "merseyside",
        "instagram",
        "merseypolice",
        "Come and meet us",
        (),
        image,
        "17841400000000001",
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        meta_pub = MetaPublisher("https://graph.test", creds, http)
        assert await meta_pub.publish(post) == "m1"
        no_id = PostDelivery("q", "q", "merseyside", "instagram", "merseypolice", "t", (), image)
        with pytest.raises(PermanentSendError, match="post it from the Instagram app"):
            await meta_pub.publish(no_id)
    assert [str(r.url).split("?")[0] for r in seen] == [
        "https://graph.test/17841400000000001/media",
        "https://graph.test/17841400000000001/media_publish",
    ]
    assert json.loads(seen[0].content)["alt_text"] == "Officers at a community event"
    assert json.loads(seen[1].content) == {"creation_id": "c1"}

    recorder = RecorderPublisher(tmp_path / "outbox.jsonl")
    assert recorder.idempotent_post(post)
    assert await recorder.publish(post) == await recorder.publish(post)
    again = RecorderPublisher(tmp_path / "outbox.jsonl")  # after a restart
    await again.publish(post)
    assert len((tmp_path / "outbox.jsonl").read_text().splitlines()) == 1


async def test_an_account_we_cannot_post_to_is_a_task_to_post_by_hand_not_a_failure(
    platform_config: PlatformConfig,
) -> None:
    """TikTok has no publisher: X goes out, TikTok waits for an officer (`by_hand`, with
    nothing sent to it), and once the author records it the post is published."""
    tiktok = AccountRef(platform=Platform.tiktok, handle="merseysidepolice")
    text = {Platform.x: "Lock your car.", Platform.tiktok: "Lock your car, every time."}
    post = draft(accounts=[BOTH[0], tiktok], text=text)
    proc, pub, written, _ = processor(platform_config, ["t1", PostByHand("no publisher")])
    await proc.handle([(command(1, PostCommandType.save_draft, draft=post), meta(0))])
    await proc.handle([(command(2, PostCommandType.publish_now), meta(1))])
    state = proc.store.get(0, "pst_1")
    assert state is not None and state.post.status == PostStatus.by_hand
    assert [d.status for d in state.post.deliveries] == ["delivered", "by_hand"]
    assert [v.id for k, v in written if k == "outbound"] == ["x:t1"]
    assert ("audit", "post.by_hand") in written and ("audit", "post.undeliverable") not in written

    # Someone else (not the author, not an approver) cannot record it; nor an account
    # that is not waiting; the author can, once.
    other = Actor(kind="operator", id="comms.cy", force="merseyside")
    refused = [
        command(3, PostCommandType.posted_by_hand, other, account=tiktok),
        command(4, PostCommandType.posted_by_hand, account=BOTH[0]),
    ]
    for offset, cmd in enumerate(refused, start=3):
        await proc.handle([(cmd, meta(offset))])
    state = proc.store.get(0, "pst_1")
    assert state is not None and state.post.status == PostStatus.by_hand
    rejected = [v for k, v in written if k == "event"][-2:]
    assert rejected == ["rejected", "rejected"]
    await proc.handle([(command(5, PostCommandType.posted_by_hand, account=tiktok), meta(5))])
    state = proc.store.get(0, "pst_1")
    assert state is not None and state.post.status == PostStatus.published
    assert [d.status for d in state.post.deliveries] == ["delivered", "posted_by_hand"]
    assert ("audit", "post.posted_by_hand") in written
    assert len(pub.calls) == 2  # one call each: X posted, TikTok refused at once
