"""An item's attachments, opened through the console only (never a link to the platform's
CDN): force isolation through the item, an audit record (`media.viewed`) per opening."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from elasticsearch import NotFoundError
from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import Response

from socialdesk import indices
from socialdesk.objectstore import AttachmentStatus, ContentType, StoreUnavailable
from socialdesk_console.audit import audit_event
from socialdesk_console.context import ConsoleContext
from socialdesk_console.deps import ApiUser, Ctx
from socialdesk_console.i18n import N_
from socialdesk_console.items import fetch_item
from socialdesk_console.media import object_store, serving_headers
from socialdesk_console.protection import refuse_restricted
from socialdesk_console.timing import waiting_on

router = APIRouter()
MEDIA_ID = re.compile(r"med_[0-9a-f]{24}")


class Size(StrEnum):
    full = "full"  # the file as received
    thumb = "thumb"  # the small PNG the item page shows


@router.get("/items/{item_id}/media/{media_id}", tags=["pages"])
async def media(
    request: Request,
    item_id: str,
    media_id: str,
    user: ApiUser,
    ctx: Ctx,
    size: Annotated[Size, Query()] = Size.full,
) -> Response:
    """The stored file (or its thumbnail, size=thumb) of an item the user may see."""
    item = await fetch_item(ctx, user, item_id)  # 404 for another force's item, as for none
    await refuse_restricted(ctx, user, item)  # 403 but for the DPO, as the item page
    if not MEDIA_ID.fullmatch(media_id):
        raise HTTPException(404, N_("no such attachment"))
    doc = await _attachment(ctx, item_id, media_id)
    key = doc.get("thumbnail_key") if size is Size.thumb else doc.get("object_key")
    if doc.get("status") != AttachmentStatus.stored or not key:
        raise HTTPException(404, N_("no such attachment"))
    try:
        stored = await object_store(request).get(key)
    except StoreUnavailable as exc:
        raise HTTPException(503, N_("attachments are unavailable; try again shortly")) from exc
    if stored is None:
        raise HTTPException(404, N_("no such attachment"))
    content_type = ContentType.png if size is Size.thumb else str(doc["content_type"])
    await ctx.audit.write(
        [
            audit_event(
                user,
                request,
                "media.viewed",
                "item",
                item_id,
                media_id=media_id,
                sha256=doc.get("sha256"),
                size=size.value,
            )
        ]
    )
    return Response(
        stored.body, media_type=content_type, headers=serving_headers(media_id, content_type)
    )


async def _attachment(ctx: ConsoleContext, item_id: str, media_id: str) -> dict[str, Any]:
    try:
        async with waiting_on("es"):
            resp = await ctx.es.get(index=ctx.index(indices.ATTACHMENTS), id=media_id)
    except NotFoundError:
        raise HTTPException(404, N_("no such attachment")) from None
    except Exception as exc:
        raise HTTPException(503, N_("search is unavailable; try again shortly")) from exc
    doc: dict[str, Any] = resp.get("_source") or {}
    if doc.get("item_id") != item_id:
        raise HTTPException(404, N_("no such attachment"))
    return doc
