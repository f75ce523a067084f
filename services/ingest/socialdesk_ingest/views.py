"""HTTP only: the generic JSON/JSONL mention endpoint with per-source API keys.

A request is answered 200 only after Kafka has acknowledged every record it produced;
if Kafka is unavailable the answer is 503 and the sender retries, so nothing is lost."""

from __future__ import annotations

import asyncio
import hmac
import logging
from typing import Annotated

from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Header, Request
from fastapi.responses import JSONResponse

from socialdesk import __version__
from socialdesk.kafka import make_producer, produce_and_wait
from socialdesk.runtime import add_ops_routes
from socialdesk.settings import IngestSettings
from socialdesk_ingest.service import plan_ingest, split_body

log = logging.getLogger(__name__)


class ProducerHolder:
    """Connects in the background and reconnects after failures."""

    def __init__(self, settings: IngestSettings) -> None:
        self.settings = settings
        self.producer: AIOKafkaProducer | None = None
        self.lock = asyncio.Lock()

    async def get(self) -> AIOKafkaProducer:
        async with self.lock:
            if self.producer is None:
                producer = make_producer(self.settings, "ingest")
                try:
                    await asyncio.wait_for(producer.start(), timeout=10)
                except BaseException:
                    await producer.stop()
                    raise
                self.producer = producer
            return self.producer

    async def reset(self) -> None:
        async with self.lock:
            if self.producer is not None:
                try:
                    await self.producer.stop()
                finally:
                    self.producer = None


def create_app(settings: IngestSettings) -> FastAPI:
    app = FastAPI(title="socialdesk ingest", version=__version__)
    holder = ProducerHolder(settings)
    keys = settings.api_keys()
    app.state.producer = holder

    async def ready() -> dict[str, bool]:
        try:
            await holder.get()
            return {"kafka": True}
        except Exception:
            return {"kafka": False}

    add_ops_routes(app, ready)

    @app.on_event("shutdown")
    async def _close() -> None:
        await holder.reset()

    @app.post("/v1/mentions")
    async def post_mentions(
        request: Request, x_api_key: Annotated[str | None, Header()] = None
    ) -> JSONResponse:
        """Mentions already in the socialdesk shape: one JSON object, an array, or JSONL."""
        source = None
        for key, name in keys.items():
            if x_api_key is not None and hmac.compare_digest(x_api_key, key):
                source = name
        if source is None:
            return JSONResponse({"error": "missing or unknown X-Api-Key"}, status_code=401)
        body = await request.body()
        if len(body) > settings.max_body_bytes:
            return JSONResponse(
                {"error": f"body over {settings.max_body_bytes} bytes"}, status_code=413
            )
        plan = plan_ingest(split_body(body), f"http:{source}")
        try:
            producer = await holder.get()
            await asyncio.wait_for(
                produce_and_wait(producer, settings.topic_prefix, plan.outputs), timeout=20
            )
        except Exception as exc:
            log.warning("kafka unavailable", extra={"error": repr(exc)})
            await holder.reset()
            return JSONResponse(
                {"error": "kafka unavailable, retry later"},
                status_code=503,
                headers={"Retry-After": "5"},
            )
        status = 200 if plan.accepted or not plan.rejected else 400
        return JSONResponse(
            {"accepted": plan.accepted, "rejected": plan.rejected}, status_code=status
        )

    return app


def main() -> None:
    import uvicorn

    from socialdesk.logs import setup_logging

    settings = IngestSettings()
    setup_logging("ingest", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port or 8081,
        log_config=None,
        access_log=False,
    )
