"""Topic registry: schemas/topics/<name>.yaml says key, partitions, retention, producers
and consumers. Code asks this module for names, never spells them itself."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MENTIONS_RAW = "mentions.raw"
MENTIONS_TRIAGED = "mentions.triaged"
POSTS_OUTBOUND = "posts.outbound"
ITEMS_COMMANDS = "items.commands"
ITEMS_EVENTS = "items.events"
SLA_EVENTS = "sla.events"
AUDIT_EVENTS = "audit.events"
DEADLETTER = "deadletter"
OPERATORS_PRESENCE = "operators.presence"
ASSIGN_CHANGELOG = "assign.items.changelog"
SLA_CHANGELOG = "sla.clocks.changelog"
METRICS_CHANGELOG = "metrics.rollups.changelog"
NOTIFICATIONS = "notifications"
NOTIFY_CHANGELOG = "notify.watch.changelog"
NOTIFY_DELIVERIES = "notify.deliveries.changelog"
OUTBOUND_DELIVERIES = "outbound.deliveries.changelog"
POSTS_COMMANDS = "posts.commands"
POSTS_EVENTS = "posts.events"
OUTBOUND_POSTS = "outbound.posts.changelog"


@dataclass(frozen=True)
class TopicSpec:
    name: str
    key: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)
    schema: str | None = None
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    personal: bool = False  # carries the public's personal data: sealed (socialdesk.vault)


def schemas_dir() -> Path:
    """SOCIALDESK_SCHEMAS_DIR, else schemas/ above this file (editable install), else
    ./schemas (the container image)."""
    env = os.environ.get("SOCIALDESK_SCHEMAS_DIR")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in [*here.parents, Path.cwd()]:
        if (parent / "schemas" / "topics").is_dir():
            return parent / "schemas"
    raise FileNotFoundError("schemas/topics not found; set SOCIALDESK_SCHEMAS_DIR")


def load_topic_specs(directory: Path | None = None) -> dict[str, TopicSpec]:
    directory = directory or schemas_dir() / "topics"
    specs: dict[str, TopicSpec] = {}
    for path in sorted(directory.glob("*.yaml")):
        doc: dict[str, Any] = yaml.safe_load(path.read_text())
        cfg = {str(k): str(v) for k, v in (doc.get("config") or {}).items()}
        specs[doc["topic"]] = TopicSpec(
            name=doc["topic"],
            key=doc["key"],
            partitions=int(doc["partitions"]),
            config=cfg,
            schema=doc.get("schema"),
            producers=tuple(doc.get("producers") or ()),
            consumers=tuple(doc.get("consumers") or ()),
            personal=bool(doc.get("personal", False)),
        )
    return specs
