"""Prometheus metrics shared by every service; each process exposes them on /metrics."""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, Info

CONSUMED = Counter(
    "socialdesk_messages_consumed_total", "Kafka messages consumed", ["service", "topic"]
)
PRODUCED = Counter(
    "socialdesk_messages_produced_total", "Kafka messages produced", ["service", "topic"]
)
DEAD_LETTERS = Counter(
    "socialdesk_deadletters_total", "Messages sent to the dead-letter topic", ["service", "reason"]
)
BATCH_SECONDS = Histogram(
    "socialdesk_batch_seconds",
    "Time to process, produce and commit one consumed batch",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "socialdesk_consumer_lag", "Messages behind the log end", ["service", "topic", "partition"]
)
PRODUCE_ERRORS = Counter(
    "socialdesk_produce_errors_total", "Failed attempts to produce (retried)", ["service"]
)
READY = Gauge("socialdesk_ready", "1 when the service is ready to do work", ["service"])
BUILD = Info("socialdesk_build", "Version of the running code")

TRIAGE_SCORED = Counter(
    "socialdesk_triage_scored_total", "Mentions graded by triage", ["priority", "intent"]
)
TRIAGE_SECONDS = Histogram(
    "socialdesk_triage_scoring_seconds",
    "Scoring time per mention (batch time divided by batch size)",
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1),
)
TRIAGE_MODEL = Info("socialdesk_triage_model", "The triage model in use")
TRIAGE_CONTEXT_MISSES = Counter(
    "socialdesk_triage_context_misses_total",
    "Batches scored without author context because Elasticsearch did not answer in time",
)

GC_PAUSE = Histogram(
    "socialdesk_gc_pause_seconds",
    "Python garbage-collection pauses by generation (every request on the loop waits)",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
_gc_started: list[float] = []


def _on_gc(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _gc_started[:] = [time.perf_counter()]
    elif _gc_started:
        GC_PAUSE.labels(str(info.get("generation", "?"))).observe(
            time.perf_counter() - _gc_started[0]
        )


def watch_gc() -> None:
    """Time every collection, so a latency spike can be told apart from a slow backend."""
    if _on_gc not in gc.callbacks:
        gc.callbacks.append(_on_gc)


def settle_heap() -> None:
    """Collect once, then move everything alive at start-up (modules, config, templates,
    models) out of the collector's view: full collections then walk only what requests
    create, so they stay short (measured on the console: docs/benchmarks.md)."""
    gc.collect()
    gc.freeze()
