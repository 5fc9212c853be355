"""Records and the protocols the node runtime talks to; no I/O and no aiokafka here."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Literal, Protocol

Header = tuple[str, bytes]
TopicPartition = tuple[str, int]
# read_committed (the default here): records of aborted or still open transactions are never
# returned, and end offsets (so `caught_up` and `lag`) stop at the last stable offset.
Isolation = Literal["read_committed", "read_uncommitted"]


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


class TimestampType(IntEnum):
    """Kafka's record timestamp types (topic config `message.timestamp.type`)."""

    CREATE_TIME = 0  # set by the producer: says nothing the broker vouches for
    LOG_APPEND_TIME = 1  # set by the broker when it appended the record


@dataclass(frozen=True, slots=True)
class InboundRecord:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[Header, ...]
    timestamp_ms: int
    timestamp_type: TimestampType = TimestampType.CREATE_TIME

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


@dataclass(frozen=True, slots=True)
class GroupMetadata:
    """Who commits offsets inside a transaction: the group, and the member's generation.

    Kafka (KIP-447) fences a zombie member by generation. aiokafka 0.14 sends only the group id
    (TxnOffsetCommit v0), so on the real edge a zombie is fenced by its transactional id alone:
    give each input partition its own transactional id (`transactional_id_for`).
    """

    group_id: str
    generation_id: int = -1
    member_id: str = ""


def transactional_id_for(group_id: str, partition: TopicPartition) -> str:
    """One transactional id per input partition (KIP-98's zombie fencing without KIP-447).

    Whoever is assigned the partition next starts a producer with the same id, which fences
    the previous owner and aborts its open transaction.
    """
    topic, index = partition
    return f"{group_id}.{topic}.{index}"


class Producer(Protocol):
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def send(self, record: OutboundRecord) -> Delivery:
        """Produce and wait for the acknowledgement (acks=all on real Kafka)."""
        ...

    async def send_many(self, records: Sequence[OutboundRecord]) -> list[Delivery]:
        """Produce all, pipelined, and wait until every one is acknowledged."""
        ...


class TransactionalProducer(Protocol):
    """Records and consumer offsets committed atomically, or not at all (Kafka transactions).

    `start` registers the transactional id: every older producer with that id is fenced (its
    next call raises `ProducerFencedError`) and its open transaction is aborted. Errors are
    `TransportError`s; after a retriable one, `abort` and run the transaction again. After a
    `ProducerFencedError` the producer is dead: `stop` it (someone else owns the id now).
    """

    @property
    def transactional_id(self) -> str: ...
    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def begin(self) -> None: ...
    async def send(self, record: OutboundRecord) -> Delivery:
        """Produce inside the open transaction; invisible to read_committed until commit."""
        ...

    async def send_many(self, records: Sequence[OutboundRecord]) -> list[Delivery]: ...
    async def send_offsets(
        self, next_offsets: Mapping[TopicPartition, int], group: GroupMetadata
    ) -> None:
        """Commit the group's offsets (next record to read) with this transaction."""
        ...

    async def commit(self) -> None: ...
    async def abort(self) -> None: ...


class RebalanceListener(Protocol):
    """Told when the group moves partitions (eager protocol: all are revoked, then assigned).

    Every member's `on_partitions_revoked` finishes before any member's
    `on_partitions_assigned` runs. Neither runs on `stop` (a member leaving just leaves).
    """

    async def on_partitions_revoked(self, revoked: frozenset[TopicPartition]) -> None: ...
    async def on_partitions_assigned(self, assigned: frozenset[TopicPartition]) -> None: ...


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
        """True when this consumer has read up to the end of every assigned partition.

        False while nothing is assigned (a group member before its first assignment)."""
        ...

    def assignment(self) -> frozenset[TopicPartition]:
        """The partitions this consumer reads now (all of them without a group)."""
        ...

    def group_metadata(self) -> GroupMetadata:
        """For `TransactionalProducer.send_offsets`; raises `TransportError` without a group."""
        ...


class Admin(Protocol):
    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> list[str]:
        """Create the topics that do not exist yet; return the names created."""
        ...

    async def close(self) -> None: ...


class Transport(Protocol):
    def producer(self) -> Producer: ...
    def transactional_producer(self, transactional_id: str) -> TransactionalProducer: ...
    def consumer(
        self,
        topics: Sequence[str],
        group_id: str | None,
        *,
        isolation: Isolation = "read_committed",
        listener: RebalanceListener | None = None,
    ) -> Consumer: ...
    async def admin(self) -> Admin: ...
