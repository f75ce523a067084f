"""The local stack's noida-db layouts (SOCIALDESK_LOCAL_KAFKA, docs/capacity.md): with
Kafka and Elasticsearch in two noida-db processes, what a developer had before
`make down` is all there after `make run`: records on an event topic and a compacted
changelog, a consumer group's committed position, and the indexed documents."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from elasticsearch import Elasticsearch

from socialdesk.kafka.client import topic_name
from socialdesk_tools.stack import LocalKafka, Stack, StackPorts, port_open

from .conftest import BACKEND
from .helpers import create_topics, produce, read_all, settings_for


async def _commit(kafka: str, topic: str, group: str, offset: int) -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): offset})
    finally:
        await consumer.stop()


async def _committed(kafka: str, topic: str, group: str) -> int | None:
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=group)
    await consumer.start()
    try:
        return await consumer.committed(TopicPartition(topic, 0))
    finally:
        await consumer.stop()


def _documents(es_url: str, index: str) -> dict[str, dict[str, object]]:
    es = Elasticsearch(es_url)
    try:
        es.indices.refresh(index=index)
        hits = es.search(index=index, size=100)["hits"]["hits"]
        return {h["_id"]: h["_source"] for h in hits}
    finally:
        es.close()


@pytest.mark.timeout(300)
async def test_split_stack_keeps_records_groups_and_documents_across_down_and_up(
    tmp_path: Path,
) -> None:
    if BACKEND == "containers":
        pytest.fail("this test starts and stops noida-db itself; run it locally")
    stack = Stack(tmp_path, ports=StackPorts.free(), local_kafka=LocalKafka.NOIDA_SPLIT)
    stack.start_noida()
    try:
        prefix = "keep."
        settings = settings_for(stack.kafka, prefix, stack.es_url)
        create_topics(settings)
        raw = topic_name(settings, "mentions.raw")
        changelog = topic_name(settings, "assign.items.changelog")
        await produce(stack.kafka, raw, [(f"m{i}", b'{"n": %d}' % i) for i in range(50)])
        await produce(stack.kafka, changelog, [("itm_a", b'{"v": 1}'), ("itm_a", b'{"v": 2}')])
        await _commit(stack.kafka, raw, "keep-triage", 30)
        es = Elasticsearch(stack.es_url)
        try:
            for i in range(20):
                es.index(index="keep-items", id=f"itm_{i}", document={"status": "open", "n": i})
        finally:
            es.close()
        before_docs = _documents(stack.es_url, "keep-items")
        before_raw = sorted(await read_all(stack.kafka, raw), key=str)

        stack.stop_noida()  # what `make down` does to the engines
        kafka_files = {p.name for p in stack.noida_dir_of("kafka").iterdir()}
        assert not any("elastic" in name for name in kafka_files), kafka_files
        stack.start_noida()  # and `make run`

        assert _documents(stack.es_url, "keep-items") == before_docs
        assert len(before_docs) == 20
        assert sorted(await read_all(stack.kafka, raw), key=str) == before_raw
        assert len(before_raw) == 50
        latest = dict(await read_all(stack.kafka, changelog))
        assert latest["itm_a"] == {"v": 2}
        assert await _committed(stack.kafka, raw, "keep-triage") == 30
    finally:
        stack.stop_noida()


def test_stop_noida_stops_a_split_stack_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`socialdesk down` in a shell without SOCIALDESK_LOCAL_KAFKA still stops both."""
    if BACKEND == "containers":
        pytest.fail("this test starts noida-db itself; run it locally")
    ports = StackPorts.free()
    Stack(tmp_path, ports=ports, local_kafka=LocalKafka.NOIDA_SPLIT).start_noida()
    monkeypatch.delenv("SOCIALDESK_LOCAL_KAFKA", raising=False)
    plain = Stack(tmp_path, ports=ports)
    assert plain.local_kafka == LocalKafka.NOIDA
    plain.stop_noida()
    assert not port_open(ports.kafka)
    assert not port_open(ports.elasticsearch)
