"""Admin calls (kafka-python): create missing topics, evict a group's stale members."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from socialdesk.kafka.client import sync_client_options, topic_name
from socialdesk.settings import BaseServiceSettings
from socialdesk.topics import TopicSpec

log = logging.getLogger(__name__)


def _admin(settings: BaseServiceSettings) -> Any:
    from kafka.admin import KafkaAdminClient

    opts = sync_client_options(settings)
    return KafkaAdminClient(client_id="socialdesk-admin", request_timeout_ms=15000, **opts)


def ensure_topics(settings: BaseServiceSettings, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that are missing, with their partitions and config. Idempotent."""
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = _admin(settings)
    try:
        existing = set(admin.list_topics())
        wanted = [
            NewTopic(
                topic_name(settings, s.name),
                num_partitions=s.partitions,
                replication_factor=-1,
                topic_configs=s.config,
            )
            for s in specs
            if topic_name(settings, s.name) not in existing
        ]
        created: list[str] = []
        for topic in wanted:
            try:
                admin.create_topics([topic])
                created.append(topic.name)
            except TopicAlreadyExistsError:
                pass
            except Exception:
                # Some brokers refuse replication_factor=-1 (broker default); retry with 1.
                topic.replication_factor = 1
                try:
                    admin.create_topics([topic])
                    created.append(topic.name)
                except TopicAlreadyExistsError:
                    pass
        return created
    finally:
        admin.close()


def evict_stale_members(settings: BaseServiceSettings, group_id: str) -> int:
    """Remove every member of a group before this (single) instance joins it.

    Only for brokers that never expire dead members (noida-db); see the setting's note.
    """
    from kafka.admin import MemberToRemove

    admin = _admin(settings)
    try:
        described = admin.describe_groups([group_id]).get(group_id) or {}
        members = [m["member_id"] for m in described.get("members") or []]
        if members:
            admin.remove_group_members(group_id, [MemberToRemove(member_id=m) for m in members])
            log.warning("evicted stale group members", extra={"group": group_id, "n": len(members)})
        return len(members)
    except Exception as exc:  # a group that doesn't exist yet is fine
        log.info("no stale members evicted", extra={"group": group_id, "why": repr(exc)})
        return 0
    finally:
        admin.close()
