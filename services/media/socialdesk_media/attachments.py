"""Which attachments an item event brings, and the record kept for each: plain data, no
Kafka, Elasticsearch or HTTP here.

An attachment is named by the message it came with and its place in it (`media_id`), so
a replayed or repeated item event names the same attachment again and is recognised as
done. The bytes are stored under `attachments/{author_key}/{item_id}/{sha256}`: erasure
removes a person's files by the prefix `attachments/{author_key}/` (socialdesk.personal),
and the same file sent twice in one item is one object."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from socialdesk.events import ItemEvent, MediaRef
from socialdesk.objectstore import AttachmentStatus
from socialdesk.personal import author_key

PREFIX = "attachments"


Status = AttachmentStatus  # the index's vocabulary, shared through core


@dataclass(frozen=True)
class Pending:
    """One attachment of one inbound message, still to be kept."""

    media_id: str
    item_id: str
    mention_id: str
    force: str | None
    platform: str
    author_key: str
    account: str | None
    ref: MediaRef
    posted_at: datetime


def media_id_of(mention_id: str, position: int) -> str:
    """The attachment's stable id: the same message and place always give the same one."""
    digest = hashlib.sha256(f"{mention_id}#{position}".encode()).hexdigest()
    return f"med_{digest[:24]}"


def object_key(author: str, item_id: str, sha256: str) -> str:
    """Where the bytes live (other services rely on this layout: docs/media.md)."""
    return f"{PREFIX}/{author}/{item_id}/{sha256}"


def thumbnail_key(original_key: str) -> str:
    """Beside the original, so erasing the author's prefix removes it too."""
    return f"{original_key}.thumb"


def pending_of(ev: ItemEvent) -> list[Pending]:
    """Every attachment on the item's inbound messages (the caller skips the ones done)."""
    item = ev.item
    if item is None:
        return []
    out: list[Pending] = []
    for m in item.messages:
        if m.direction != "inbound" or not m.media or not m.mention_id:
            continue
        sender = author_key(item.platform.value, m.author_id or item.author.id)
        for position, ref in enumerate(m.media):
            out.append(
                Pending(
                    media_id=media_id_of(m.mention_id, position),
                    item_id=item.id,
                    mention_id=m.mention_id,
                    force=item.force,
                    platform=item.platform.value,
                    author_key=sender,
                    account=m.account,
                    ref=ref,
                    posted_at=m.at,
                )
            )
    return out


@dataclass(frozen=True)
class Kept:
    """What became of one attachment: the document the attachments index holds."""

    pending: Pending
    status: Status
    fetched_at: datetime
    reason: str | None = None
    object_key: str | None = None
    thumbnail_key: str | None = None
    sha256: str | None = None
    size: int | None = None
    content_type: str | None = None

    def document(self) -> dict[str, Any]:
        p = self.pending
        return {
            "media_id": p.media_id,
            "item_id": p.item_id,
            "mention_id": p.mention_id,
            "force": p.force,
            "author_key": p.author_key,
            "platform": p.platform,
            "declared_type": p.ref.type,
            "alt_text": p.ref.alt_text,
            "object_key": self.object_key,
            "thumbnail_key": self.thumbnail_key,
            "sha256": self.sha256,
            "size": self.size,
            "content_type": self.content_type,
            "fetched_at": self.fetched_at.isoformat(),
            "status": self.status.value,
            "reason": self.reason,
        }
