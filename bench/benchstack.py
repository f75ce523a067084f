"""A noida-db of a benchmark's own: started in a fresh temporary folder, with a topic and
index prefix no other run shares, so figures never mix with another run's data."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

from socialdesk.settings import BaseServiceSettings
from socialdesk_tools.stack import Stack, StackPorts, free_port


@dataclass
class PrivateStack:
    root: Path
    stack: Stack
    prefix: str  # without the trailing dot: index names take it as it is
    settings: BaseServiceSettings


def private_stack(name: str, short: str) -> PrivateStack:
    """Start noida-db under a temporary folder named after the bench (the caller stops
    it: stack.stop_noida())."""
    root = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    stack = Stack(root, ports=StackPorts.free())
    stack.start_noida()
    prefix = f"{short}{free_port()}"
    settings = BaseServiceSettings(
        kafka_bootstrap=stack.kafka,
        topic_prefix=prefix + ".",
        index_prefix=prefix,
        elasticsearch_url=stack.es_url,
    )
    return PrivateStack(root, stack, prefix, settings)
