"""outbound without the stack: the retry loop, the decision on a reply from its delivery
record, and the processor's order of writes (state acknowledged before each platform
call, the audit before the state) with the journal and publisher replaced by fakes, and
how the platforms' answers are classified."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from socialdesk.events import Actor, Author, Item, ItemEvent, ItemMessage
from socialdesk.kafka import Meta, Output
from socialdesk.settings import OutboundSettings
from socialdesk.taxonomy import Channel, Intent, ItemStatus, Platform, Priority
from socialdesk.topics import AUDIT_EVENTS, OUTBOUND_DELIVERIES
from socialdesk_outbound.credentials import Credentials
from socialdesk_outbound.delivery import (
    Action,
    DeliveryRecord,
    backoff,
    decide,
    deliver,
)
from socialdesk_outbound.flows import OutboundProcessor
from socialdesk_outbound.posting import PostDelivery
from socialdesk_outbound.publishers import MetaPublisher, XPublisher
from socialdesk_outbound.reply import (
    OutboundReply,
    PermanentSendError,
    TemporarySendError,
    outbound_from_event,
)

T0 = datetime(2026, 3, 6, 14, 0, tzinfo=UTC)
REPLY = OutboundReply("itm_1:3", "itm_1", "merseyside", "x", "public_mention", "99", "a1", "hi")


class Flaky:
    def __init__(self, fail: int, permanent: bool = False) -> None:
        self.fail, self.permanent, self.calls = fail, permanent, 0

    async def send(self, reply: OutboundReply) -> str:
        self.calls += 1
        if self.permanent:
            raise PermanentSendError("post deleted")
        if self.calls <= self.fail:
            raise TemporarySendError("503")
        return "sent-1"

    def idempotent(self, reply: OutboundReply) -> bool:
        return False

    async def publish(self, post: PostDelivery) -> str:
        raise AssertionError("replies only")

    def idempotent_post(self, post: PostDelivery) -> bool:
        return False


async def test_delivery_retries_with_backoff_until_sent() -> None:
    failures: list[tuple[int, float]] = []
    slept: list[float] = []

    async def on_failure(attempt: int, error: str, delay: float) -> None:
        failures.append((attempt, delay))

    async def sleep(s: float) -> None:
        slept.append(s)

    flaky = Flaky(3)
    result = await deliver(lambda: flaky.send(REPLY), 60, on_failure, sleep=sleep)
    assert result is not None and result.status == "delivered" and result.attempts == 4
    assert slept == [0.5, 1.0, 2.0] and [a for a, _ in failures] == [1, 2, 3]
    gone = await deliver(lambda: Flaky(0, True).send(REPLY), 60, on_failure, sleep=sleep)
    assert gone is not None and gone.status == "undeliverable"
    assert backoff(30, 60) == 60


# ---- the decision ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("status", "idempotent", "action"),
    [
        (None, False, Action.SEND),
        ("retrying", False, Action.SEND),
        ("sending", True, Action.SEND),
        ("sending", False, Action.FLAG),
        ("sent", True, Action.SKIP),
        ("undeliverable", True, Action.SKIP),
        ("unconfirmed", True, Action.SKIP),
    ],
)
def test_a_reply_in_flight_is_resent_only_where_the_platform_dedups(
    status: str | None, idempotent: bool, action: Action
) -> None:
    record = DeliveryRecord(status, 1) if status else None  # type: ignore[arg-type]
    assert decide(record, idempotent) is action


def test_delivery_record_round_trips() -> None:
    rec = DeliveryRecord("sent", 2, "1001", None)
    assert DeliveryRecord.from_json(rec.to_json()) == rec


# ---- the processor's writes --------------------------------------------------------
def replied(
    actor: str = "operator", seq: int = 3, text: str = "hi", item_id: str = "itm_1"
) -> ItemEvent:
    """An operator's `replied` event answering X post 99 (outbound reads nothing else)."""
    item = Item(
        id=item_id,
        key=item_id,
        force="merseyside",
        team="digital-desk",
        status=ItemStatus.in_progress,
        priority=Priority.P3,
        intent=Intent.enquiry,
        platform=Platform.x,
        channel=Channel.public_mention,
        author=Author(id="a1"),
        thread_key="t",
        messages=[
            ItemMessage(mention_id="x:99", direction="inbound", author="a1", text="q", at=T0),
            ItemMessage(direction="outbound", author="op", text=text, at=T0),
        ],
        created_at=T0,
        updated_at=T0,
        first_mention_at=T0,
        seq=seq,
    )
    return ItemEvent(
        event_id=f"{item_id}:{seq}",
        item_id=item_id,
        seq=seq,
        type="replied",
        actor=Actor(kind=actor, id="op"),  # type: ignore[arg-type]
        at=T0,
        item=item,
    )


class Recording:
    """Publisher fake: records what the store said about the reply at each call."""

    def __init__(self, proc: OutboundProcessor, results: list[Exception | str], idem: bool):
        self.proc, self.results, self.idem = proc, results, idem
        self.seen: list[str | None] = []

    async def send(self, reply: OutboundReply) -> str:
        rec = self.proc.store.get(0, reply.event_id)
        self.seen.append(rec.status if rec else None)
        got = self.results.pop(0)
        if isinstance(got, Exception):
            raise got
        return got

    def idempotent(self, reply: OutboundReply) -> bool:
        return self.idem

    async def publish(self, post: PostDelivery) -> str:
        raise AssertionError("replies only")

    def idempotent_post(self, post: PostDelivery) -> bool:
        return False


def processor(
    results: list[Exception | str], idem: bool = False
) -> tuple[OutboundProcessor, Recording, list[tuple[str, str]]]:
    proc = OutboundProcessor(OutboundSettings(reply_retry_max_delay_s=0.01), Flaky(0))
    pub = Recording(proc, results, idem)
    proc.publisher = pub
    proc.store.restored = {0}
    written: list[tuple[str, str]] = []

    async def write(outputs: list[Output]) -> None:
        for out in outputs:
            if out.topic == OUTBOUND_DELIVERIES:
                assert isinstance(out.value, bytes)
                written.append(("state", DeliveryRecord.from_json(out.value).status))
            else:
                assert out.topic == AUDIT_EVENTS
                written.append(("audit", out.value.action))  # type: ignore[union-attr]

    proc.journal.write = write  # type: ignore[method-assign]
    return proc, pub, written


META = Meta("items.events", 0, 7, "itm_1", 0)


async def test_sending_is_written_before_each_call_and_the_audit_before_the_state() -> None:
    proc, pub, written = processor([TemporarySendError("503"), "1001"])
    await proc.handle([(replied(), META)])
    assert pub.seen == ["sending", "sending"]
    assert written == [
        ("state", "sending"),
        ("audit", "reply.send_failed"),
        ("state", "retrying"),
        ("state", "sending"),
        ("audit", "reply.delivered"),
        ("state", "sent"),
    ]
    again = len(written)
    await proc.handle([(replied(), META)])  # a replay after a crash before the commit
    assert len(written) == again and pub.results == []


async def test_a_reply_caught_in_flight_is_flagged_not_posted_twice() -> None:
    proc, pub, written = processor(["never"])
    proc.store.put(0, "itm_1:3", DeliveryRecord("sending", 1))
    await proc.handle([(replied(), META)])
    assert pub.seen == []
    assert written == [("audit", "reply.undeliverable"), ("state", "unconfirmed")]


async def test_an_idempotent_publisher_gets_the_reply_in_flight_again() -> None:
    proc, pub, written = processor(["recorded:itm_1:3"], idem=True)
    proc.store.put(0, "itm_1:3", DeliveryRecord("sending", 1))
    await proc.handle([(replied(), META)])
    assert pub.seen == ["sending"] and written[-1] == ("state", "sent")


def test_only_an_operators_reply_is_sent() -> None:
    assert outbound_from_event(replied("system")) is None
    reply = outbound_from_event(replied())
    assert reply is not None and reply.in_reply_to == "99" and reply.text == "hi"


# ---- the platforms' answers ----------------------------------------------------------
async def test_platform_answers_are_classified_temporary_or_permanent() -> None:
    answers = iter([httpx.Response(503), httpx.Response(403, text="duplicate content")])
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return next(answers, httpx.Response(201, json={"id": "c77"}))

    tokens = OutboundSettings(x_bearer_token="t", meta_page_token="p")
    creds, none = Credentials(None, tokens, {}), Credentials(None, OutboundSettings(), {})
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as http:
        x = XPublisher("https://x.test/", creds, http)
        with pytest.raises(TemporarySendError, match="503"):
            await x.send(REPLY)
        with pytest.raises(PermanentSendError, match="duplicate content"):
            await x.send(REPLY)
        meta = MetaPublisher("https://graph.test", creds, http)
        fb = OutboundReply("i:4", "i", None, "facebook", "public_mention", "c1", "a", "ok")
        assert await meta.send(fb) == "c77"
        with pytest.raises(PermanentSendError, match=r"no credentials .*reply by hand"):
            await XPublisher("https://x.test", none, http).send(REPLY)
    assert str(seen[0].url) == "https://x.test/2/tweets"
    assert str(seen[-1].url) == "https://graph.test/c1/comments?access_token=p"
    assert not x.idempotent(REPLY) and not meta.idempotent(fb)
