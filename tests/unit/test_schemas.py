"""Every topic has a schema and examples; every example validates against the JSON
Schema and round-trips through its Python model; schemas and models never drift."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from socialdesk.schemas import TOPIC_MODELS, json_schema
from socialdesk.topics import load_topic_specs, schemas_dir

SCHEMAS = schemas_dir()
EXAMPLES = sorted((SCHEMAS / "examples").glob("*/1/*.json"))


def _id(p: Path) -> str:
    return f"{p.parent.parent.name}/{p.name}"


def test_every_payload_topic_has_schema_and_examples() -> None:
    specs = load_topic_specs()
    assert set(TOPIC_MODELS) <= set(specs)
    for name, spec in specs.items():
        if spec.schema is None:
            assert name.endswith(".changelog"), f"{name} has no schema"
            continue
        assert (SCHEMAS / spec.schema).is_file(), spec.schema
        assert list((SCHEMAS / "examples" / name / "1").glob("*.json")), f"{name}: no examples"
        assert spec.producers and spec.consumers, f"{name}: producers/consumers missing"


@pytest.mark.parametrize("topic", sorted(TOPIC_MODELS))
def test_committed_schema_matches_model(topic: str) -> None:
    committed = json.loads((SCHEMAS / f"{topic}.v1.schema.json").read_text())
    assert committed == json.loads(json.dumps(json_schema(topic))), (
        "schema drifted from the model: run `socialdesk schemas`"
    )


@pytest.mark.parametrize("path", EXAMPLES, ids=_id)
def test_example_validates_and_round_trips(path: Path) -> None:
    topic = path.parent.parent.name
    data = json.loads(path.read_text())
    schema = json.loads((SCHEMAS / f"{topic}.v1.schema.json").read_text())
    jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(data)
    model = TOPIC_MODELS[topic].model_validate(data)
    again = model.model_dump(mode="json")
    jsonschema.Draft202012Validator(schema).validate(again)
    assert TOPIC_MODELS[topic].model_validate(again) == model


def test_schema_rejects_what_the_model_rejects() -> None:
    schema = json.loads((SCHEMAS / "mentions.raw.v1.schema.json").read_text())
    bad = json.loads(next(p for p in EXAMPLES if "mentions.raw" in str(p)).read_text())
    bad.pop("author")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(bad)
