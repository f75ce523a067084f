"""Plain functions for ingest: a request body in, mentions, outbound posts and dead
letters out (as Outputs for the Kafka side to produce)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from pydantic import ValidationError

from socialdesk.events import DeadLetterOrigin, OutboundPost
from socialdesk.jsonl import ParsedLine, describe_error, parse_lines
from socialdesk.kafka import Output, dead_letter
from socialdesk.topics import MENTIONS_RAW, POSTS_OUTBOUND
from socialdesk_ingest.normalise import Normalised, as_outbound


@dataclass
class IngestPlan:
    outputs: list[Output] = field(default_factory=list)
    accepted: int = 0
    outbound: int = 0
    skipped: list[str] = field(default_factory=list)
    rejected: list[dict[str, object]] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "accepted": self.accepted,
            "outbound": self.outbound,
            "skipped": len(self.skipped),
            "rejected": self.rejected,
        }


def split_body(body: bytes) -> list[bytes]:
    """A JSON array, a single (even pretty-printed) JSON object, or JSONL: always a list
    of lines to parse. A multi-line body whose first line is not a JSON value on its own
    is one (pretty-printed) object, malformed or not: one entry, one dead letter."""
    stripped = body.lstrip()
    if stripped.startswith(b"{") and b"\n" in stripped.rstrip():
        try:
            return [json.dumps(json.loads(stripped)).encode()]
        except ValueError:
            first = stripped.split(b"\n", 1)[0]
            try:
                json.loads(first)
            except ValueError:
                return [stripped.rstrip()]  # one malformed pretty-printed object
            # else JSONL: each line its own object
    if stripped.startswith(b"["):
        try:
            data = json.loads(stripped)
        except ValueError:
            return body.splitlines()
        if isinstance(data, list):
            return [json.dumps(x).encode() for x in data]
    return body.splitlines()


def plan_ingest(lines: list[bytes], source: str) -> IngestPlan:
    """Mentions in the socialdesk shape. One the force wrote itself (author handle = the
    receiving account's handle) is an outbound post, never an inbox item."""
    plan = IngestPlan()
    parsed: ParsedLine
    for parsed in parse_lines(lines):
        m = parsed.mention
        if m is not None:
            if m.author.handle and m.author.handle.lower().lstrip("@") == (
                m.force_account.handle.lower().lstrip("@")
            ):
                plan.outputs.append(Output(POSTS_OUTBOUND, m.id, as_outbound(m)))
                plan.outbound += 1
            else:
                plan.outputs.append(Output(MENTIONS_RAW, m.id, m))
                plan.accepted += 1
        else:
            plan.rejected.append({"line": parsed.line_no, "reason": parsed.error})
            plan.outputs.append(
                dead_letter(
                    "ingest",
                    "invalid_mention",
                    parsed.error,
                    parsed.raw,
                    DeadLetterOrigin(source=f"{source}:line {parsed.line_no}"),
                )
            )
    return plan


def plan_outbound(lines: list[bytes], source: str) -> IngestPlan:
    """What a force published, from a source without webhooks (POST /v1/outbound)."""
    plan = IngestPlan()
    for n, raw in enumerate(lines, 1):
        raw = raw.strip()
        if not raw:
            continue
        try:
            post = OutboundPost.model_validate_json(raw)
        except ValidationError as exc:
            error = describe_error(exc)
            plan.rejected.append({"line": n, "reason": error})
            plan.outputs.append(
                dead_letter(
                    "ingest",
                    "invalid_outbound_post",
                    error,
                    raw,
                    DeadLetterOrigin(source=f"{source}:line {n}"),
                )
            )
            continue
        plan.outputs.append(Output(POSTS_OUTBOUND, post.id, post))
        plan.outbound += 1
    return plan


def plan_normalised(result: Normalised, source: str) -> IngestPlan:
    """A platform delivery, normalised: events we could not read become dead letters
    (with the event itself as payload) while the rest of the delivery goes on."""
    plan = IngestPlan(skipped=list(result.skipped))
    for m in result.mentions:
        plan.outputs.append(Output(MENTIONS_RAW, m.id, m))
        plan.accepted += 1
    for post in result.outbound:
        plan.outputs.append(Output(POSTS_OUTBOUND, post.id, post))
        plan.outbound += 1
    for reason, event, where in result.unknown:
        plan.rejected.append({"event": where, "reason": reason})
        plan.outputs.append(
            dead_letter(
                "ingest",
                "unsupported_event",
                reason,
                json.dumps(event, default=str),
                DeadLetterOrigin(source=source),
            )
        )
    return plan


def plan_rejected_body(body: bytes, reason: str, source: str) -> IngestPlan:
    """A body we cannot read at all: kept whole on the dead-letter topic."""
    plan = IngestPlan(rejected=[{"reason": reason}])
    plan.outputs.append(
        dead_letter("ingest", "unknown_payload", reason, body, DeadLetterOrigin(source=source))
    )
    return plan
