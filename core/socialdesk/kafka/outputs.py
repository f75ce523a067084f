"""What a processing step returns: records to produce, dead letters for the messages it
cannot process, and the per-message helper that turns failures into dead letters."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from socialdesk.events import DeadLetter, DeadLetterOrigin, utcnow
from socialdesk.jsonl import describe_error
from socialdesk.metrics import DEAD_LETTERS
from socialdesk.topics import DEADLETTER

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Output:
    """A record to produce: logical topic name, key, and a model or ready JSON value."""

    topic: str
    key: str | None
    value: BaseModel | dict[str, Any] | bytes | None
    partition: int | None = None
    # The member of the public it is about (author key), when the value does not say:
    # the key a personal topic's record is sealed under (socialdesk.kafka.sealing).
    subject: str | None = None


@dataclass(frozen=True)
class Meta:
    topic: str
    partition: int
    offset: int
    key: str | None
    timestamp_ms: int
    kid: str | None = None  # the author key it was sealed under, if it was


@dataclass
class BatchResult:
    """Records to produce; state changes reach their changelog through the stores."""

    outputs: list[Output] = field(default_factory=list)


def encode(value: BaseModel | dict[str, Any] | bytes | None) -> bytes | None:
    if value is None or isinstance(value, bytes):
        return value
    if isinstance(value, BaseModel):
        return value.model_dump_json().encode()
    return json.dumps(value, separators=(",", ":"), default=str).encode()


def dead_letter(
    service: str,
    reason: str,
    error: str | None,
    payload: bytes | str,
    origin: DeadLetterOrigin,
    subject: str | None = None,
) -> Output:
    text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
    dl = DeadLetter(
        reason=reason,
        error=(error or "")[:2000] or None,
        service=service,
        origin=origin,
        failed_at=utcnow(),
        payload=text[:1_000_000],
    )
    DEAD_LETTERS.labels(service, reason).inc()
    return Output(DEADLETTER, origin.key, dl, subject=subject)


def origin_of(meta: Meta) -> DeadLetterOrigin:
    return DeadLetterOrigin(
        topic=meta.topic, partition=meta.partition, offset=meta.offset, key=meta.key
    )


class PoisonMessage(Exception):
    """Raised by a processing function for one message it cannot process."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def process_each(
    service: str,
    batch: list[tuple[Any, Meta]],
    fn: Callable[[Any, Meta], list[Output]],
) -> list[Output]:
    """Apply a plain per-message function; a message it fails on becomes a dead letter
    with the reason and its origin, and the rest of the batch goes on."""
    outputs: list[Output] = []
    for value, meta in batch:
        try:
            outputs.extend(fn(value, meta))
        except PoisonMessage as exc:
            outputs.append(dead_for(service, exc.reason, exc.detail, value, meta))
        except Exception as exc:
            log.exception("processing failed", extra={"topic": meta.topic, "offset": meta.offset})
            outputs.append(dead_for(service, "processing_error", repr(exc), value, meta))
    return outputs


def dead_for(service: str, reason: str, detail: str, value: Any, meta: Meta) -> Output:
    """The dead letter for a decoded message (its JSON form is what is kept)."""
    payload = json.dumps(_jsonable(value), default=str)
    return dead_letter(service, reason, detail, payload, origin_of(meta), meta.kid)


def short_error(exc: Exception) -> str:
    """A validation error in a line: the first few fields and what is wrong with them."""
    return describe_error(exc) if isinstance(exc, ValidationError) else str(exc)[:500]


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value
