"""Records and the protocols the node runtime talks to; no I/O and no aiokafka here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

Header = tuple[str, bytes]
TopicPartition = tuple[str, int]


@dataclass(frozen=True, slots=True)
class OutboundRecord:
    topic: str
    value: bytes
    key: bytes | None = None
    headers: tuple[Header, ...] = ()


@dataclass(frozen=True, slots=True)
class Delivery:
    """Where Kafka stored an acknowledged record."""

    topic: str
    partition: int
    offset: int


@dataclass(frozen=True, slots=True)
class InboundRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[Header, ...]
    timestamp_ms: int

    @property
    def coordinates(self) -> str:
        """`topic/partition/offset`: where this record lives, for logs and dead letters."""
        return f"{self.topic}/{self.partition}/{self.offset}"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    configs: Mapping[str, str] = field(default_factory=dict)


class Producer(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, record: OutboundRecord) -> Delivery:
        """Produce and wait for the acknowledgement (acks=all on real Kafka)."""
        ...

    async def send_many(self, records: Sequence[OutboundRecord]) -> list[Delivery]:
        """Produce all, pipelined, and wait until every one is acknowledged."""
        ...


class Consumer(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def fetch(self, max_records: int, timeout_s: float) -> list[InboundRecord]: ...
    async def commit(self, next_offsets: Mapping[TopicPartition, int]) -> None:
        """Commit, per partition, the offset of the next record to read."""
        ...

    async def lag(self) -> dict[TopicPartition, int]:
        """End offset minus committed offset for every assigned partition."""
        ...

    async def caught_up(self) -> bool:
        """True when this consumer has read up to the end of every assigned partition."""
        ...


class Admin(Protocol):
    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> list[str]:
        """Create the topics that do not exist yet; return the names created."""
        ...

    async def close(self) -> None: ...


class Transport(Protocol):
    def producer(self) -> Producer: ...
    def consumer(self, topics: Sequence[str], group_id: str | None) -> Consumer: ...
    async def admin(self) -> Admin: ...
