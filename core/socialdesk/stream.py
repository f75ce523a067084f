"""Run a streaming Processor as a service: the Kafka loop plus the ops HTTP server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from socialdesk.health import make_server, ops_app, run_until_signalled
from socialdesk.kafka import KafkaRuntime, Processor
from socialdesk.logs import setup_logging
from socialdesk.settings import BaseServiceSettings

ExtraCheck = Callable[[], Awaitable[bool]]


async def serve_processor(
    settings: BaseServiceSettings,
    processor: Processor,
    extra_checks: dict[str, ExtraCheck] | None = None,
    max_records: int = 500,
) -> None:
    setup_logging(processor.service, settings.log_level)
    runtime = KafkaRuntime(settings, processor, max_records=max_records)

    async def ready() -> dict[str, bool]:
        checks = {"kafka": runtime.ready}
        for name, check in (extra_checks or {}).items():
            try:
                checks[name] = await check()
            except Exception:
                checks[name] = False
        return checks

    server = make_server(
        ops_app(processor.service, ready, settings.environment),
        settings.http_host,
        settings.http_port,
    )

    def stop() -> None:
        runtime.stop()
        server.should_exit = True

    await run_until_signalled(processor.service, [runtime.run(), server.serve()], stop)
