"""Topic layout of a corridor: one inbox and one dead-letter topic per node, one key directory.

Every name lives under a namespace (`customs.v1` by default), so several corridors (or test runs)
can share one Kafka cluster without seeing each other's records.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from broker.node.config import TopicSettings
from broker.transport.base import TopicSpec


@dataclass(frozen=True)
class CorridorTopics:
    namespace: str = "customs.v1"

    @classmethod
    def of(cls, settings: TopicSettings) -> CorridorTopics:
        return cls(settings.namespace)

    @property
    def keys(self) -> str:
        return f"{self.namespace}.keys"

    def inbox(self, node_id: str) -> str:
        return f"{self.namespace}.inbox.{node_id}"

    def dead_letters(self, node_id: str) -> str:
        return f"{self.namespace}.dlq.{node_id}"

    def group(self, node_id: str) -> str:
        """The consumer group of all processes of one node (they share its inbox)."""
        return f"{self.namespace}.node.{node_id}"

    def specs(self, node_ids: Iterable[str], settings: TopicSettings) -> list[TopicSpec]:
        """Every node's inbox and dead-letter topic, and the compacted key directory."""
        durable = {"min.insync.replicas": str(settings.min_insync_replicas)}
        specs = [
            TopicSpec(
                self.keys,
                1,  # one partition: announcements apply in the order the CAs made them
                settings.replication_factor,
                {**durable, "cleanup.policy": "compact"},
            )
        ]
        # The broker stamps inbox records when it appends them: a receiver judges key validity
        # against that time too, which a sender cannot backdate (docs/signing.md).
        appended = {**durable, "message.timestamp.type": "LogAppendTime"}
        for node_id in sorted(set(node_ids)):
            specs.append(
                TopicSpec(
                    self.inbox(node_id), settings.partitions, settings.replication_factor, appended
                )
            )
            specs.append(
                TopicSpec(
                    self.dead_letters(node_id),
                    settings.partitions,
                    settings.replication_factor,
                    durable,
                )
            )
        return specs
