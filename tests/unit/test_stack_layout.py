"""SOCIALDESK_LOCAL_KAFKA picks the local stack's noida-db layout (docs/capacity.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from socialdesk_tools.stack import LocalKafka, Stack


def test_a_misspelt_layout_stops_the_stack_with_the_choices(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCIALDESK_LOCAL_KAFKA", "tansu-pg")
    with pytest.raises(SystemExit, match="choose one of noida, noida-split"):
        Stack(Path("/nonexistent"))


def test_the_split_layout_keeps_each_engine_in_its_own_data_dir(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SOCIALDESK_LOCAL_KAFKA", "noida-split")
    stack = Stack(Path("/data"))
    assert stack.local_kafka == LocalKafka.NOIDA_SPLIT
    assert stack.noida_dir_of("kafka") == Path("/data/noida/kafka")
    assert stack.noida_dir_of("elasticsearch") == Path("/data/noida/elasticsearch")
    monkeypatch.delenv("SOCIALDESK_LOCAL_KAFKA")
    assert Stack(Path("/data")).noida_dir_of("kafka") == Path("/data/noida")
