"""The integration tests start their own stack: noida-db (Kafka and Elasticsearch
protocols) and Tansu (a second, independent Kafka broker). With
SOCIALDESK_TEST_BACKEND=containers and a Docker engine, real Kafka (KRaft) and
Elasticsearch come from testcontainers instead, and the same tests run unchanged; the few
that need the local stack itself say why (tests/conftest.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from socialdesk_tools.stack import Stack, StackPorts, tansu

BACKEND = os.environ.get("SOCIALDESK_TEST_BACKEND", "local")


@dataclass
class Backend:
    kafka: str
    es_url: str | None
    name: str
    stack: Stack | None = None


@pytest.fixture(scope="session")
def noida(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    if BACKEND == "containers":
        yield from _containers()
        return
    root = tmp_path_factory.mktemp("stack")
    stack = Stack(Path(root), ports=StackPorts.free())
    stack.start_noida()
    try:
        yield Backend(stack.kafka, stack.es_url, "noida", stack)
    finally:
        stack.stop_noida()


# The supported matrix (README, deploy/helm/socialdesk/README.md): Apache Kafka 3.9 in
# KRaft mode (cp-kafka 7.9 is Apache Kafka 3.9) and Elasticsearch 8.
KAFKA_IMAGE = "confluentinc/cp-kafka:7.9.0"
ELASTICSEARCH_IMAGE = "docker.elastic.co/elasticsearch/elasticsearch:8.17.0"


def _containers() -> Iterator[Backend]:
    from testcontainers.community.elasticsearch import ElasticSearchContainer
    from testcontainers.community.kafka import KafkaContainer

    with (
        KafkaContainer(KAFKA_IMAGE).with_kraft() as kafka,
        ElasticSearchContainer(ELASTICSEARCH_IMAGE, mem_limit="2G") as es,
    ):
        es_url = f"http://{es.get_container_host_ip()}:{es.get_exposed_port(es.port)}"
        yield Backend(kafka.get_bootstrap_server(), es_url, "containers")


@pytest.fixture(scope="session")
def tansu_broker() -> Iterator[Backend]:
    if BACKEND == "containers":
        pytest.fail("Tansu runs only with the local backend")  # never silently skipped
    with tansu() as addr:
        yield Backend(addr, None, "tansu")


BROKERS = ["noida"] if BACKEND == "containers" else ["noida", "tansu"]


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest) -> Backend:
    """Each Kafka test runs against both independent brokers."""
    backend: Backend = request.getfixturevalue(
        "noida" if request.param == "noida" else "tansu_broker"
    )
    return backend


@pytest.fixture
def prefix() -> str:
    """A fresh topic, group and index prefix per test: tests never see each other's data."""
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture(scope="session")
def repo() -> Path:
    return Path(__file__).resolve().parents[2]
