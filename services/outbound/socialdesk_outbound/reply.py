"""The reply a `replied` event asks us to send, and the two ways a send can fail."""

from __future__ import annotations

from dataclasses import dataclass

from socialdesk.events import ItemEvent, ItemEventType


class TemporarySendError(Exception):
    """Worth retrying: the platform is down, slow or rate-limiting. `retry_after` is the
    wait the platform asked for (a 429's Retry-After), honoured over our own backoff."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentSendError(Exception):
    """Retrying won't help (rejected content, deleted post, no publisher): an operator acts."""

    reason: str | None = None  # what the audit record and the item page call it


class CredentialsError(PermanentSendError):
    """The platform refused the account's token (401): expired or revoked."""

    reason = "credentials"


class ReplyByHand(PermanentSendError):
    """No publisher for the platform, or no token for the account: an operator sends it."""

    reason = "reply_by_hand"


class PostByHand(PermanentSendError):
    """A post the platform's API cannot take from us (no publisher, no token, more than
    Instagram takes): an officer posts it by hand from the platform's own app."""

    reason = "post_by_hand"


@dataclass(frozen=True)
class OutboundReply:
    event_id: str  # "<item id>:<seq>": the idempotency key
    item_id: str
    force: str | None
    platform: str
    channel: str
    in_reply_to: str | None  # the platform's id of the message answered
    author_id: str
    text: str
    account: str | None = None  # the force account the mention reached (its handle)


def outbound_from_event(ev: ItemEvent) -> OutboundReply | None:
    """The reply an operator's `replied` event asks us to send (its last outbound
    message); None for every other event, and for replies not written by an operator."""
    item = ev.item
    if ev.type != ItemEventType.replied or item is None or ev.actor.kind != "operator":
        return None
    outbound = [m for m in item.messages if m.direction == "outbound"]
    if not outbound:
        return None
    inbound = [m for m in item.messages if m.direction == "inbound" and m.mention_id]
    last_in = inbound[-1].mention_id if inbound else None
    accounts = [m.account for m in inbound if m.account]
    return OutboundReply(
        event_id=ev.event_id,
        item_id=item.id,
        force=item.force,
        platform=item.platform.value,
        channel=item.channel.value,
        in_reply_to=last_in.split(":", 1)[1] if last_in and ":" in last_in else last_in,
        author_id=item.author.id,
        text=outbound[-1].text,
        account=accounts[-1] if accounts else None,
    )
