"""Produce and consume through the real broker with aiokafka: the ground under every layer."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.kafka_support import KafkaEndpoint, Names


async def test_acked_records_come_back_in_key_order_with_headers(
    kafka: KafkaEndpoint, names: Names
) -> None:
    topic = names.topic()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    finally:
        await admin.close()

    # Text in the corridor's scripts must survive headers and values byte for byte.
    subjects = ["重庆-万象-曼谷", "ประเทศไทย", "ລາວ", "မြန်မာ", "Hà Nội"]
    sent = [(subjects[i % 5].encode(), f"{i:04d}|{subjects[i % 5]}".encode()) for i in range(200)]
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka.bootstrap_servers, acks="all", enable_idempotence=True
    )
    await producer.start()
    try:
        for key, value in sent:
            await producer.send(topic, value, key=key, headers=[("ce_subject", key)])
        await producer.flush()
    finally:
        await producer.stop()

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.bootstrap_servers,
        group_id=names.group(),
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    received: list[ConsumerRecord[bytes, bytes]] = []
    try:
        while len(received) < len(sent):
            batch = await consumer.getmany(timeout_ms=2000)
            for records in batch.values():
                received.extend(records)
        await consumer.commit()
    finally:
        await consumer.stop()

    assert sorted(r.value for r in received) == sorted(v for _, v in sent)
    for record in received:
        assert dict(record.headers)["ce_subject"] == record.key
    # Same key -> same partition -> original order (amendments stay after the original).
    for key in {k for k, _ in sent}:
        got = [r.value for r in received if r.key == key]
        assert got == [v for k, v in sent if k == key]
