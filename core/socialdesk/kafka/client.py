"""Client options (bootstrap, TLS, SASL) and the factories every aiokafka client in
socialdesk is built with; the factories apply the aiokafka patches once."""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from socialdesk.kafka import aiokafka_patches
from socialdesk.settings import BaseServiceSettings


def topic_name(settings: BaseServiceSettings, logical: str) -> str:
    return settings.topic_prefix + logical


def common_client_options(settings: BaseServiceSettings) -> dict[str, Any]:
    """Options shared by aiokafka producers, consumers and the kafka-python admin client."""
    opts: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap.split(","),
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol in ("SSL", "SASL_SSL"):
        ctx = ssl.create_default_context(
            cafile=str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else None
        )
        if settings.kafka_ssl_certfile:
            ctx.load_cert_chain(
                str(settings.kafka_ssl_certfile),
                str(settings.kafka_ssl_keyfile) if settings.kafka_ssl_keyfile else None,
            )
        opts["ssl_context"] = ctx
    if settings.kafka_sasl_mechanism:
        opts["sasl_mechanism"] = settings.kafka_sasl_mechanism
        opts["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            opts["sasl_plain_password"] = settings.kafka_sasl_password.get_secret_value()
    return opts


def sync_client_options(settings: BaseServiceSettings) -> dict[str, Any]:
    """The same options for kafka-python clients (admin, `socialdesk replay`, `simulate`):
    TLS with the cluster CA and client certificate, and SASL, exactly as the services."""
    return common_client_options(settings)


def make_consumer(settings: BaseServiceSettings, **options: Any) -> AIOKafkaConsumer:
    """A consumer with the cluster's options (and the fetch pacing installed)."""
    aiokafka_patches.apply(settings)
    return AIOKafkaConsumer(**options, **common_client_options(settings))


async def start_reader(
    settings: BaseServiceSettings, client_id: str | None = None, timeout_s: float | None = None
) -> AIOKafkaConsumer:
    """A started consumer outside any group: partitions are assigned by hand and nothing
    is committed (restores, read-backs, live followers)."""
    named = {"client_id": client_id} if client_id else {}
    consumer = make_consumer(settings, group_id=None, enable_auto_commit=False, **named)
    try:
        await asyncio.wait_for(consumer.start(), timeout=timeout_s)
    except BaseException:
        await consumer.stop()
        raise
    return consumer


def make_producer(settings: BaseServiceSettings, service: str) -> AIOKafkaProducer:
    """acks=all and idempotence: an acknowledged record is durable and written once.
    A short linger: a whole batch is handed over at once anyway, and every millisecond
    waited here is a millisecond before an operator sees the outcome.

    Batches are gzip-compressed (level 1): noida-db's CPU goes on the bytes it keeps
    (docs/benchmarks.md), and on real Kafka it saves disk and network the same way."""
    aiokafka_patches.apply(settings)
    return AIOKafkaProducer(
        client_id=f"{service}-{settings.instance}",
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        linger_ms=settings.kafka_linger_ms,
        max_batch_size=256 * 1024,
        request_timeout_ms=15000,
        compression_type=None if settings.kafka_compression == "none" else "gzip",
        **common_client_options(settings),
    )
