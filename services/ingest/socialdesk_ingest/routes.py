"""The FastAPI routes of ingest: the platforms' subscription checks (GET) and the generic
JSON/JSONL endpoints with per-source API keys. The webhook POSTs are not here: they are
answered ahead of FastAPI (handling.Webhook)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from socialdesk_ingest import signatures
from socialdesk_ingest.handling import BodyTooLarge, Ingest, read_limited
from socialdesk_ingest.service import IngestPlan, plan_ingest, plan_outbound, split_body

router = APIRouter()


def current_ingest(request: Request) -> Ingest:
    """The app's Ingest, built once by create_app."""
    ing: Ingest = request.app.state.ingest
    return ing


IngestDep = Annotated[Ingest, Depends(current_ingest)]
ApiKey = Annotated[str | None, Header()]


@router.get("/webhooks/meta")
async def meta_verify(request: Request, ing: IngestDep) -> Response:
    """Meta's subscription handshake: answer hub.challenge for our verify token."""
    q = request.query_params
    if not ing.meta_token:
        return ing.error("meta", 404, "meta webhooks are not configured").response()
    challenge = signatures.meta_handshake(
        ing.meta_token, q.get("hub.mode"), q.get("hub.verify_token"), q.get("hub.challenge")
    )
    if challenge is None:
        return ing.error("meta", 403, "verification failed").response()
    return PlainTextResponse(challenge)


@router.get("/webhooks/x")
async def x_crc(ing: IngestDep, crc_token: str | None = None) -> Response:
    """X's challenge-response check, made on registration and hourly after."""
    if not ing.x_secret:
        return ing.error("x", 404, "x webhooks are not configured").response()
    if not crc_token:
        return ing.error("x", 400, "crc_token is required").response()
    return JSONResponse(signatures.x_crc_response(ing.x_secret, crc_token))


async def generic(
    ing: Ingest,
    request: Request,
    route: str,
    api_key: str | None,
    plan_fn: Callable[[list[bytes], str], IngestPlan],
) -> Response:
    """A socialdesk-shaped body from a known source: 429, 401, 413, 400, then produce."""
    source = None
    for key, name in ing.keys.items():
        if api_key is not None and hmac.compare_digest(api_key.encode(), key.encode()):
            source = name
    client = request.client.host if request.client else "unknown"
    if over := ing.limited(route, f"{route}:{source}:{client}"):
        return over.response()
    if source is None:
        return ing.error(route, 401, "missing or unknown X-Api-Key").response()
    max_body = ing.settings.max_body_bytes
    try:
        body = await read_limited(request, max_body)
    except BodyTooLarge:
        return ing.error(route, 413, f"body over {max_body} bytes").response()
    if not body.strip():
        return ing.error(route, 400, "empty body: nothing to ingest").response()
    plan = plan_fn(split_body(body), f"http:{source}")
    accepted = plan.accepted + plan.outbound
    answer = await ing.produce(route, plan, 200 if accepted or not plan.rejected else 400)
    return answer.response()


@router.post("/v1/mentions")
async def post_mentions(request: Request, ing: IngestDep, x_api_key: ApiKey = None) -> Response:
    """Mentions already in the socialdesk shape: one JSON object, an array, or JSONL."""
    return await generic(ing, request, "mentions", x_api_key, plan_ingest)


@router.post("/v1/outbound")
async def post_outbound(request: Request, ing: IngestDep, x_api_key: ApiKey = None) -> Response:
    """What a force published, from a source without webhooks (OutboundPost shape)."""
    return await generic(ing, request, "outbound", x_api_key, plan_outbound)
