"""An in-memory twin of the Kafka transport for fast unit tests of node logic.

It behaves like Kafka where tests rely on it, and tests/contract proves each of these on both:
- a key lands on the partition Kafka's default partitioner picks (murmur2);
- a consumer restarts from its group's committed offsets; unknown topics are refused
  (auto-creation is off in the corridor);
- the members of one group split the partitions (round robin, as aiokafka's default assignor);
  a member joining or leaving rebalances the group: every member's partitions are revoked
  (listeners told), then the new assignment is handed out and read from the committed offsets;
- transactions: records and offsets of a transaction become visible together on commit, never
  after an abort; each commit or abort writes a control marker that takes an offset, as on
  Kafka; read_committed consumers stop at the first open transaction (the last stable offset);
  starting a producer with a transactional id fences the previous one and aborts its open
  transaction.
Not modelled: session timeouts (a member that never stops stays in its group), retention.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from broker.errors import ProducerFencedError, RebalancedError, TransportError
from broker.transport.base import (
    Delivery,
    GroupMetadata,
    InboundRecord,
    Isolation,
    OutboundRecord,
    RebalanceListener,
    TimestampType,
    TopicPartition,
    TopicSpec,
)
from broker.transport.partitioner import default_partition


class _TxnState(Enum):
    OPEN = "open"
    COMMITTED = "committed"
    ABORTED = "aborted"


@dataclass(eq=False)
class _Transaction:
    state: _TxnState = _TxnState.OPEN
    offsets: dict[tuple[str, TopicPartition], int] = field(default_factory=dict)
    touched: set[TopicPartition] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class _Entry:
    """One offset of a partition log: a record (maybe in a transaction) or a control marker."""

    record: InboundRecord | None  # None: a commit/abort marker, never returned to consumers
    transaction: _Transaction | None = None

    def visible(self, isolation: Isolation) -> bool:
        if self.record is None:
            return False
        txn = self.transaction
        if txn is None or isolation == "read_uncommitted":
            return True
        return txn.state is _TxnState.COMMITTED


@dataclass(eq=False)
class _Group:
    members: list[MemoryConsumer] = field(default_factory=list)
    generation: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class MemoryBroker:
    """The shared state every `MemoryTransport` of one test talks to."""

    logs: dict[str, list[list[_Entry]]] = field(default_factory=dict)
    committed: dict[tuple[str, str, int], int] = field(default_factory=dict)
    available: bool = True  # False simulates an outage: every call raises TransportError
    groups: dict[str, _Group] = field(default_factory=dict)
    epochs: dict[str, int] = field(default_factory=dict)  # transactional id -> producer epoch
    open_transactions: dict[str, _Transaction] = field(default_factory=dict)
    configs: dict[str, Mapping[str, str]] = field(default_factory=dict)
    _arrived: asyncio.Condition | None = None
    _member_ids: itertools.count[int] = field(default_factory=itertools.count)
    _keyless: itertools.count[int] = field(default_factory=itertools.count)

    def check_available(self) -> None:
        if not self.available:
            raise TransportError("memory broker is unavailable (simulated outage)")

    @property
    def arrived(self) -> asyncio.Condition:
        if self._arrived is None:  # created lazily inside the running event loop
            self._arrived = asyncio.Condition()
        return self._arrived

    async def notify(self) -> None:
        async with self.arrived:
            self.arrived.notify_all()

    def partition_count(self, topic: str) -> int:
        parts = self.logs.get(topic)
        if parts is None:
            error = TransportError(f"unknown topic {topic}")
            error.retriable = False  # type: ignore[misc]  # as on Kafka: every retry fails too
            raise error
        return len(parts)

    def records(self, topic: str, isolation: Isolation = "read_committed") -> list[InboundRecord]:
        """What a consumer with `isolation` can read from `topic` now, partition by partition."""
        return [
            entry.record
            for part in self.logs.get(topic, [])
            for entry in part
            if entry.record is not None and entry.visible(isolation)
        ]

    def end_offset(self, partition: TopicPartition, isolation: Isolation) -> int:
        """High watermark; for read_committed the last stable offset (first open transaction)."""
        topic, index = partition
        log = self.logs[topic][index]
        if isolation == "read_committed":
            for offset, entry in enumerate(log):
                if entry.transaction is not None and entry.transaction.state is _TxnState.OPEN:
                    return offset
        return len(log)

    def append(self, record: OutboundRecord, transaction: _Transaction | None = None) -> Delivery:
        count = self.partition_count(record.topic)
        if record.key is not None:
            index = default_partition(record.key, count)
        else:  # Kafka spreads keyless records (sticky batches); round robin is close enough
            index = next(self._keyless) % count
        log = self.logs[record.topic][index]
        offset = len(log)
        # The twin has one clock, so create time and append time are the same instant.
        stamp = TimestampType.CREATE_TIME
        if self.configs.get(record.topic, {}).get("message.timestamp.type") == "LogAppendTime":
            stamp = TimestampType.LOG_APPEND_TIME
        inbound = InboundRecord(
            record.topic, index, offset, record.key, record.value, record.headers,
            int(time.time() * 1000), stamp,
        )  # fmt: skip
        log.append(_Entry(inbound, transaction))
        if transaction is not None:
            transaction.touched.add((record.topic, index))
        return Delivery(record.topic, index, offset)

    def end_transaction(self, transaction: _Transaction, commit: bool) -> None:
        transaction.state = _TxnState.COMMITTED if commit else _TxnState.ABORTED
        for topic, index in sorted(transaction.touched):
            self.logs[topic][index].append(_Entry(None, transaction))  # the control marker
        if commit:
            for (group, (topic, index)), offset in transaction.offsets.items():
                self.committed[(group, topic, index)] = offset

    def new_member_id(self) -> str:
        return f"member-{next(self._member_ids)}"


class MemoryProducer:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    async def start(self) -> None:
        self._broker.check_available()

    async def stop(self) -> None:
        return None

    async def send(self, record: OutboundRecord) -> Delivery:
        self._broker.check_available()
        delivery = self._broker.append(record)
        await self._broker.notify()
        return delivery

    async def send_many(self, records: Sequence[OutboundRecord]) -> list[Delivery]:
        return [await self.send(record) for record in records]


class MemoryTransactionalProducer:
    def __init__(self, broker: MemoryBroker, transactional_id: str) -> None:
        self._broker = broker
        self._id = transactional_id
        self._epoch: int | None = None
        self._txn: _Transaction | None = None

    @property
    def transactional_id(self) -> str:
        return self._id

    def _check(self) -> None:
        self._broker.check_available()
        if self._epoch is None:
            raise TransportError("transactional producer used before start()")
        if self._broker.epochs.get(self._id) != self._epoch:
            self._txn = None
            raise ProducerFencedError(
                f"transactional id {self._id} was registered by a newer producer"
            )

    def _open(self) -> _Transaction:
        self._check()
        if self._txn is None:
            raise TransportError("no transaction in progress: begin() first")
        return self._txn

    async def start(self) -> None:
        self._broker.check_available()
        # Like InitProducerId: bump the epoch (fencing older producers), abort what they left.
        self._epoch = self._broker.epochs.get(self._id, -1) + 1
        self._broker.epochs[self._id] = self._epoch
        left = self._broker.open_transactions.pop(self._id, None)
        if left is not None:
            self._broker.end_transaction(left, commit=False)
            await self._broker.notify()

    async def stop(self) -> None:
        # A producer closed mid-transaction leaves it open until the id is registered again
        # (Kafka would abort it after transaction.timeout.ms).
        self._epoch = None

    async def begin(self) -> None:
        self._check()
        if self._txn is not None:
            raise TransportError("a transaction is already in progress")
        self._txn = _Transaction()
        self._broker.open_transactions[self._id] = self._txn

    async def send(self, record: OutboundRecord) -> Delivery:
        txn = self._open()
        return self._broker.append(record, txn)

    async def send_many(self, records: Sequence[OutboundRecord]) -> list[Delivery]:
        return [await self.send(record) for record in records]

    async def send_offsets(
        self, next_offsets: Mapping[TopicPartition, int], group: GroupMetadata
    ) -> None:
        txn = self._open()
        for partition, offset in next_offsets.items():
            txn.offsets[(group.group_id, partition)] = offset

    async def _end(self, commit: bool) -> None:
        txn = self._open()
        self._txn = None
        self._broker.open_transactions.pop(self._id, None)
        self._broker.end_transaction(txn, commit)
        await self._broker.notify()

    async def commit(self) -> None:
        await self._end(commit=True)

    async def abort(self) -> None:
        await self._end(commit=False)


class MemoryConsumer:
    def __init__(
        self,
        broker: MemoryBroker,
        topics: Sequence[str],
        group_id: str | None,
        isolation: Isolation = "read_committed",
        listener: RebalanceListener | None = None,
    ) -> None:
        self._broker = broker
        self._topics = list(topics)
        self._group_id = group_id
        self._isolation = isolation
        self._listener = listener
        self._member_id = ""
        self._generation = -1
        self._position: dict[TopicPartition, int] = {}

    @property
    def _group_key(self) -> str:
        return self._group_id or ""

    def _all_partitions(self) -> list[TopicPartition]:
        return [
            (topic, index)
            for topic in self._topics
            for index in range(self._broker.partition_count(topic))
        ]

    async def start(self) -> None:
        self._broker.check_available()
        partitions = self._all_partitions()  # refuses unknown topics
        if self._group_id is None:
            self._assign(frozenset(partitions))
            return
        self._member_id = self._broker.new_member_id()
        group = self._broker.groups.setdefault(self._group_id, _Group())
        group.members.append(self)
        await _rebalance(group)

    async def stop(self) -> None:
        if self._group_id is not None and self._member_id:
            group = self._broker.groups[self._group_id]
            if self in group.members:
                group.members.remove(self)
                self._position.clear()
                await _rebalance(group)
        self._position.clear()

    def _assign(self, partitions: frozenset[TopicPartition]) -> None:
        self._position = {
            (topic, index): self._broker.committed.get((self._group_key, topic, index), 0)
            for topic, index in sorted(partitions)
        }

    def assignment(self) -> frozenset[TopicPartition]:
        return frozenset(self._position)

    def group_metadata(self) -> GroupMetadata:
        if self._group_id is None:
            raise TransportError("a consumer without a group has no group metadata")
        return GroupMetadata(self._group_id, self._generation, self._member_id)

    def _take(self, max_records: int) -> list[InboundRecord]:
        taken: list[InboundRecord] = []
        for partition, position in self._position.items():
            topic, index = partition
            log = self._broker.logs[topic][index]
            end = self._broker.end_offset(partition, self._isolation)
            while position < end and len(taken) < max_records:
                entry = log[position]
                if entry.record is not None and entry.visible(self._isolation):
                    taken.append(entry.record)
                position += 1
            self._position[partition] = position
        return taken

    async def fetch(self, max_records: int, timeout_s: float) -> list[InboundRecord]:
        self._broker.check_available()
        taken = self._take(max_records)
        if taken:
            return taken
        async with self._broker.arrived:
            try:
                await asyncio.wait_for(self._broker.arrived.wait(), timeout_s)
            except TimeoutError:
                return []
        return self._take(max_records)

    async def commit(self, next_offsets: Mapping[TopicPartition, int]) -> None:
        self._broker.check_available()
        if self._group_id is not None:
            group = self._broker.groups.get(self._group_id)
            if group is None or self not in group.members or group.generation != self._generation:
                raise RebalancedError(
                    f"commit refused: group {self._group_id} rebalanced under this member"
                )
        for (topic, index), offset in next_offsets.items():
            self._broker.committed[(self._group_key, topic, index)] = offset

    async def lag(self) -> dict[TopicPartition, int]:
        return {
            partition: self._broker.end_offset(partition, self._isolation)
            - self._broker.committed.get((self._group_key, *partition), 0)
            for partition in self._position
        }

    async def caught_up(self) -> bool:
        self._broker.check_available()
        return bool(self._position) and all(
            position >= self._broker.end_offset(partition, self._isolation)
            for partition, position in self._position.items()
        )


async def _rebalance(group: _Group) -> None:
    """Eager rebalance: every member revokes everything, then each gets its new share."""
    async with group.lock:
        group.generation += 1
        members = list(group.members)
        for member in members:
            revoked = member.assignment()
            member._position = {}
            if member._listener is not None:
                await member._listener.on_partitions_revoked(revoked)
        wanted = sorted({p for m in members for p in m._all_partitions()})
        shares: dict[MemoryConsumer, set[TopicPartition]] = {m: set() for m in members}
        # Round robin over the partitions, members in join order (aiokafka's default assignor).
        interested = [m for m in members if m._topics]
        turn = itertools.cycle(interested)
        for partition in wanted:
            for _ in interested:
                member = next(turn)
                if partition[0] in member._topics:
                    shares[member].add(partition)
                    break
        for member in members:
            member._generation = group.generation
            member._assign(frozenset(shares[member]))
        for member in members:
            if member._listener is not None:
                await member._listener.on_partitions_assigned(member.assignment())


class MemoryAdmin:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> list[str]:
        self._broker.check_available()
        created = []
        for spec in specs:
            if spec.name not in self._broker.logs:
                self._broker.logs[spec.name] = [[] for _ in range(spec.partitions)]
                self._broker.configs[spec.name] = dict(spec.configs)
                created.append(spec.name)
        return created

    async def close(self) -> None:
        return None


class MemoryTransport:
    def __init__(self, broker: MemoryBroker | None = None) -> None:
        self.broker = broker or MemoryBroker()

    def producer(self) -> MemoryProducer:
        return MemoryProducer(self.broker)

    def transactional_producer(self, transactional_id: str) -> MemoryTransactionalProducer:
        return MemoryTransactionalProducer(self.broker, transactional_id)

    def consumer(
        self,
        topics: Sequence[str],
        group_id: str | None,
        *,
        isolation: Isolation = "read_committed",
        listener: RebalanceListener | None = None,
    ) -> MemoryConsumer:
        return MemoryConsumer(self.broker, topics, group_id, isolation, listener)

    async def admin(self) -> MemoryAdmin:
        return MemoryAdmin(self.broker)
