"""The corridor transport path (envelope + sign + produce + consume + verify) against raw aiokafka.

Both move the same pre-encoded Avro payloads through the same local Kafka with the same producer
settings (acks=all, idempotent) and the same consumer; the only difference is the corridor's work
around each record. Records are pipelined (sent without waiting for each ack) on both sides.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import timedelta

from broker.codec import SchemaKind
from broker.node.parts import NodeParts
from broker.signing.keystore import KeyStore
from broker.signing.records import declaration_record
from broker.signing.replay import MemoryReplayStore
from broker.signing.verify import Verifier
from broker.transport.base import InboundRecord, OutboundRecord
from broker.transport.kafka import KafkaTransport
from broker.transport.settings import KafkaSettings

_CHUNK = 500  # records in flight per send_many


async def _consume(
    transport: KafkaTransport,
    topic: str,
    count: int,
    check: Callable[[InboundRecord], None] | None,
) -> None:
    """Read `count` records (started before the producer, so both sides overlap)."""
    consumer = transport.consumer([topic], f"{topic}.reader")
    await consumer.start()
    try:
        seen = 0
        while seen < count:
            for record in await consumer.fetch(1000, 1.0):
                if check is not None:
                    check(record)
                seen += 1
    finally:
        await consumer.stop()


async def raw_aiokafka_rate(
    settings: KafkaSettings, topic: str, payload: bytes, count: int
) -> float:
    """Records per second, produce to consume, of unsigned payloads."""
    transport = KafkaTransport(settings)
    producer = transport.producer()
    await producer.start()
    reader = asyncio.create_task(_consume(transport, topic, count, None))
    began = time.perf_counter()
    try:
        for start in range(0, count, _CHUNK):
            batch = [
                OutboundRecord(topic, payload, str(i).encode())
                for i in range(start, min(count, start + _CHUNK))
            ]
            await producer.send_many(batch)
    finally:
        await producer.stop()
    await reader
    return count / (time.perf_counter() - began)


async def transport_path_rate(
    parts: NodeParts, settings: KafkaSettings, topic: str, payload: bytes, count: int
) -> float:
    """Records per second with envelope, signature and verification around the same payloads."""
    transport = KafkaTransport(settings)
    recipient = parts.config.partners[0].node_id
    keys = KeyStore(parts.keys.trust_list)
    keys.add(parts.identity.certificate)
    verifier = Verifier(
        node_id=recipient,
        keys=keys,
        clock=parts.clock,
        replay=MemoryReplayStore(timedelta(days=1), parts.clock),
    )
    schema = parts.codec.writer_dataschema(SchemaKind.DECLARATION)

    def verify(record: InboundRecord) -> None:
        verifier.mark_accepted(verifier.verify(record.headers, record.value))

    producer = transport.producer()
    await producer.start()
    reader = asyncio.create_task(_consume(transport, topic, count, verify))
    began = time.perf_counter()
    try:
        for start in range(0, count, _CHUNK):
            batch = []
            for i in range(start, min(count, start + _CHUNK)):
                signed = declaration_record(
                    parts.identity,
                    value=payload,
                    message_id=str(uuid.uuid4()),
                    reference=f"BENCH{i:08d}",
                    recipient=recipient,
                    time=parts.clock.now(),
                    dataschema=schema,
                )
                batch.append(OutboundRecord(topic, signed.value, signed.key, signed.headers))
            await producer.send_many(batch)
    finally:
        await producer.stop()
    await reader
    return count / (time.perf_counter() - began)
