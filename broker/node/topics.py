"""Topic layout of the corridor: one inbox and one dead-letter topic per node, one key directory."""

from __future__ import annotations

from collections.abc import Iterable

from broker.node.config import TopicSettings
from broker.transport.base import TopicSpec

KEYS_TOPIC = "customs.v1.keys"


def inbox_topic(node_id: str) -> str:
    return f"customs.v1.inbox.{node_id}"


def dead_letter_topic(node_id: str) -> str:
    return f"customs.v1.dlq.{node_id}"


def corridor_topics(node_ids: Iterable[str], settings: TopicSettings) -> list[TopicSpec]:
    """Every node's inbox and dead-letter topic, and the compacted key directory."""
    durable = {"min.insync.replicas": str(settings.min_insync_replicas)}
    specs = [
        TopicSpec(
            KEYS_TOPIC,
            1,  # one partition: announcements are applied in the order the CAs made them
            settings.replication_factor,
            {**durable, "cleanup.policy": "compact"},
        )
    ]
    for node_id in sorted(set(node_ids)):
        for name in (inbox_topic(node_id), dead_letter_topic(node_id)):
            specs.append(TopicSpec(name, settings.partitions, settings.replication_factor, durable))
    return specs
