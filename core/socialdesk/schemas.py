"""Topic -> payload model, and the JSON Schemas in schemas/ generated from the models.

`socialdesk schemas export` rewrites schemas/*.v1.schema.json; a test fails if the
committed schemas and the models ever disagree."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from socialdesk import events, publishing, topics

TOPIC_MODELS: dict[str, type[BaseModel]] = {
    topics.MENTIONS_RAW: events.Mention,
    topics.MENTIONS_TRIAGED: events.TriagedMention,
    topics.ITEMS_COMMANDS: events.ItemCommand,
    topics.ITEMS_EVENTS: events.ItemEvent,
    topics.SLA_EVENTS: events.SlaEvent,
    topics.AUDIT_EVENTS: events.AuditEvent,
    topics.DEADLETTER: events.DeadLetter,
    topics.OPERATORS_PRESENCE: events.OperatorPresence,
    topics.POSTS_OUTBOUND: events.OutboundPost,
    topics.NOTIFICATIONS: events.Notification,
    topics.POSTS_COMMANDS: publishing.PostCommand,
    topics.POSTS_EVENTS: publishing.PostEvent,
}
# Payloads that leave the platform by HTTP rather than a topic: the control-room handover
# and its callback (schemas/control-room/, docs/control-room.md).
HTTP_MODELS: dict[str, type[BaseModel]] = {
    "handover": events.HandoverPayload,
    "handover-callback": events.HandoverCallback,
}


def json_schema(topic: str) -> dict[str, Any]:
    model = TOPIC_MODELS[topic]
    schema = model.model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://socialdesk.example/schemas/{topic}.v1.schema.json"
    return schema


def http_schema(name: str) -> dict[str, Any]:
    schema = HTTP_MODELS[name].model_json_schema(mode="serialization")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://socialdesk.example/schemas/control-room/{name}.v1.schema.json"
    return schema


def export(directory: Path) -> list[Path]:
    written = []
    for topic in TOPIC_MODELS:
        path = directory / f"{topic}.v1.schema.json"
        path.write_text(json.dumps(json_schema(topic), indent=2, sort_keys=True) + "\n")
        written.append(path)
    (directory / "control-room").mkdir(exist_ok=True)
    for name in HTTP_MODELS:
        path = directory / "control-room" / f"{name}.v1.schema.json"
        path.write_text(json.dumps(http_schema(name), indent=2, sort_keys=True) + "\n")
        written.append(path)
    return written
