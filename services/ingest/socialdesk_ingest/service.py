"""Plain functions for ingest: a request body in, mentions and dead letters out."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from socialdesk.events import DeadLetterOrigin
from socialdesk.jsonl import ParsedLine, parse_lines
from socialdesk.kafka import Output, dead_letter
from socialdesk.topics import MENTIONS_RAW


@dataclass
class IngestPlan:
    outputs: list[Output] = field(default_factory=list)
    accepted: int = 0
    rejected: list[dict[str, object]] = field(default_factory=list)


def split_body(body: bytes) -> list[bytes]:
    """A JSON array, a single JSON object, or JSONL: always a list of lines to parse."""
    stripped = body.lstrip()
    if stripped.startswith(b"["):
        try:
            data = json.loads(stripped)
        except ValueError:
            return body.splitlines()
        if isinstance(data, list):
            return [json.dumps(x).encode() for x in data]
    return body.splitlines()


def plan_ingest(lines: list[bytes], source: str) -> IngestPlan:
    plan = IngestPlan()
    parsed: ParsedLine
    for parsed in parse_lines(lines):
        if parsed.mention is not None:
            plan.outputs.append(Output(MENTIONS_RAW, parsed.mention.id, parsed.mention))
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
