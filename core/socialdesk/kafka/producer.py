"""Producing outside the batch loop: one shared producer per service's request paths,
and one way to send a few records and wait for the broker's acknowledgement."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer

from socialdesk.backoff import Backoff
from socialdesk.kafka.client import make_producer
from socialdesk.kafka.outputs import Output, encode
from socialdesk.kafka.sealing import sealer_for
from socialdesk.settings import BaseServiceSettings

log = logging.getLogger(__name__)


async def send_output(producer: AIOKafkaProducer, prefix: str, out: Output) -> asyncio.Future[Any]:
    """Hand one record to the producer; the returned future resolves on acknowledgement."""
    return await producer.send(
        prefix + out.topic,
        value=encode(out.value),
        key=out.key.encode() if out.key is not None else None,
        partition=out.partition,
    )


async def produce_and_wait(
    producer: AIOKafkaProducer,
    prefix: str,
    outputs: list[Output],
    *,
    settings: BaseServiceSettings | None = None,
) -> None:
    """Send a handful of records, then wait for every acknowledgement. (Most HTTP paths
    send one record: that one is awaited directly, with no gather and no extra task.)
    With `settings`, records for personal topics are sealed first (socialdesk.vault)."""
    sealer = sealer_for(settings) if settings is not None else None
    if sealer is not None:
        outputs = await sealer.seal(outputs)
    futures = [await send_output(producer, prefix, out) for out in outputs]
    if len(futures) == 1:
        await futures[0]
    else:
        await asyncio.gather(*futures)


class ProducerHolder:
    """One producer (make_producer) for a service's request paths: started on first use,
    kept, and dropped by reset() after a failure so the next use connects afresh."""

    def __init__(self, settings: BaseServiceSettings, service: str) -> None:
        self.settings = settings
        self.service = service
        self.producer: AIOKafkaProducer | None = None
        self.lock = asyncio.Lock()

    async def get(self) -> AIOKafkaProducer:
        if self.producer is not None:  # the hot path takes no lock
            return self.producer
        async with self.lock:
            if self.producer is None:
                producer = make_producer(self.settings, self.service)
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


class Stopped(Exception):
    """The service is stopping mid-wait: leave the batch uncommitted (its records say
    what is done)."""


class DurableWriter:
    """Writes records at once and waits for every acknowledgement, retrying while the
    broker is away: for a state change that must be durable before the next step (a
    platform call, an email), not at the end of the batch."""

    def __init__(
        self, settings: BaseServiceSettings, service: str, stopping: Callable[[], bool]
    ) -> None:
        self.settings = settings
        self.producer = ProducerHolder(settings, service)
        self.stopping = stopping

    async def write(self, outputs: list[Output]) -> None:
        backoff = Backoff(0.2, 10)
        while True:
            try:
                producer = await self.producer.get()
                await produce_and_wait(
                    producer, self.settings.topic_prefix, outputs, settings=self.settings
                )
                return
            except Exception as exc:
                log.warning("durable write failed, retrying", extra={"error": repr(exc)})
                await self.producer.reset()
                if self.stopping():
                    raise Stopped() from exc
                await backoff.wait()

    async def close(self) -> None:
        await self.producer.reset()
