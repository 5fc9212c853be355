"""One contract, two transports: node logic relies on it for the in-memory twin AND Kafka.

Real Kafka here is 4.1.1 with aiokafka 0.14: transactions, read_committed, fencing and
transactional offset commits all work as the contract says (TxnOffsetCommit v0: by group id).
"""

from __future__ import annotations

import time

import pytest

from broker.errors import ProducerFencedError, TransportError
from broker.transport.base import (
    Consumer,
    GroupMetadata,
    InboundRecord,
    OutboundRecord,
    TimestampType,
    TopicPartition,
    TopicSpec,
    Transport,
)
from broker.transport.kafka import KafkaTransport
from broker.transport.memory import MemoryTransport
from broker.transport.partitioner import default_partition
from broker.transport.settings import KafkaSettings
from tests.kafka_support import Names


@pytest.fixture(params=["memory", "kafka"])
def transport(request: pytest.FixtureRequest) -> Transport:
    if request.param == "memory":
        return MemoryTransport()
    endpoint = request.getfixturevalue("kafka")
    settings = KafkaSettings(bootstrap_servers=endpoint.bootstrap_servers, request_timeout_ms=5000)
    return KafkaTransport(settings)


async def _topic(transport: Transport, name: str, partitions: int = 3) -> None:
    admin = await transport.admin()
    try:
        assert await admin.ensure_topics([TopicSpec(name, partitions, 1)]) == [name]
        assert await admin.ensure_topics([TopicSpec(name, partitions, 1)]) == []  # idempotent
    finally:
        await admin.close()


async def test_sent_records_arrive_with_key_order_and_headers(
    transport: Transport, names: Names
) -> None:
    topic = names.topic()
    await _topic(transport, topic)
    producer = transport.producer()
    await producer.start()
    sent = []
    try:
        for i in range(30):
            key = f"REF-{i % 4}".encode()
            record = OutboundRecord(topic, f"v{i}".encode(), key, (("ce_id", f"{i}".encode()),))
            delivery = await producer.send(record)
            assert delivery.topic == topic
            sent.append(record)
    finally:
        await producer.stop()
    consumer = transport.consumer([topic], names.group())
    await consumer.start()
    got: list[InboundRecord] = []
    try:
        while len(got) < len(sent):
            batch = await consumer.fetch(100, 5.0)
            assert batch, "records did not arrive"
            got.extend(batch)
    finally:
        await consumer.stop()
    for ref in {r.key for r in sent}:
        assert [r.value for r in got if r.key == ref] == [r.value for r in sent if r.key == ref]
    assert {r.headers for r in got} == {r.headers for r in sent}


async def test_a_new_consumer_resumes_from_the_committed_offset(
    transport: Transport, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    await _topic(transport, topic, partitions=1)
    producer = transport.producer()
    await producer.start()
    try:
        for i in range(5):
            await producer.send(OutboundRecord(topic, f"v{i}".encode(), b"k"))
    finally:
        await producer.stop()

    first = transport.consumer([topic], group)
    await first.start()
    try:
        seen: list[InboundRecord] = []
        while len(seen) < 5:
            seen.extend(await first.fetch(100, 5.0))
        await first.commit({(topic, 0): 3})  # handled v0..v2 only
        assert await first.lag() == {(topic, 0): 2}
    finally:
        await first.stop()

    second = transport.consumer([topic], group)
    await second.start()
    try:
        again: list[InboundRecord] = []
        while not await second.caught_up():
            again.extend(await second.fetch(100, 1.0))
        assert await second.caught_up()
    finally:
        await second.stop()
    assert [r.value for r in again] == [b"v3", b"v4"]


async def test_sending_to_a_missing_topic_fails_with_a_transport_error(
    transport: Transport, names: Names
) -> None:
    producer = transport.producer()
    await producer.start()
    try:
        with pytest.raises(TransportError) as raised:
            await producer.send(OutboundRecord(names.topic("absent"), b"x"))
        assert raised.value.retriable is False  # no retry will make the topic exist
    finally:
        await producer.stop()


async def test_records_tell_whether_the_broker_stamped_their_time(
    transport: Transport, names: Names
) -> None:
    appended, created = names.topic("appended"), names.topic("created")
    admin = await transport.admin()
    try:
        await admin.ensure_topics(
            [
                TopicSpec(appended, 1, 1, {"message.timestamp.type": "LogAppendTime"}),
                TopicSpec(created, 1, 1),
            ]
        )
    finally:
        await admin.close()
    producer = transport.producer()
    await producer.start()
    try:
        for topic in (appended, created):
            await producer.send(OutboundRecord(topic, b"x", b"k"))
    finally:
        await producer.stop()
    for topic, expected in (
        (appended, TimestampType.LOG_APPEND_TIME),
        (created, TimestampType.CREATE_TIME),
    ):
        reader = transport.consumer([topic], None)
        await reader.start()
        try:
            [record] = await _read_all(reader)
        finally:
            await reader.stop()
        assert record.timestamp_type is expected
        assert abs(record.timestamp_ms - time.time() * 1000) < 60_000


# ---------------------------------------------------------------- partitioning


async def test_a_key_lands_on_the_partition_kafkas_default_partitioner_picks(
    transport: Transport, names: Names
) -> None:
    topic = names.topic()
    await _topic(transport, topic, partitions=6)
    producer = transport.producer()
    await producer.start()
    keys = [f"CQ-2026-{i:05d}".encode() for i in range(40)] + ["重庆-万象".encode(), b""]
    try:
        deliveries = await producer.send_many([OutboundRecord(topic, b"v", key) for key in keys])
    finally:
        await producer.stop()
    assert [d.partition for d in deliveries] == [default_partition(k, 6) for k in keys]
    assert len({d.partition for d in deliveries}) == 6  # and they do spread


# ---------------------------------------------------------------- transactions


async def _read_all(consumer: Consumer, within_s: float = 20.0) -> list[InboundRecord]:
    got: list[InboundRecord] = []
    deadline = time.monotonic() + within_s
    while not await consumer.caught_up():
        assert time.monotonic() < deadline, "did not catch up"
        got.extend(await consumer.fetch(100, 0.5))
    return got


async def test_aborted_records_are_invisible_to_read_committed_and_offsets_commit_atomically(
    transport: Transport, names: Names
) -> None:
    topic, out, group = names.topic(), names.topic("out"), names.group()
    await _topic(transport, topic, partitions=1)
    await _topic(transport, out, partitions=1)
    plain = transport.producer()
    await plain.start()
    try:
        await plain.send_many([OutboundRecord(topic, f"in-{i}".encode(), b"k") for i in range(10)])
    finally:
        await plain.stop()
    producer = transport.transactional_producer(names.topic("txn"))
    await producer.start()
    try:
        await producer.begin()
        await producer.send(OutboundRecord(out, b"committed-1", b"k"))
        await producer.send_offsets({(topic, 0): 7}, GroupMetadata(group))
        await producer.commit()
        await producer.begin()
        await producer.send_many([OutboundRecord(out, b"aborted", b"k")])
        await producer.send_offsets({(topic, 0): 99}, GroupMetadata(group))
        await producer.abort()
        await producer.begin()
        await producer.send(OutboundRecord(out, b"committed-2", b"k"))
        await producer.commit()
    finally:
        await producer.stop()

    committed = transport.consumer([out], None)
    await committed.start()
    try:
        records = await _read_all(committed)
    finally:
        await committed.stop()
    assert [r.value for r in records] == [b"committed-1", b"committed-2"]
    # Each commit or abort marker takes an offset, as on Kafka.
    assert [r.offset for r in records] == [0, 4]

    everything = transport.consumer([out], None, isolation="read_uncommitted")
    await everything.start()
    try:
        assert [r.value for r in await _read_all(everything)] == [
            b"committed-1",
            b"aborted",
            b"committed-2",
        ]
    finally:
        await everything.stop()

    # The group resumes at the committed transaction's offset, not the aborted one's.
    member = transport.consumer([topic], group)
    await member.start()
    try:
        assert [r.value for r in await _read_all(member)] == [b"in-7", b"in-8", b"in-9"]
        assert await member.lag() == {(topic, 0): 3}
    finally:
        await member.stop()


async def test_an_open_transaction_holds_read_committed_readers_back_until_commit(
    transport: Transport, names: Names
) -> None:
    topic = names.topic()
    await _topic(transport, topic, partitions=1)
    producer = transport.transactional_producer(names.topic("txn"))
    await producer.start()
    reader = transport.consumer([topic], None)
    await reader.start()
    try:
        await producer.begin()
        await producer.send(OutboundRecord(topic, b"pending", b"k"))
        assert await _read_all(reader) == []  # caught up at the last stable offset
        await producer.commit()
        assert [r.value for r in await _read_all(reader)] == [b"pending"]
    finally:
        await reader.stop()
        await producer.stop()


async def test_a_new_producer_with_the_same_transactional_id_fences_the_old_one(
    transport: Transport, names: Names
) -> None:
    topic, txn_id = names.topic(), names.topic("txn")
    await _topic(transport, topic, partitions=1)
    zombie = transport.transactional_producer(txn_id)
    await zombie.start()
    successor = transport.transactional_producer(txn_id)
    try:
        await zombie.begin()
        await zombie.send(OutboundRecord(topic, b"from-the-zombie", b"k"))
        await successor.start()  # takes the id over; aborts the zombie's open transaction

        async def zombie_goes_on() -> None:  # Kafka may refuse the send or only the commit
            await zombie.send(OutboundRecord(topic, b"more", b"k"))
            await zombie.commit()

        with pytest.raises(ProducerFencedError) as raised:
            await zombie_goes_on()
        assert raised.value.retriable is False
        await successor.begin()
        await successor.send(OutboundRecord(topic, b"from-the-successor", b"k"))
        await successor.commit()
    finally:
        await zombie.stop()
        await successor.stop()
    reader = transport.consumer([topic], None)
    await reader.start()
    try:
        assert [r.value for r in await _read_all(reader)] == [b"from-the-successor"]
    finally:
        await reader.stop()


# ---------------------------------------------------------------- consumer groups


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, frozenset[TopicPartition]]] = []

    async def on_partitions_revoked(self, revoked: frozenset[TopicPartition]) -> None:
        self.events.append(("revoked", revoked))

    async def on_partitions_assigned(self, assigned: frozenset[TopicPartition]) -> None:
        self.events.append(("assigned", assigned))


async def _settle(consumers: list[Consumer], expected: set[TopicPartition]) -> None:
    """Fetch on every member until their assignments split `expected` between them."""
    deadline = time.monotonic() + 60
    while True:
        shares = [c.assignment() for c in consumers]
        split = all(shares) and sum(len(s) for s in shares) == len(expected)
        if split and set().union(*shares) == expected:
            return
        assert time.monotonic() < deadline, f"no split of {expected}: {shares}"
        for consumer in consumers:
            await consumer.fetch(100, 0.2)


async def test_members_of_a_group_split_the_partitions_and_rebalance_on_leave(
    transport: Transport, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    await _topic(transport, topic, partitions=4)
    everything = {(topic, i) for i in range(4)}
    first_listener, second_listener = Recorder(), Recorder()
    first = transport.consumer([topic], group, listener=first_listener)
    second = transport.consumer([topic], group, listener=second_listener)
    await first.start()
    try:
        await _settle([first], everything)
        await second.start()
        try:
            await _settle([first, second], everything)
            assert not first.assignment() & second.assignment()
            assert first.group_metadata().group_id == group
            assert first.group_metadata().generation_id == second.group_metadata().generation_id
        finally:
            await second.stop()
        await _settle([first], everything)  # the survivor takes everything back
    finally:
        await first.stop()
    kinds = [kind for kind, _ in first_listener.events]
    assert kinds[:2] == ["revoked", "assigned"]  # the first join (nothing to revoke yet)
    assert ("revoked", frozenset(everything)) in first_listener.events  # when the second joined
    assert first_listener.events[-1] == ("assigned", frozenset(everything))
    assert ("revoked", frozenset()) in second_listener.events
    with pytest.raises(TransportError):
        transport.consumer([topic], None).group_metadata()


async def test_caught_up_means_read_to_the_end_of_every_assigned_partition(
    transport: Transport, names: Names
) -> None:
    topic = names.topic()
    await _topic(transport, topic, partitions=2)
    producer = transport.producer()
    await producer.start()
    reader = transport.consumer([topic], names.group())
    await reader.start()
    try:
        assert await _read_all(reader) == []
        assert await reader.caught_up()
        await producer.send(OutboundRecord(topic, b"late", b"k"))
        assert not await reader.caught_up()  # something new to read
        assert [r.value for r in await _read_all(reader)] == [b"late"]
    finally:
        await reader.stop()
        await producer.stop()
