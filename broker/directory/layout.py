"""What the cluster has against what the directory says: the drift `corridor apply` reports (pure).

Kafka can add partitions to a topic but never remove them, and changes replication only by a
reassignment: so a topic with fewer partitions than the directory asks is grown (`apply`), and
every other difference is reported, never silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from broker.transport.base import TopicSpec


@dataclass(frozen=True, slots=True)
class ObservedTopic:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)  # non-default values only


class DriftKind(StrEnum):
    MISSING = "missing"
    PARTITIONS_GROW = "partitions-grow"  # fixable: add partitions
    PARTITIONS_SHRINK = "partitions-shrink"  # Kafka cannot remove partitions
    REPLICATION = "replication"  # needs a partition reassignment
    CONFIG = "config"  # fixable: alter the topic's configs


FIXABLE = frozenset({DriftKind.MISSING, DriftKind.PARTITIONS_GROW, DriftKind.CONFIG})


@dataclass(frozen=True, slots=True)
class Drift:
    topic: str
    kind: DriftKind
    wanted: str
    found: str

    def __str__(self) -> str:
        return (
            f"{self.topic}: {self.kind.value}: directory says {self.wanted}, "
            f"cluster has {self.found}"
        )


def drift(specs: Sequence[TopicSpec], observed: Mapping[str, ObservedTopic]) -> list[Drift]:
    found: list[Drift] = []
    for spec in specs:
        topic = observed.get(spec.name)
        if topic is None:
            found.append(
                Drift(spec.name, DriftKind.MISSING, f"{spec.partitions} partitions", "none")
            )
            continue
        if topic.partitions < spec.partitions:
            kind = DriftKind.PARTITIONS_GROW
        elif topic.partitions > spec.partitions:
            kind = DriftKind.PARTITIONS_SHRINK
        else:
            kind = None
        if kind is not None:
            found.append(
                Drift(spec.name, kind, f"{spec.partitions} partitions", str(topic.partitions))
            )
        if topic.replication_factor != spec.replication_factor:
            found.append(
                Drift(
                    spec.name,
                    DriftKind.REPLICATION,
                    f"replication {spec.replication_factor}",
                    str(topic.replication_factor),
                )
            )
        for name, value in sorted(spec.configs.items()):
            if topic.configs.get(name) != value:
                found.append(
                    Drift(spec.name, DriftKind.CONFIG, f"{name}={value}",
                          f"{name}={topic.configs.get(name, '(default)')}")
                )  # fmt: skip
    return found
