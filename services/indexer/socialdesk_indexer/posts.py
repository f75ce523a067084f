"""The `posts` index: one document per force post, the whole Post as posts.events
carries it, replaced only by a newer version (the post's own counter), so the console
lists drafts, posts awaiting approval, scheduled and published per force."""

from __future__ import annotations

from typing import Any

from socialdesk import indices
from socialdesk.es import VersionedDoc, alias
from socialdesk.publishing import PostEvent, PostEventType
from socialdesk.settings import BaseServiceSettings


def post_document(ev: PostEvent) -> dict[str, Any] | None:
    """The Post JSON, with flat copies of the fields the console filters and sorts on
    (the mapping indexes only those); None for a rejected command, which changes nothing."""
    post = ev.post
    if post is None or ev.type == PostEventType.rejected:
        return None
    doc = post.model_dump(mode="json")
    doc |= {
        "kind": post.draft.kind.value,
        "objective": post.draft.objective.value,
        "author_id": post.author.id,
        "accounts": [a.key for a in post.draft.accounts],
    }
    return doc


def post_docs(settings: BaseServiceSettings, ev: PostEvent) -> list[VersionedDoc]:
    doc = post_document(ev)
    if doc is None or ev.post is None:
        return []
    return [VersionedDoc(alias(settings, indices.POSTS), ev.post_id, ev.post.version, doc)]
