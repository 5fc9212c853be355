"""Node behaviour on real Kafka: what the in-memory tests show, proven on the real broker.

Transit routing with receipts, sealed values unreadable on the wire, attacks dead-lettered while
the stream flows, key rotation and revocation picked up without restart.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer

from broker.clock import SystemClock
from broker.errors import SignatureError
from broker.model.samples import sample_declaration
from broker.node.config import Partner
from broker.node.deadletter import read_dead_letter
from broker.node.ledger import DeliveryStatus
from broker.node.runtime import CorridorNode
from broker.signing.envelope import parse_envelope
from broker.signing.pki import NodeIdentity, issue_node
from broker.signing.records import (
    SignedRecord,
    certificate_announcement,
    revocation_announcement,
)
from broker.signing.seal import unseal_value
from broker.signing.verify import VerifiedMessage
from broker.transport.base import InboundRecord, OutboundRecord
from broker.transport.kafka import KafkaTransport
from broker.transport.settings import KafkaSettings
from tests.corridor_support import SmallCorridor
from tests.kafka_support import KafkaEndpoint

pytestmark = pytest.mark.timeout(120)

PARTNERS: dict[str, tuple[Partner, ...]] = {
    "CN-CQ": (Partner(node_id="LA-VTE"), Partner(node_id="TH-BKK", seal=True)),
    "LA-VTE": (Partner(node_id="CN-CQ"), Partner(node_id="TH-BKK")),
    "TH-BKK": (Partner(node_id="CN-CQ"), Partner(node_id="LA-VTE")),
}


@pytest.fixture
async def corridor(kafka: KafkaEndpoint, tmp_path: Path) -> SmallCorridor:
    # The corridor's topic names are fixed, so each test talks to the same topics: tests filter
    # by their own references, and each node starts from the group's committed offsets.
    transport = KafkaTransport(KafkaSettings(bootstrap_servers=kafka.bootstrap_servers))
    corridor = SmallCorridor(transport, SystemClock(), tmp_path, PARTNERS)
    await corridor.prepare()
    return corridor


@pytest.fixture
async def running(corridor: SmallCorridor) -> AsyncIterator[dict[str, CorridorNode]]:
    async with corridor.running(gateway=False, serve=True) as nodes:
        yield nodes


async def eventually(check: Callable[[], bool | Awaitable[bool]], within_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        result = check()
        if result if isinstance(result, bool) else await result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError("condition not met in time")


async def read_topic(
    kafka: KafkaEndpoint, topic: str, wanted: Callable[[InboundRecord], bool]
) -> list[InboundRecord]:
    transport = KafkaTransport(KafkaSettings(bootstrap_servers=kafka.bootstrap_servers))
    consumer = transport.consumer([topic], None)
    await consumer.start()
    found: list[InboundRecord] = []
    try:
        while not await consumer.caught_up():
            found.extend(r for r in await consumer.fetch(500, 1.0) if wanted(r))
    finally:
        await consumer.stop()
    return found


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


async def test_transit_reaches_both_countries_and_receipts_come_back(
    corridor: SmallCorridor, running: dict[str, CorridorNode]
) -> None:
    reference = unique("CQ-TR")
    declaration = sample_declaration(lines=3, reference=reference)
    await running["CN-CQ"].submit(declaration.model_dump_json().encode())

    def acknowledged() -> bool:
        rows = running["CN-CQ"].parts.ledger.by_reference(reference)
        return len(rows) == 2 and all(r.status is DeliveryStatus.DELIVERED for r in rows)

    await eventually(acknowledged)
    for recipient in ("LA-VTE", "TH-BKK"):
        got = [d for d in corridor.deliveries[recipient] if d.reference == reference]
        assert [d.declaration for d in got] == [declaration]


async def test_sealed_bytes_on_kafka_hide_the_declaration_and_only_the_recipient_opens_them(
    kafka: KafkaEndpoint, corridor: SmallCorridor, running: dict[str, CorridorNode]
) -> None:
    reference = unique("CQ-SEAL")
    declaration = sample_declaration(lines=2, reference=reference)
    await running["CN-CQ"].submit(declaration.model_dump_json().encode())
    await eventually(lambda: any(d.reference == reference for d in corridor.deliveries["TH-BKK"]))

    # A plain aiokafka consumer: what the corridor operator sees.
    consumer = AIOKafkaConsumer(
        corridor.topics.inbox("TH-BKK"), bootstrap_servers=kafka.bootstrap_servers,
        auto_offset_reset="earliest", group_id=None,
    )  # fmt: skip
    await consumer.start()
    try:
        raw = None
        while raw is None:
            batch = await consumer.getmany(timeout_ms=2000)
            assert batch, "record not found on the topic"
            raw = next(
                (r for rs in batch.values() for r in rs if r.key == reference.encode()), None
            )
    finally:
        await consumer.stop()
    assert raw.value is not None
    for text in ("重庆渝新欧国际贸易有限公司", "บริษัท สยามคอนติเนนตัล", "0105561234567", "CSQU"):
        assert text.encode() not in raw.value
    # Laos holds a valid node key of the corridor, yet cannot open what was sealed to Thailand.
    envelope = parse_envelope(tuple(raw.headers))
    verified = VerifiedMessage(envelope, raw.value, "CN-CQ", envelope.keyid)
    with pytest.raises(SignatureError) as refused:
        unseal_value(verified, corridor.identities["LA-VTE"].sealing_key)
    assert refused.value.code == "unseal-failed"
    opened = unseal_value(verified, corridor.identities["TH-BKK"].sealing_key)
    assert corridor.codec.decode_declaration(opened) == declaration


async def test_attacks_end_in_the_dead_letter_topic_and_the_stream_keeps_flowing(
    kafka: KafkaEndpoint, corridor: SmallCorridor, running: dict[str, CorridorNode]
) -> None:
    first, second = unique("CQ-ATK"), unique("CQ-ATK")
    await running["CN-CQ"].submit(
        sample_declaration(lines=1, reference=first).model_dump_json().encode()
    )
    await eventually(lambda: any(d.reference == first for d in corridor.deliveries["LA-VTE"]))
    [original] = await read_topic(
        kafka, corridor.topics.inbox("LA-VTE"), lambda r: r.key == first.encode()
    )
    [to_thailand] = await read_topic(
        kafka, corridor.topics.inbox("TH-BKK"), lambda r: r.key == first.encode()
    )
    flipped = bytearray(original.value)
    flipped[-5] ^= 0x40
    forged = tuple((k, b"CQ-FORGED" if k == "ce_subject" else v) for k, v in original.headers)
    laos = corridor.topics.inbox("LA-VTE")
    producer = corridor.transport.producer()
    await producer.start()
    try:
        for record in (
            OutboundRecord(laos, bytes(flipped), original.key, original.headers),
            OutboundRecord(laos, original.value, original.key, forged),
            OutboundRecord(laos, original.value, original.key, original.headers),  # a resend
            OutboundRecord(laos, to_thailand.value, original.key, to_thailand.headers),
        ):
            await producer.send(record)
    finally:
        await producer.stop()
    await running["CN-CQ"].submit(
        sample_declaration(lines=1, reference=second).model_dump_json().encode()
    )
    await eventually(lambda: any(d.reference == second for d in corridor.deliveries["LA-VTE"]))

    async def three_letters() -> bool:
        letters = await read_topic(
            kafka, corridor.topics.dead_letters("LA-VTE"), lambda r: r.key == first.encode()
        )
        return len(letters) == 3

    await eventually(three_letters)
    letters = await read_topic(
        kafka, corridor.topics.dead_letters("LA-VTE"), lambda r: r.key == first.encode()
    )
    codes = sorted(read_dead_letter(r).code for r in letters)
    assert codes == ["bad-signature", "bad-signature", "wrong-recipient"]
    assert [d.reference for d in corridor.deliveries["LA-VTE"]].count(first) == 1
    # The identical resend is a duplicate (AS4): acknowledged again with the same receipt.
    message_id = dict(original.headers)["ce_id"]
    laos_source = corridor.identities["LA-VTE"].source.encode()
    receipts = await read_topic(
        kafka,
        corridor.topics.inbox("CN-CQ"),
        lambda r: r.key == message_id and dict(r.headers)["ce_source"] == laos_source,
    )
    assert len(receipts) == 2
    assert receipts[0].value == receipts[1].value


async def test_key_rotation_and_revocation_apply_without_restart(
    kafka: KafkaEndpoint, corridor: SmallCorridor, running: dict[str, CorridorNode]
) -> None:
    sender = running["CN-CQ"]
    old_identity = corridor.identities["CN-CQ"]
    new_identity = issue_node(corridor.authorities["CN"], "CN-CQ", clock=corridor.clock)
    ca = corridor.authorities["CN"]
    producer = corridor.transport.producer()
    await producer.start()

    async def announce(announcement: SignedRecord) -> None:
        await producer.send(
            OutboundRecord(
                corridor.topics.keys,
                announcement.value,
                announcement.key,
                tuple(announcement.headers),
            )
        )

    async def send_as(identity: NodeIdentity, reference: str) -> None:
        parts = dataclasses.replace(sender.parts, identity=identity)
        node = CorridorNode(parts)
        await node.start(receive=False)
        try:
            await node.submit(
                sample_declaration(lines=1, reference=reference).model_dump_json().encode()
            )
        finally:
            await node._producer.stop()
            if node._keys_consumer is not None:
                await node._keys_consumer.stop()

    try:
        await announce(
            certificate_announcement(ca, new_identity.certificate, at=corridor.clock.now())
        )
        # Laos learns the new key from the directory while it runs.
        await eventually(lambda: new_identity.key_id in running["LA-VTE"].parts.keys)
        old_ref, new_ref = unique("CQ-OLD"), unique("CQ-NEW")
        await send_as(old_identity, old_ref)
        await send_as(new_identity, new_ref)

        def delivered(ref: str) -> bool:
            return any(d.reference == ref for d in corridor.deliveries["LA-VTE"])

        await eventually(lambda: delivered(old_ref) and delivered(new_ref))

        await announce(revocation_announcement(
            ca, old_identity.certificate, revoked_at=corridor.clock.now(),
            reason="key-compromise", at=corridor.clock.now(),
        ))  # fmt: skip
        await eventually(
            lambda: running["LA-VTE"].parts.keys.revoked_at(old_identity.key_id) is not None
        )
        after_ref = unique("CQ-REV")
        await send_as(old_identity, after_ref)

        async def refused() -> bool:
            letters = await read_topic(
                kafka, corridor.topics.dead_letters("LA-VTE"), lambda r: r.key == after_ref.encode()
            )
            return [read_dead_letter(r).code for r in letters] == ["revoked"]

        await eventually(refused)
        assert not delivered(after_ref)
    finally:
        await producer.stop()
