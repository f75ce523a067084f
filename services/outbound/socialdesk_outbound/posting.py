"""A post's life in outbound (no Kafka here): the state kept per post, the one message
each account sends, each account's outcome, and what a delivered post tells metrics.

A post is published as one delivery per (post id, account), each with its own
DeliveryRecord in the post's state, written and acknowledged before the platform call,
exactly as a reply's (delivery.py): a record still `sending` after a restart is resent
only where the publisher is idempotent, and otherwise flagged `unconfirmed`.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from socialdesk.events import AuditEvent, ForceAccount, MediaRef, OutboundPost
from socialdesk.publishing import (
    SYSTEM,
    AccountRef,
    Post,
    PostEvent,
    PostEventType,
    PostStatus,
    final_status,
    message_text,
    post_event,
)
from socialdesk_outbound.delivery import DeliveryRecord

FINAL = frozenset({"delivered", "undeliverable", "unconfirmed", "by_hand", "posted_by_hand"})
RECENT_COMMANDS = 50  # a replayed command is recognised among the post's last 50


@dataclass
class PostState:
    """The changelog value for one post (outbound.posts.changelog, keyed by post id)."""

    post: Post
    records: dict[str, DeliveryRecord] = field(default_factory=dict)  # by delivery id
    commands: list[str] = field(default_factory=list)  # recent command ids, oldest first
    welsh: bool = False  # the force's Welsh Language Standards, when it was published

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "post": self.post.model_dump(mode="json"),
                "records": {k: asdict(r) for k, r in self.records.items()},
                "commands": self.commands,
                "welsh": self.welsh,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> PostState:
        data = json.loads(raw)
        return cls(
            post=Post.model_validate(data["post"]),
            records={k: DeliveryRecord(**r) for k, r in data["records"].items()},
            commands=list(data["commands"]),
            welsh=bool(data.get("welsh", False)),
        )

    def seen(self, command_id: str) -> bool:
        return command_id in self.commands

    def remember(self, command_id: str) -> None:
        self.commands = [*self.commands, command_id][-RECENT_COMMANDS:]


@dataclass(frozen=True)
class PostDelivery:
    """What one account sends for a post: the publishers' input, as OutboundReply is for
    a reply (the same force/platform/account names, so credentials resolve alike)."""

    delivery_id: str  # "<post id>|<platform>:<handle>": one per post and account
    post_id: str
    force: str
    platform: str
    account: str  # the handle
    text: str
    links: tuple[str, ...] = ()
    media: tuple[tuple[str, str], ...] = ()  # (url, alt text)
    account_id: str | None = None  # the platform's id of the account (Instagram needs it)


def pending_deliveries(
    state: PostState, account_ids: dict[tuple[str, str], str] | None = None
) -> list[PostDelivery]:
    """The accounts of a publishing post still without an outcome, in the author's order."""
    post = state.post
    if post.status != PostStatus.publishing:
        return []
    ids = account_ids or {}
    out: list[PostDelivery] = []
    for d in post.deliveries:
        if d.status in FINAL:
            continue
        acc = d.account
        out.append(
            PostDelivery(
                delivery_id=f"{post.id}|{acc.key}",
                post_id=post.id,
                force=post.force,
                platform=acc.platform.value,
                account=acc.handle,
                text=message_text(post.draft, acc.platform, state.welsh),
                links=tuple(post.draft.links),
                media=tuple((m.url, m.alt_text) for m in post.draft.media),
                account_id=ids.get((acc.platform.value, acc.handle.lower())),
            )
        )
    return out


def account_of(delivery: PostDelivery) -> AccountRef:
    return AccountRef.model_validate({"platform": delivery.platform, "handle": delivery.account})


DeliveryStatus = Literal["delivered", "undeliverable", "unconfirmed", "by_hand"]


def record_delivery(
    post: Post,
    account: AccountRef,
    status: DeliveryStatus,
    now: datetime,
    attempts: int,
    platform_id: str | None = None,
    error: str | None = None,
) -> tuple[Post, list[PostEvent]]:
    """One account's outcome; once every account has one, the post is published (all
    delivered), left for an officer to post by hand where we have no publisher or token
    (`by_hand`), partly published, or failed. `unconfirmed` (may have gone; outbound was
    stopped mid-call) counts as an outcome an officer checks, never a resend."""
    deliveries = [
        d.model_copy(
            update={
                "status": status,
                "attempts": attempts,
                "platform_id": platform_id,
                "error": error,
                "at": now,
            }
        )
        if d.account == account
        else d
        for d in post.deliveries
    ]
    after = post.model_copy(
        update={"deliveries": deliveries, "updated_at": now, "version": post.version + 1}
    )
    kind = {"delivered": PostEventType.delivered, "by_hand": PostEventType.by_hand}.get(
        status, PostEventType.undeliverable
    )
    events = [post_event(after, kind, now, SYSTEM, account=account, reason=error or "")]
    final = final_status(deliveries)
    if final is not None:
        after = after.model_copy(update={"status": final, "version": after.version + 1})
        events.append(post_event(after, PostEventType.published, now, SYSTEM))
    return after, events


def outbound_post(
    post: Post, delivery: PostDelivery, platform_id: str, now: datetime
) -> OutboundPost:
    """The delivered post as posts.outbound carries the force's own posts, with its
    objective and post id, so the listening and balance reports count it."""
    return OutboundPost(
        id=f"{delivery.platform}:{platform_id}",
        platform=delivery.platform,
        native_id=platform_id,
        kind="post",
        force_account=ForceAccount.model_validate(
            {"platform": delivery.platform, "handle": delivery.account}
        ),
        text=delivery.text,
        posted_at=now,
        received_at=now,
        media=[MediaRef(type="image", url=url) for url, _ in delivery.media],
        links=list(delivery.links),
        objective=post.draft.objective.value,
        post_id=post.id,
    )


def post_audit(ev: PostEvent) -> AuditEvent:
    """Every step of a post, on audit.events: who did it (a person, or outbound on its
    own), in which force, and the outcome; never the post's text."""
    details: dict[str, Any] = {"event_id": ev.event_id, "command_id": ev.command_id}
    if ev.account is not None:
        details["account"] = ev.account.key
    if ev.reason:
        details["reason"] = ev.reason[:500]
    if ev.post is not None:
        details |= {"status": ev.post.status.value, "version": ev.post.version}
    return AuditEvent(
        event_id=f"audit:{ev.event_id}",
        at=ev.at,
        actor=ev.actor,
        action=f"post.{ev.type.value}",
        target_type="post",
        target_id=ev.post_id,
        force=ev.force,
        details=details,
    )


def attempt_audit(delivery: PostDelivery, action: str, **details: Any) -> AuditEvent:
    """One delivery attempt's record (`post.send_failed`, `post.unconfirmed`)."""
    return AuditEvent.by_system(
        SYSTEM.id,
        action,
        force=delivery.force,
        target_id=delivery.post_id,
        target_type="post",
        details={
            "delivery_id": delivery.delivery_id,
            "account": f"{delivery.platform}:{delivery.account}",
            **details,
        },
    )
