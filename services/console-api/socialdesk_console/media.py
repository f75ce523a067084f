"""An item's attachments as the console shows them (docs/media.md): read from the
attachments index once the item itself has passed the scope check, and how one is
served back so a browser can never run it."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from socialdesk import indices
from socialdesk.objectstore import RASTER, ObjectStore, ObjectStoreSettings
from socialdesk.taxonomy import Flag
from socialdesk_console.context import ConsoleContext
from socialdesk_console.timing import waiting_on

# Items whose pictures are blurred until an operator chooses to look: a child at risk,
# a sexual offence or self-harm may come with images nobody should meet unwarned.
SENSITIVE_FLAGS = frozenset({Flag.child_at_risk, Flag.sexual_offence, Flag.self_harm})
MAX_ATTACHMENTS = 200


def sensitive(item: dict[str, Any]) -> bool:
    return bool(SENSITIVE_FLAGS.intersection(item.get("flags") or []))


async def item_attachments(ctx: ConsoleContext, item: dict[str, Any]) -> list[dict[str, Any]]:
    """The attachments of an item the user may see (the caller has checked), by message.
    None indexed yet, or the index away, is an empty list: the page still opens."""
    try:
        async with waiting_on("es"):
            resp = await ctx.es.search(
                index=ctx.index(indices.ATTACHMENTS),
                query={"term": {"item_id": item["id"]}},
                size=MAX_ATTACHMENTS,
                sort=[{"media_id": "asc"}],
            )
    except Exception:
        return []
    out = []
    for hit in resp["hits"]["hits"]:
        doc = dict(hit["_source"])
        doc["raster"] = doc.get("content_type") in RASTER
        out.append(doc)
    return out


# What the JSON item says of each attachment: never its object key or its author's key.
API_FIELDS = (
    "media_id",
    "mention_id",
    "status",
    "reason",
    "content_type",
    "size",
    "sha256",
    "fetched_at",
    "alt_text",
)


def without_platform_links(
    item: dict[str, Any], attachments: list[dict[str, Any]]
) -> dict[str, Any]:
    """The JSON item as the console answers it: each message's media without the
    platform's link (nobody is sent to the platform's CDN, where the file may since have
    changed), and the item's attachments with the console's own audited route."""
    for message in item.get("messages") or []:
        message["media"] = [
            {k: v for k, v in ref.items() if k != "url"} for ref in message.get("media") or []
        ]
    item["attachments"] = [
        {k: a.get(k) for k in API_FIELDS}
        | {"href": f"/items/{item['id']}/media/{a['media_id']}" if a.get("object_key") else None}
        for a in attachments
    ]
    return item


def object_store(request: Request) -> ObjectStore:
    """One client per console process, made on first use (boto3 clients are threadsafe)."""
    store: ObjectStore | None = getattr(request.app.state, "objectstore", None)
    if store is None:
        store = ObjectStore(ObjectStoreSettings())
        request.app.state.objectstore = store
    return store


def serving_headers(media_id: str, content_type: str) -> dict[str, str]:
    """Never run, never re-interpreted: the sniffed type, no sniffing by the browser, a
    sandbox with no script, and inline only for raster images (others download)."""
    disposition = "inline" if content_type in RASTER else "attachment"
    return {
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "sandbox; default-src 'none'",
        "Content-Disposition": f'{disposition}; filename="{media_id}"',
        "Cache-Control": "private, no-store",
    }
