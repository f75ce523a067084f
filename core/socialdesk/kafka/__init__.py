"""The streaming kit, one small module per step (as a snuba consumer is composed):

- client: options, TLS, the consumer and producer factories;
- aiokafka_patches: the aiokafka internals we patch, applied by the factories;
- admin: topics and consumer groups;
- outputs: records to produce, dead letters, the per-message helper;
- processor: what a service supplies (the Processor protocol and its defaults);
- runtime: the batch loop; producer: producing outside it;
- reading: read partitions to their end, follow them, reconnect with backoff.

The names services use are importable from here.
"""

from socialdesk.kafka.admin import ensure_topics, evict_stale_members
from socialdesk.kafka.client import (
    common_client_options,
    make_consumer,
    make_producer,
    start_reader,
    sync_client_options,
    topic_name,
)
from socialdesk.kafka.outputs import (
    BatchResult,
    Meta,
    Output,
    PoisonMessage,
    dead_letter,
    encode,
    origin_of,
    process_each,
)
from socialdesk.kafka.processor import Processor, StateStore, StreamProcessor
from socialdesk.kafka.producer import (
    DurableWriter,
    ProducerHolder,
    Stopped,
    produce_and_wait,
    send_output,
)
from socialdesk.kafka.runtime import KafkaRuntime

__all__ = [
    "BatchResult",
    "DurableWriter",
    "KafkaRuntime",
    "Meta",
    "Output",
    "PoisonMessage",
    "Processor",
    "ProducerHolder",
    "StateStore",
    "Stopped",
    "StreamProcessor",
    "common_client_options",
    "dead_letter",
    "encode",
    "ensure_topics",
    "evict_stale_members",
    "make_consumer",
    "make_producer",
    "origin_of",
    "process_each",
    "produce_and_wait",
    "send_output",
    "start_reader",
    "sync_client_options",
    "topic_name",
]
