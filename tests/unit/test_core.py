"""Core library behaviour a user or operator would notice: bad JSONL lines reported
with their numbers and dead-lettered, settings refusing default secrets, logs without
personal data, and force isolation built into every console query."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
from pydantic import ValidationError

from socialdesk.events import DeadLetter, Mention
from socialdesk.logs import JsonFormatter
from socialdesk.settings import ConsoleSettings, IngestSettings
from socialdesk.topics import DEADLETTER, MENTIONS_RAW, schemas_dir
from socialdesk_console.auth import User, dummy_hash, hash_password, verify_password
from socialdesk_console.queries import scope_filter
from socialdesk_ingest.service import plan_ingest, split_body
from tests.unit.inbox import inbox_query

EXAMPLE = (schemas_dir() / "examples/mentions.raw/1/x-public-mention-knife.json").read_bytes()


def test_jsonl_bad_lines_are_numbered_and_dead_lettered_while_the_rest_flow() -> None:
    good = json.dumps(json.loads(EXAMPLE)).encode()
    body = b"\n".join([good, b"{not json", b"", b'{"id": "x:1"}', good.replace(b"1859", b"1860")])
    plan = plan_ingest(split_body(body), "file:demo.jsonl")
    assert plan.accepted == 2
    assert [r["line"] for r in plan.rejected] == [2, 4]
    assert "author: Field required" in str(plan.rejected[1]["reason"])
    topics = [o.topic for o in plan.outputs]
    assert topics.count(MENTIONS_RAW) == 2 and topics.count(DEADLETTER) == 2
    dl = next(o.value for o in plan.outputs if o.topic == DEADLETTER)
    assert isinstance(dl, DeadLetter)
    assert dl.origin.source == "file:demo.jsonl:line 2" and dl.payload == "{not json"


def test_json_array_body_is_split_into_mentions() -> None:
    one = json.loads(EXAMPLE)
    plan = plan_ingest(split_body(json.dumps([one, one]).encode()), "http")
    assert plan.accepted == 2


def test_production_refuses_the_development_secrets() -> None:
    with pytest.raises(ValidationError, match="SOCIALDESK_SESSION_SECRET"):
        ConsoleSettings(environment="production", cookie_secure=True)
    with pytest.raises(ValidationError, match="COOKIE_SECURE"):
        ConsoleSettings(environment="production", session_secret="x" * 40)
    with pytest.raises(ValidationError, match="INGEST_API_KEYS"):
        IngestSettings(environment="production")
    ok = ConsoleSettings(environment="production", session_secret="x" * 40, cookie_secure=True)
    assert ok.cookie_secure


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOCIALDESK_KAFKA_BOOTSTRAP", "k1:9093,k2:9093")
    monkeypatch.setenv("SOCIALDESK_INGEST_API_KEYS", "meta:abc,tiktok:def")
    s = IngestSettings()
    assert s.kafka_bootstrap == "k1:9093,k2:9093"
    assert s.api_keys() == {"abc": "meta", "def": "tiktok"}


def test_logs_are_json_and_never_carry_personal_data() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter("triage"))
    log = logging.getLogger("test.redaction")
    log.addHandler(handler)
    log.propagate = False
    log.warning("scored", extra={"text": "my address is 1 Acacia Ave", "item_id": "itm_1"})
    out = json.loads(stream.getvalue())
    assert out["service"] == "triage" and out["item_id"] == "itm_1"
    assert out["text"] == "[redacted]" and "Acacia" not in stream.getvalue()


def test_passwords_are_hashed_and_an_unknown_user_costs_the_same() -> None:
    h = hash_password("correct horse", iterations=50_000)
    assert "correct horse" not in h
    assert verify_password("correct horse", h) and not verify_password("wrong", h)
    dummy = dummy_hash([h, hash_password("x", iterations=50_000)])
    assert dummy.split("$")[1] == "50000"  # the iteration count real accounts use
    assert not verify_password("correct horse", dummy)


def test_every_console_query_is_limited_to_the_users_force() -> None:
    op = User("op", "Op", "kent", "operator", ("digital-desk",), "c")
    nat = User("nv", "NV", None, "national_viewer", (), "c")
    assert scope_filter(op) == [{"term": {"force": "kent"}}]
    assert scope_filter(nat) == []
    for view in ("all_open", "unassigned", "mine", "team"):
        q = inbox_query(op, view, {"priority": "P1"})
        assert {"term": {"force": "kent"}} in q["bool"]["filter"]
        assert {"term": {"priority": "P1"}} in q["bool"]["filter"]


def test_dm_threads_by_author_and_replies_by_conversation() -> None:
    m = Mention.model_validate_json(EXAMPLE)
    assert m.thread_key() == "x:thread:1859912345678901234"
    dm = m.model_copy(update={"channel": "direct_message"})
    assert dm.thread_key().startswith("x:dm:merseypolice:")


def test_cli_refuses_bad_config_naming_file_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from socialdesk_tools.cli import main

    cfg = tmp_path / "config"
    shutil.copytree(schemas_dir().parent / "config", cfg)
    path = cfg / "forces" / "merseyside.yaml"
    path.write_text(
        path.read_text().replace("timezone: Europe/London", "timezone: Europe/Londn", 1)
    )
    assert main(["config-check", "--config-dir", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "merseyside.yaml" in err and "calendars.always.timezone" in err
    assert "unknown time zone 'Europe/Londn'" in err


def test_gc_pauses_are_timed_once_watched() -> None:
    import gc

    from socialdesk.metrics import GC_PAUSE, watch_gc

    def count() -> float:
        return sum(
            s.value
            for m in GC_PAUSE.collect()
            for s in m.samples
            if s.name.endswith("_count") and s.labels["generation"] == "2"
        )

    watch_gc()
    watch_gc()  # idempotent: one callback
    before = count()
    gc.collect()
    assert count() == before + 1
