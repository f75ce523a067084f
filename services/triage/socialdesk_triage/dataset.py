"""The labelled data: shipped examples (data/triage/) plus operators' corrections.

The held-out split is a pure function of each example's id (a hash), so it is stable
as lines are added and training can never see it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from socialdesk.taxonomy import Channel, Flag, Intent, Platform, Priority

HELD_OUT_PERCENT = 25
LABELLED_FLAGS = tuple(f for f in Flag if f != Flag.welsh_language)
"""Flags the classifier learns; welsh_language comes from language detection."""


class DatasetError(ValueError):
    """A labelled line that cannot be used, named by file and line."""


@dataclass(frozen=True, slots=True)
class Example:
    id: str
    text: str
    priority: Priority
    intent: Intent
    flags: tuple[Flag, ...]
    language: str = "en"
    platform: str = "other"
    channel: str = "public_mention"
    source: str = "shipped"

    @property
    def held_out(self) -> bool:
        return is_held_out(self.id)


def is_held_out(example_id: str) -> bool:
    digest = hashlib.sha256(example_id.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100 < HELD_OUT_PERCENT


def parse_example(obj: dict[str, Any], where: str, source: str = "shipped") -> Example:
    try:
        text = obj["text"]
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(f"{where}: field 'text' is empty")
        platform = str(obj.get("platform", "other"))
        Platform(platform)
        channel = str(obj.get("channel", "public_mention"))
        Channel(channel)
        return Example(
            id=str(obj["id"]),
            text=text,
            priority=Priority(obj["priority"]),
            intent=Intent(obj["intent"]),
            flags=tuple(sorted({Flag(f) for f in obj.get("flags", [])}, key=lambda f: f.value)),
            language=str(obj.get("language") or "en"),
            platform=platform,
            channel=channel,
            source=source,
        )
    except KeyError as exc:
        raise DatasetError(f"{where}: missing field {exc.args[0]!r}") from exc
    except ValueError as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(f"{where}: {exc}") from exc


def load_jsonl(path: Path, source: str = "shipped") -> list[Example]:
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path}:{n}: not JSON ({exc.msg})") from exc
            out.append(parse_example(obj, f"{path}:{n}", source))
    return out


def load_shipped(data_dir: Path) -> list[Example]:
    """Every mentions-*.jsonl under data_dir; ids must be unique across files."""
    files = sorted(data_dir.glob("mentions-*.jsonl"))
    if not files:
        raise DatasetError(f"{data_dir}: no mentions-*.jsonl files")
    examples: list[Example] = []
    seen: set[str] = set()
    for path in files:
        for ex in load_jsonl(path):
            if ex.id in seen:
                raise DatasetError(f"{path}: duplicate id {ex.id!r}")
            seen.add(ex.id)
            examples.append(ex)
    return examples


def split(examples: Iterable[Example]) -> tuple[list[Example], list[Example]]:
    """(train, held_out). Corrections always train: they have no fixed id scheme."""
    train: list[Example] = []
    test: list[Example] = []
    for ex in examples:
        (test if ex.source == "shipped" and ex.held_out else train).append(ex)
    return train, test


def merge_corrections(shipped: Sequence[Example], corrections: Sequence[Example]) -> list[Example]:
    """Corrections are added; one that relabels a held-out text does not leak it."""
    held_texts = {ex.text.strip().lower() for ex in shipped if ex.held_out}
    return [*shipped, *(c for c in corrections if c.text.strip().lower() not in held_texts)]


def fingerprint(examples: Sequence[Example]) -> str:
    """Identifies the training data a model was built from."""
    h = hashlib.sha256()
    for ex in sorted(examples, key=lambda e: e.id):
        h.update(
            json.dumps(
                [ex.id, ex.text, ex.priority, ex.intent, ex.flags], ensure_ascii=False
            ).encode()
        )
    return h.hexdigest()[:10]
