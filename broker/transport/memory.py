"""An in-memory twin of the Kafka transport for fast unit tests of node logic.

Same protocols, same commit semantics (a consumer restarts from its group's committed offsets),
same refusal of unknown topics (auto-creation is off in the corridor). It does not model
rebalancing between several consumers of one group: that is proven on real Kafka only.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from broker.errors import TransportError
from broker.transport.base import (
    Delivery,
    InboundRecord,
    OutboundRecord,
    TopicPartition,
    TopicSpec,
)


@dataclass
class MemoryBroker:
    """The shared state every `MemoryTransport` of one test talks to."""

    partitions: dict[str, list[list[InboundRecord]]] = field(default_factory=dict)
    committed: dict[tuple[str, str, int], int] = field(default_factory=dict)
    available: bool = True  # False simulates an outage: every call raises TransportError
    _arrived: asyncio.Condition | None = None

    def check_available(self) -> None:
        if not self.available:
            raise TransportError("memory broker is unavailable (simulated outage)")

    @property
    def arrived(self) -> asyncio.Condition:
        if self._arrived is None:  # created lazily inside the running event loop
            self._arrived = asyncio.Condition()
        return self._arrived

    def records(self, topic: str) -> list[InboundRecord]:
        return [r for part in self.partitions.get(topic, []) for r in part]


class MemoryProducer:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    async def start(self) -> None:
        self._broker.check_available()

    async def stop(self) -> None:
        return None

    async def send(self, record: OutboundRecord) -> Delivery:
        self._broker.check_available()
        parts = self._broker.partitions.get(record.topic)
        if parts is None:
            raise TransportError(f"unknown topic {record.topic}")
        index = zlib.crc32(record.key) % len(parts) if record.key is not None else 0
        offset = len(parts[index])
        parts[index].append(
            InboundRecord(
                record.topic, index, offset, record.key, record.value, record.headers,
                int(time.time() * 1000),
            )
        )  # fmt: skip
        async with self._broker.arrived:
            self._broker.arrived.notify_all()
        return Delivery(record.topic, index, offset)

    async def send_many(self, records: Sequence[OutboundRecord]) -> list[Delivery]:
        return [await self.send(record) for record in records]


class MemoryConsumer:
    def __init__(self, broker: MemoryBroker, topics: Sequence[str], group_id: str | None) -> None:
        self._broker = broker
        self._topics = list(topics)
        self._group = group_id or ""
        self._position: dict[TopicPartition, int] = {}

    async def start(self) -> None:
        self._broker.check_available()
        for topic in self._topics:
            if topic not in self._broker.partitions:
                raise TransportError(f"unknown topic {topic}")
            for index in range(len(self._broker.partitions[topic])):
                key = (self._group, topic, index)
                self._position[(topic, index)] = self._broker.committed.get(key, 0)

    async def stop(self) -> None:
        return None

    def _take(self, max_records: int) -> list[InboundRecord]:
        taken: list[InboundRecord] = []
        for (topic, index), position in self._position.items():
            log = self._broker.partitions[topic][index]
            batch = log[position : position + max_records - len(taken)]
            taken.extend(batch)
            self._position[(topic, index)] = position + len(batch)
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
        for (topic, index), offset in next_offsets.items():
            self._broker.committed[(self._group, topic, index)] = offset

    async def lag(self) -> dict[TopicPartition, int]:
        return {
            (topic, index): len(self._broker.partitions[topic][index])
            - self._broker.committed.get((self._group, topic, index), 0)
            for topic, index in self._position
        }

    async def caught_up(self) -> bool:
        return all(
            position >= len(self._broker.partitions[topic][index])
            for (topic, index), position in self._position.items()
        )


class MemoryAdmin:
    def __init__(self, broker: MemoryBroker) -> None:
        self._broker = broker

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> list[str]:
        self._broker.check_available()
        created = []
        for spec in specs:
            if spec.name not in self._broker.partitions:
                self._broker.partitions[spec.name] = [[] for _ in range(spec.partitions)]
                created.append(spec.name)
        return created

    async def close(self) -> None:
        return None


class MemoryTransport:
    def __init__(self, broker: MemoryBroker | None = None) -> None:
        self.broker = broker or MemoryBroker()

    def producer(self) -> MemoryProducer:
        return MemoryProducer(self.broker)

    def consumer(self, topics: Sequence[str], group_id: str | None) -> MemoryConsumer:
        return MemoryConsumer(self.broker, topics, group_id)

    async def admin(self) -> MemoryAdmin:
        return MemoryAdmin(self.broker)
