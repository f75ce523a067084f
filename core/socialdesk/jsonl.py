"""Reading mentions from JSONL: each line parsed on its own, so one bad line is reported
with its number and reason and the rest still flow."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from pydantic import ValidationError

from socialdesk.events import Mention


@dataclass(frozen=True)
class ParsedLine:
    line_no: int
    raw: bytes
    mention: Mention | None
    error: str | None


def describe_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err["loc"]) or "(root)"
            parts.append(f"{loc}: {err['msg']}")
        return "; ".join(parts)
    return str(exc)[:300]


def parse_line(line_no: int, raw: bytes) -> ParsedLine:
    try:
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("a line must be one JSON object")
        return ParsedLine(line_no, raw, Mention.model_validate(data), None)
    except (ValueError, ValidationError) as exc:
        return ParsedLine(line_no, raw, None, describe_error(exc))


def parse_lines(lines: Iterable[bytes], start: int = 1) -> Iterator[ParsedLine]:
    """Blank lines are skipped; line numbers count every line, as an editor would."""
    for n, raw in enumerate(lines, start):
        stripped = raw.strip()
        if stripped:
            yield parse_line(n, stripped)
