"""One contract, two transports: node logic relies on it for the in-memory twin AND Kafka."""

from __future__ import annotations

import pytest

from broker.errors import TransportError
from broker.transport.base import InboundRecord, OutboundRecord, TopicSpec, Transport
from broker.transport.kafka import KafkaTransport
from broker.transport.memory import MemoryTransport
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
        with pytest.raises(TransportError):
            await producer.send(OutboundRecord(names.topic("absent"), b"x"))
    finally:
        await producer.stop()
