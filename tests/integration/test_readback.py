"""socialdesk.readback on the test backend: a whole index past one search page (10,000
hits), each document exactly once, and a whole topic to its end; the checks in
socialdesk.verify are only as good as this read."""

from __future__ import annotations

from elasticsearch import Elasticsearch, helpers
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from socialdesk.readback import every_document, every_record, json_values

from .conftest import Backend

N = 12_345


def test_every_document_reads_past_one_page_exactly_once(noida: Backend, prefix: str) -> None:
    es = Elasticsearch(noida.es_url or "")
    index = prefix.rstrip(".") + "-readback"
    es.indices.create(index=index + "-v1", mappings={"properties": {"id": {"type": "keyword"}}})
    es.indices.put_alias(index=index + "-v1", name=index)
    try:
        helpers.bulk(
            es,
            (
                {"_index": index, "_id": f"d{n}", "_source": {"id": f"d{n}", "n": n}}
                for n in range(N)
            ),
            chunk_size=5000,
        )
        es.indices.refresh(index=index)
        ids = [d["id"] for d in every_document(es, index)]
        assert len(ids) == N
        assert set(ids) == {f"d{n}" for n in range(N)}
        some = [d["n"] for d in every_document(es, index, {"range": {"n": {"gte": N - 100}}})]
        assert sorted(some) == list(range(N - 100, N))
    finally:
        es.indices.delete(index=index + "-v1")
        es.close()


def test_every_record_reads_a_topic_to_its_end(noida: Backend, prefix: str) -> None:
    topic = prefix + "readback"
    admin = KafkaAdminClient(bootstrap_servers=noida.kafka)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    admin.close()
    producer = KafkaProducer(bootstrap_servers=noida.kafka, acks="all", linger_ms=5)
    for n in range(N):
        producer.send(topic, key=str(n % 7).encode(), value=b'{"n": %d}' % n)
    producer.send(topic, key=b"poison", value=b"\x00 not json")
    producer.flush()
    producer.close()
    records = every_record(noida.kafka, topic)
    assert len(records) == N + 1
    assert sorted(d["n"] for d in json_values(records)) == list(range(N))
