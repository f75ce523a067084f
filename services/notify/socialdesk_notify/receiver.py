"""A small reference receiver: the other end of a force's wiring, for the tests and the
demo (`socialdesk control-room`). It is what docs/control-room.md describes, in code:

- POST /handover: a control room. It checks the signature, reads the versioned payload,
  opens an "incident" (INC-<date>-<n>) and answers 202 at once; then it calls the
  platform back, signed, with the incident number (status `received`), and after
  `dispatch_after_s` once more (status `dispatched`), retrying each callback with backoff.
  A repeated handover id (a redelivery) gets the same incident, never a second one.
- POST /notify: a pager or chat bridge. It checks the signature and keeps each
  notification once by its idempotency key.
- GET /received: what arrived (and how many deliveries were repeats), as JSON.

A force replaces it with an adapter in front of its own command-and-control system.
"""

from __future__ import annotations

import asyncio
import email.policy
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from socialdesk.backoff import delay_for
from socialdesk.events import HandoverCallback, HandoverPayload
from socialdesk.signing import HEADER, SignatureProblem, signature, verify


@dataclass
class ControlRoomState:
    secret: str
    dispatch_after_s: float = 2.0
    fail_first: int = 0  # answer 503 to this many requests first (to exercise retries)
    incidents: dict[str, str] = field(default_factory=dict)  # handover id -> incident
    handovers: list[dict[str, Any]] = field(default_factory=list)
    notifications: dict[str, dict[str, Any]] = field(default_factory=dict)
    deliveries: int = 0
    repeats: int = 0
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    tasks: set[asyncio.Task[None]] = field(default_factory=set)


def _refuse(status: int, error: str) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status)


async def call_back(
    http: httpx.AsyncClient, secret: str, url: str, cb: HandoverCallback, attempts: int = 8
) -> dict[str, Any]:
    """Post one signed callback, retrying temporary failures with backoff."""
    body = cb.model_dump_json().encode()
    outcome: dict[str, Any] = {"callback_id": cb.callback_id, "status": cb.status}
    for attempt in range(1, attempts + 1):
        headers = {
            "Content-Type": "application/json",
            HEADER: signature(secret, body, int(time.time())),
        }
        try:
            resp = await http.post(url, content=body, headers=headers, timeout=10)
        except httpx.HTTPError as exc:
            outcome |= {"answer": None, "error": repr(exc)}
        else:
            outcome |= {"answer": resp.status_code, "body": resp.text[:300]}
            if resp.status_code < 500 and resp.status_code != 202:
                return outcome
        await asyncio.sleep(delay_for(attempt - 1, first=0.5, cap=10.0))
    return outcome


def control_room_app(state: ControlRoomState, http: httpx.AsyncClient | None = None) -> FastAPI:
    app = FastAPI(title="socialdesk reference control room", docs_url=None, redoc_url=None)
    client = http or httpx.AsyncClient()

    async def signed_json(request: Request) -> dict[str, Any] | JSONResponse:
        body = await request.body()
        state.deliveries += 1
        if state.fail_first > 0:
            state.fail_first -= 1
            return _refuse(503, "busy (the reference receiver was told to fail first)")
        try:
            verify(state.secret, body, request.headers.get(HEADER), time.time())
        except SignatureProblem as exc:
            return _refuse(401, str(exc))
        try:
            data = json.loads(body)
        except ValueError:
            return _refuse(400, "body is not JSON")
        if not isinstance(data, dict):
            return _refuse(400, "body is not a JSON object")
        return data

    @app.post("/handover")
    async def handover(request: Request) -> JSONResponse:
        data = await signed_json(request)
        if isinstance(data, JSONResponse):
            return data
        try:
            payload = HandoverPayload.model_validate(data)
        except ValidationError as exc:
            return _refuse(422, f"not a handover v1 payload: {exc.errors()[0]['msg']}")
        incident = state.incidents.get(payload.handover_id)
        if incident is not None:
            state.repeats += 1
            return JSONResponse({"incident_number": incident, "repeat": True}, status_code=202)
        day = datetime.now(UTC).strftime("%Y%m%d")
        incident = f"INC-{day}-{len(state.incidents) + 1:04d}"
        state.incidents[payload.handover_id] = incident
        state.handovers.append(payload.model_dump(mode="json"))
        task = asyncio.create_task(_follow_up(state, client, payload, incident))
        state.tasks.add(task)
        task.add_done_callback(state.tasks.discard)
        return JSONResponse({"incident_number": incident}, status_code=202)

    @app.post("/notify")
    async def notify(request: Request) -> JSONResponse:
        data = await signed_json(request)
        if isinstance(data, JSONResponse):
            return data
        key = request.headers.get("X-Socialdesk-Idempotency-Key") or str(
            data.get("notification_id") or ""
        )
        if not key:
            return _refuse(400, "no idempotency key")
        if key in state.notifications:
            state.repeats += 1
            return JSONResponse({"received": key, "repeat": True})
        state.notifications[key] = data
        return JSONResponse({"received": key})

    @app.get("/received")
    async def received() -> dict[str, Any]:
        return {
            "handovers": state.handovers,
            "incidents": state.incidents,
            "notifications": state.notifications,
            "deliveries": state.deliveries,
            "repeats": state.repeats,
            "callbacks": state.callbacks,
        }

    return app


async def _follow_up(
    state: ControlRoomState, http: httpx.AsyncClient, payload: HandoverPayload, incident: str
) -> None:
    """The control room's side: received at once, dispatched a little later."""
    for status, wait in (("received", 0.2), ("dispatched", state.dispatch_after_s)):
        await asyncio.sleep(wait)
        cb = HandoverCallback(
            callback_id=f"cb_{uuid.uuid4().hex[:16]}",
            handover_id=payload.handover_id,
            item_id=payload.item.id,
            force=payload.force,
            incident_number=incident,
            status=status,
            sent_at=datetime.now(UTC),
        )
        state.callbacks.append(await call_back(http, state.secret, payload.callback_url, cb))


class MailSink:
    """An SMTP server (aiosmtpd) standing in for the force's mail relay in the demo: each
    message is appended to a JSONL file (to, subject, idempotency key, body)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = message_from_bytes(envelope.content, policy=email.policy.default)
        line = {
            "received_at": datetime.now(UTC).isoformat(),
            "to": list(envelope.rcpt_tos),
            "subject": msg["Subject"],
            "idempotency_key": msg["X-Socialdesk-Idempotency-Key"],
            "body": str(msg.get_payload()),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(line) + "\n")
        return "250 OK"


def main(
    port: int,
    secret: str,
    dispatch_after_s: float,
    smtp_port: int = 0,
    mail_log: Path | None = None,
) -> None:
    import uvicorn

    sink = None
    if smtp_port:
        from aiosmtpd.controller import Controller  # a development dependency: demo only

        sink = Controller(
            MailSink(mail_log or Path(".data/outbox/mail.jsonl")),
            hostname="127.0.0.1",
            port=smtp_port,
        )
        sink.start()
    state = ControlRoomState(secret=secret, dispatch_after_s=dispatch_after_s)
    try:
        uvicorn.run(control_room_app(state), host="127.0.0.1", port=port, log_level="warning")
    finally:
        if sink is not None:
            sink.stop()
