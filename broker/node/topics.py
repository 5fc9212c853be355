"""Topic layout of a corridor: one inbox and one dead-letter topic per node, two directories.

Every name lives under a namespace (`customs.v1` by default), so several corridors (or test runs)
can share one Kafka cluster without seeing each other's records. The sizes come from the corridor
directory (`layout`); this object is the one place that spells a topic or group name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from broker.directory.model import Corridor, TopicSettings
from broker.transport.base import TopicSpec


@dataclass(frozen=True)
class CorridorTopics:
    namespace: str = "customs.v1"

    @classmethod
    def of(cls, settings: TopicSettings) -> CorridorTopics:
        return cls(settings.namespace)

    @property
    def keys(self) -> str:
        """The key directory (CA-signed node certificates and revocations), compacted."""
        return f"{self.namespace}.keys"

    @property
    def directory(self) -> str:
        """The corridor directory (secretariat-signed members, agreements, layout), compacted."""
        return f"{self.namespace}.corridor"

    def inbox(self, node_id: str) -> str:
        return f"{self.namespace}.inbox.{node_id}"

    def dead_letters(self, node_id: str) -> str:
        return f"{self.namespace}.dlq.{node_id}"

    def group(self, node_id: str) -> str:
        """The consumer group of all processes of one node (they share its inbox)."""
        return f"{self.namespace}.node.{node_id}"

    def replay_group(self, node_id: str) -> str:
        """The consumer group `dlq replay` keeps its place in."""
        return f"{self.namespace}.dlq-replay.{node_id}"

    def specs(
        self,
        node_ids: Iterable[str],
        settings: TopicSettings,
        partitions_of: Callable[[str], int] | None = None,
    ) -> list[TopicSpec]:
        """Every node's inbox and dead-letter topic, and the two compacted directories."""
        durable = {"min.insync.replicas": str(settings.min_insync_replicas)}
        compacted = {**durable, "cleanup.policy": "compact"}
        # One partition each: entries apply in the order their authority made them.
        specs = [
            TopicSpec(self.keys, 1, settings.replication_factor, compacted),
            TopicSpec(self.directory, 1, settings.replication_factor, compacted),
        ]
        # The broker stamps inbox records when it appends them: a receiver judges key validity
        # against that time too, which a sender cannot backdate (docs/signing.md).
        appended = {**durable, "message.timestamp.type": "LogAppendTime"}
        for node_id in sorted(set(node_ids)):
            size = partitions_of(node_id) if partitions_of else settings.partitions
            rf = settings.replication_factor
            specs.append(TopicSpec(self.inbox(node_id), size, rf, appended))
            specs.append(TopicSpec(self.dead_letters(node_id), size, rf, durable))
        return specs

    def layout(self, corridor: Corridor) -> list[TopicSpec]:
        """The topics `corridor` defines: what `corridor apply` creates and checks."""
        return self.specs(
            [m.node_id for m in corridor.members], corridor.topics, corridor.inbox_partitions
        )
