"""One record produced with acks=all and read back: proof that a cluster serves clients."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

from broker.errors import TransportError


@dataclass(frozen=True)
class SmokeResult:
    topic: str
    partition: int
    offset: int
    round_trip_ms: float


async def round_trip(bootstrap_servers: str, payload: bytes) -> SmokeResult:
    topic = f"customs.smoke.{uuid.uuid4().hex[:12]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        await admin.start()
        await admin.create_topics([NewTopic(topic, 1, 1)])
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers, acks="all", enable_idempotence=True
        )
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap_servers, auto_offset_reset="earliest"
        )
        await producer.start()
        await consumer.start()
        try:
            began = time.perf_counter()
            meta = await (await producer.send(topic, payload))
            record = await consumer.getone()
            elapsed = (time.perf_counter() - began) * 1000
        finally:
            await producer.stop()
            await consumer.stop()
        if record.value != payload:
            raise TransportError(f"read back {record.value!r}, sent {payload!r}")
        await admin.delete_topics([topic])
    except KafkaError as exc:
        raise TransportError(f"round trip through {bootstrap_servers} failed: {exc}") from exc
    finally:
        await admin.close()
    return SmokeResult(topic, meta.partition, meta.offset, elapsed)
