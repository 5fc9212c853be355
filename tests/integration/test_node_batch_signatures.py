"""Batch signatures (envelope v3) between nodes on real Kafka, negotiated by the directory.

CN-CQ sends rail transit declarations to Laos (whose directory entry says envelope 3) and to
Thailand (envelope 2) at once: on the wire Laos's copies share one signature and each carries its
proof, Thailand's are signed one by one, and both sides deliver and answer. The receipts Laos
sends back for one fetched batch are batch-signed too; a v3 record dead-lettered by Laos still
verifies alone, years later, without the batch it came in.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from broker.clock import SystemClock
from broker.model import MessageFunction
from broker.model.samples import sample_declaration
from broker.node.config import Partner
from broker.node.deadletter import read_dead_letter
from broker.node.ledger import DeliveryStatus
from broker.node.runtime import CorridorNode
from broker.signing.envelope import parse_envelope
from broker.signing.keystore import KeyStore
from broker.signing.replay import MemoryReplayStore
from broker.signing.verify import Verifier
from broker.transport.base import InboundRecord
from broker.transport.kafka import KafkaTransport
from broker.transport.settings import KafkaSettings
from tests.corridor_support import SmallCorridor
from tests.kafka_support import KafkaEndpoint

pytestmark = pytest.mark.timeout(120)

PARTNERS: dict[str, tuple[Partner, ...]] = {
    "CN-CQ": (Partner(node_id="LA-VTE", envelope=3), Partner(node_id="TH-BKK", envelope=2)),
    "LA-VTE": (Partner(node_id="CN-CQ", envelope=3),),
    "TH-BKK": (Partner(node_id="CN-CQ", envelope=3),),
}


@pytest.fixture
async def corridor(kafka: KafkaEndpoint, tmp_path: Path) -> SmallCorridor:
    transport = KafkaTransport(KafkaSettings(bootstrap_servers=kafka.bootstrap_servers))
    corridor = SmallCorridor(transport, SystemClock(), tmp_path, PARTNERS)
    await corridor.prepare()
    return corridor


@pytest.fixture
async def running(corridor: SmallCorridor) -> AsyncIterator[dict[str, CorridorNode]]:
    async with corridor.running(gateway=True, serve=True) as nodes:
        yield nodes


async def read_topic(kafka: KafkaEndpoint, topic: str) -> list[InboundRecord]:
    transport = KafkaTransport(KafkaSettings(bootstrap_servers=kafka.bootstrap_servers))
    consumer = transport.consumer([topic], None)
    await consumer.start()
    found: list[InboundRecord] = []
    try:
        while not await consumer.caught_up():
            found.extend(await consumer.fetch(500, 1.0))
    finally:
        await consumer.stop()
    return found


def signatures(records: list[InboundRecord]) -> set[bytes]:
    return {dict(r.headers)["ce_signature"] for r in records}


async def test_v3_to_an_envelope_3_partner_v2_to_an_envelope_2_partner_and_receipts_batched(
    kafka: KafkaEndpoint, corridor: SmallCorridor, running: dict[str, CorridorNode]
) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    references = [f"CQ-V3-{tag}-{i}" for i in range(4)]
    documents = [
        sample_declaration(lines=2, reference=r).model_dump_json().encode() for r in references
    ]
    await asyncio.gather(*(running["CN-CQ"].submit(d) for d in documents))
    ledger = running["CN-CQ"].parts.ledger
    deadline = asyncio.get_running_loop().time() + 60
    while asyncio.get_running_loop().time() < deadline:
        rows = [row for r in references for row in ledger.by_reference(r)]
        if len(rows) == 8 and all(row.status is DeliveryStatus.DELIVERED for row in rows):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"not all receipts back: {[(r.reference, r.status) for r in rows]}")
    assert {len(corridor.deliveries[n]) for n in ("LA-VTE", "TH-BKK")} == {4}

    laos = await read_topic(kafka, corridor.topics.inbox("LA-VTE"))
    assert len(laos) == 4
    assert {parse_envelope(r.headers).version for r in laos} == {3}
    assert len(signatures(laos)) == 1  # one signature for the four copies
    assert {dict(r.headers)["ce_sigproof"].split(b";")[1] for r in laos} == {b"4"}
    thailand = await read_topic(kafka, corridor.topics.inbox("TH-BKK"))
    assert len(thailand) == 4
    assert {parse_envelope(r.headers).version for r in thailand} == {2}
    assert len(signatures(thailand)) == 4
    receipts = await read_topic(kafka, corridor.topics.inbox("CN-CQ"))
    assert len(receipts) == 8
    assert {parse_envelope(r.headers).version for r in receipts} == {3}  # CN-CQ says 3
    # Each receiver answered each fetched batch with one signature: fewer than one per receipt.
    assert len(signatures(receipts)) < 8


async def test_a_v3_record_in_a_dead_letter_on_kafka_verifies_alone(
    kafka: KafkaEndpoint, corridor: SmallCorridor, running: dict[str, CorridorNode]
) -> None:
    tag = uuid.uuid4().hex[:8].upper()
    original = sample_declaration(lines=1, reference=f"CQ-V3-{tag}-A")
    orphan = sample_declaration(lines=1, reference=f"CQ-V3-{tag}-B").model_copy(
        update={"function": MessageFunction.CHANGE}  # Laos never had its original
    )
    await asyncio.gather(
        *(running["CN-CQ"].submit(d.model_dump_json().encode()) for d in (original, orphan))
    )
    topic = corridor.topics.dead_letters("LA-VTE")
    letters: list[InboundRecord] = []
    deadline = asyncio.get_running_loop().time() + 60
    while not letters and asyncio.get_running_loop().time() < deadline:
        letters = await read_topic(kafka, topic)
        await asyncio.sleep(0.2)
    [record] = letters
    letter = read_dead_letter(record)
    assert letter.code == "unknown-original"
    keys = KeyStore(corridor.trust_list)
    keys.add(corridor.identities["CN-CQ"].certificate)
    alone = Verifier(  # a fresh verifier: no root cache, no other record of the batch
        node_id="LA-VTE",
        keys=keys,
        replay=MemoryReplayStore(timedelta(days=30), corridor.clock),
        clock=corridor.clock,
    )
    verified = alone.verify(letter.original_headers, letter.value)
    assert verified.envelope.version == 3
    assert verified.envelope.proof is not None
    assert verified.envelope.proof.tree_size == 2
