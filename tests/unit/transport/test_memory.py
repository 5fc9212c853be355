"""In-memory twin details the contract tests cannot see from outside (ordering of callbacks)."""

from __future__ import annotations

import pytest

from broker.errors import RebalancedError
from broker.transport.base import OutboundRecord, TopicPartition, TopicSpec
from broker.transport.memory import MemoryTransport


class Journal:
    def __init__(self, name: str, events: list[tuple[str, str, int]]) -> None:
        self.name, self.events = name, events

    async def on_partitions_revoked(self, revoked: frozenset[TopicPartition]) -> None:
        self.events.append((self.name, "revoked", len(revoked)))

    async def on_partitions_assigned(self, assigned: frozenset[TopicPartition]) -> None:
        self.events.append((self.name, "assigned", len(assigned)))


async def _transport(partitions: int = 6) -> MemoryTransport:
    transport = MemoryTransport()
    admin = await transport.admin()
    await admin.ensure_topics([TopicSpec("inbox", partitions, 1)])
    return transport


async def test_every_member_revokes_before_any_member_is_assigned() -> None:
    transport = await _transport()
    events: list[tuple[str, str, int]] = []
    members = [transport.consumer(["inbox"], "g", listener=Journal(name, events)) for name in "abc"]
    for member in members:
        await member.start()
    events.clear()
    await members[1].stop()  # b leaves: a and c share the 6 partitions
    assert events == [("a", "revoked", 2), ("c", "revoked", 2), ("a", "assigned", 3),
                      ("c", "assigned", 3)]  # fmt: skip


async def test_a_member_that_left_cannot_commit() -> None:
    transport = await _transport()
    member = transport.consumer(["inbox"], "g")
    await member.start()
    await member.stop()
    with pytest.raises(RebalancedError):
        await member.commit({("inbox", 0): 1})


async def test_an_open_transaction_blocks_only_its_own_partitions() -> None:
    transport = await _transport(partitions=2)
    # Keys "abc" and "a" land on partitions 1 and 0 of 2 (murmur2, as Kafka).
    txn = transport.transactional_producer("t")
    await txn.start()
    await txn.begin()
    await txn.send(OutboundRecord("inbox", b"open", b"abc"))
    plain = transport.producer()
    await plain.send(OutboundRecord("inbox", b"plain", b"a"))
    reader = transport.consumer(["inbox"], None)
    await reader.start()
    assert [r.value for r in await reader.fetch(10, 0.01)] == [b"plain"]
    restarted = transport.transactional_producer("t")
    await restarted.start()  # fences the first and aborts its transaction
    assert await reader.fetch(10, 0.01) == []
    assert await reader.caught_up()
    assert [r.value for r in transport.broker.records("inbox", "read_uncommitted")] == [
        b"plain",
        b"open",
    ]
