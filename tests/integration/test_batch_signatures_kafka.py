"""Batch-signed records (envelope v3) through a real Kafka: headers and values come back as they
were written, every record verifies, each root once, and one record verifies without its batch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from broker.clock import SystemClock
from broker.signing import algorithms
from broker.signing.keystore import KeyStore
from broker.signing.pki import create_ca, issue_node
from broker.signing.records import declaration_draft, receipt_draft, sign_batch
from broker.signing.replay import MemoryReplayStore
from broker.signing.trust import TrustList
from broker.signing.verify import Verifier
from broker.transport.base import InboundRecord, OutboundRecord, TopicSpec
from broker.transport.kafka import KafkaTransport
from broker.transport.settings import KafkaSettings
from tests.kafka_support import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(120)]
DATASCHEMA = "urn:ilstc:schema:declaration.v2:crc64-avro:7a3f9c21d04e8b56"


async def test_a_batch_survives_kafka_and_verifies_record_by_record(
    kafka: KafkaEndpoint, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = SystemClock()
    china, laos = create_ca("CN", clock=clock), create_ca("LA", clock=clock)
    sender, receiver = (
        issue_node(china, "CN-CQ", clock=clock),
        issue_node(laos, "LA-VTE", clock=clock),
    )
    keys = KeyStore(TrustList([china.certificate, laos.certificate]))
    keys.add(sender.certificate)
    keys.add(receiver.certificate)
    now = clock.now()
    drafts = [
        declaration_draft(
            sender,
            value=b"declaration %d" % i,
            message_id=str(uuid.uuid4()),
            reference=f"CQ2026{i:09d}",
            recipient="LA-VTE",
            time=now,
            dataschema=DATASCHEMA,
            seal_to=keys.current_key("LA-VTE", now) if i % 2 else None,
        )
        for i in range(6)
    ]
    drafts.append(
        receipt_draft(
            sender,
            value=b"receipt",
            message_id=str(uuid.uuid4()),
            referenced_message_id=str(uuid.uuid4()),
            recipient="LA-VTE",
            time=now,
            dataschema=DATASCHEMA,
        )
    )
    signed = sign_batch(sender, drafts)
    topic = f"batchsig.{uuid.uuid4().hex[:8]}"
    transport = KafkaTransport(KafkaSettings(bootstrap_servers=kafka.bootstrap_servers))
    admin = await transport.admin()
    try:
        await admin.ensure_topics([TopicSpec(topic, 3, 1)])
    finally:
        await admin.close()
    producer = transport.producer()
    await producer.start()
    try:
        await producer.send_many([OutboundRecord(topic, r.value, r.key, r.headers) for r in signed])
    finally:
        await producer.stop()
    consumer = transport.consumer([topic], None)
    await consumer.start()
    received: list[InboundRecord] = []
    try:
        while len(received) < len(signed):
            received.extend(await consumer.fetch(100, 1.0))
    finally:
        await consumer.stop()

    verifications = []
    real = algorithms.verify

    def counting(key: algorithms.VerifyingKey, signature: bytes, data: bytes) -> None:
        verifications.append(data)
        real(key, signature, data)

    monkeypatch.setattr(algorithms, "verify", counting)
    verifier = Verifier(
        node_id="LA-VTE",
        keys=keys,
        replay=MemoryReplayStore(timedelta(days=1), clock),
        clock=clock,
    )
    sent = {r.headers: r for r in signed}
    for record in received:
        assert sent[record.headers].value == record.value  # same bytes, same header order
        appended_at = datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
        message = verifier.verify(record.headers, record.value, appended_at=appended_at)
        assert message.envelope.version == 3
        verifier.mark_accepted(message)
    assert len(verifications) == 1  # seven records, one root
    alone = Verifier(
        node_id="LA-VTE",
        keys=keys,
        replay=MemoryReplayStore(timedelta(days=1), clock),
        clock=clock,
    )
    last = received[-1]
    assert alone.verify(last.headers, last.value).sender == "CN-CQ"
