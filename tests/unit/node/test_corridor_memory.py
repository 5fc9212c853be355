"""Node logic on the in-memory transport: routing, receipts, dead letters, redelivery, policy.

The same behaviours are proven on real Kafka in tests/integration/test_corridor_kafka.py.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from broker.clock import FakeClock
from broker.errors import FormatError, Problem
from broker.model import Declaration, Receipt, ReceiptStatus
from broker.model.samples import sample_declaration
from broker.node.config import Partner
from broker.node.deadletter import read_dead_letter
from broker.node.ledger import DeliveryStatus
from broker.node.runtime import CorridorNode
from broker.policy import WITHHELD_KEY
from broker.signing.envelope import parse_envelope
from broker.signing.pki import issue_node
from broker.signing.records import declaration_record
from broker.transport.base import OutboundRecord
from broker.transport.memory import MemoryBroker, MemoryTransport
from tests.corridor_support import JsonFormat, SmallCorridor

PARTNERS = {
    "CN-CQ": (
        Partner(node_id="LA-VTE"),
        Partner(node_id="TH-BKK", seal=True),
        Partner(node_id="VN-HAN", allow_fields=("exporter.name", "goods_items.gross_mass_kg")),
    ),
    "LA-VTE": (Partner(node_id="CN-CQ"), Partner(node_id="TH-BKK")),
    "TH-BKK": (Partner(node_id="CN-CQ"), Partner(node_id="LA-VTE")),
    "VN-HAN": (Partner(node_id="CN-CQ"),),
}


@pytest.fixture
async def corridor(tmp_path: Path) -> SmallCorridor:
    clock = FakeClock()
    corridor = SmallCorridor(MemoryTransport(), clock, tmp_path, PARTNERS)
    await corridor.prepare()
    return corridor


@pytest.fixture
async def nodes(corridor: SmallCorridor) -> AsyncIterator[dict[str, CorridorNode]]:
    started = {node_id: corridor.node(node_id) for node_id in PARTNERS}
    for node in started.values():
        await node.start()
    yield started
    for node in started.values():
        await node.stop()
        node.parts.ledger.close()


def document(reference: str = "CQ-T-1", **changes: object) -> tuple[Declaration, bytes]:
    declaration = sample_declaration(lines=2, reference=reference)
    if changes:
        declaration = declaration.model_copy(update=changes)
    return declaration, declaration.model_dump_json().encode()


def broker_of(corridor: SmallCorridor) -> MemoryBroker:
    assert isinstance(corridor.transport, MemoryTransport)
    return corridor.transport.broker


async def drain(*nodes: CorridorNode) -> None:
    """Let every node handle what is in its inbox, twice (receipts travel back)."""
    for _ in range(2):
        for node in nodes:
            await node.process_inbox_batch()


async def test_rail_transit_reaches_laos_and_thailand_with_receipts_back(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    declaration, data = document()
    result = await nodes["CN-CQ"].submit(data)
    assert [s.recipient for s in result.sent] == ["LA-VTE", "TH-BKK"]
    await drain(*nodes.values())
    for recipient in ("LA-VTE", "TH-BKK"):
        [delivered] = corridor.deliveries[recipient]
        assert delivered.declaration == declaration  # whole, Decimal and script intact
        assert delivered.sender == "CN-CQ"
    rows = nodes["CN-CQ"].parts.ledger.by_reference("CQ-T-1")
    assert {(r.recipient, r.status) for r in rows} == {
        ("LA-VTE", DeliveryStatus.DELIVERED),
        ("TH-BKK", DeliveryStatus.DELIVERED),
    }
    assert corridor.deliveries.get("VN-HAN") == []  # not on the itinerary


async def test_sealed_partner_value_hides_the_declaration_from_the_operator(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    _, data = document()
    await nodes["CN-CQ"].submit(data)
    [to_thailand] = broker_of(corridor).records(corridor.topics.inbox("TH-BKK"))
    [to_laos] = broker_of(corridor).records(corridor.topics.inbox("LA-VTE"))
    exporter = "重庆渝新欧国际贸易有限公司".encode()
    # Thailand requires sealing, so the transit copy to Laos is sealed too (each to its own
    # recipient): a clear copy would hand the operator what sealing hides.
    for copy in (to_thailand, to_laos):
        assert exporter not in copy.value
        assert dict(copy.headers)["ce_sealalg"]
    assert dict(to_thailand.headers)["ce_sealkeyid"] != dict(to_laos.headers)["ce_sealkeyid"]
    await drain(*nodes.values())
    assert len(corridor.deliveries["LA-VTE"]) == 1


async def test_policy_withholds_fields_and_the_recipient_is_told(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    _, data = document(itinerary=("CN", "VN"), entry_place="VNHAN")
    result = await nodes["CN-CQ"].submit(data)
    to_vietnam = next(s for s in result.sent if s.recipient == "VN-HAN")
    assert "exporter.identifier" in to_vietnam.withheld
    await drain(nodes["VN-HAN"])
    [delivered] = corridor.deliveries["VN-HAN"]
    assert delivered.declaration.exporter is not None
    assert delivered.declaration.exporter.identifier is None
    assert "exporter.identifier" in delivered.declaration.extensions[WITHHELD_KEY]


async def test_attacks_are_dead_lettered_and_the_stream_keeps_flowing(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    _, first = document("CQ-A-1")
    await nodes["CN-CQ"].submit(first)
    memory = broker_of(corridor)
    [original] = memory.records(corridor.topics.inbox("LA-VTE"))
    laos = corridor.topics.inbox("LA-VTE")
    flipped = bytearray(original.value)
    flipped[10] ^= 1
    forged_subject = tuple(
        (k, b"CQ-FORGED" if k == "ce_subject" else v) for k, v in original.headers
    )
    # To Thailand, then dropped into the Lao inbox: signed for someone else.
    [to_thailand] = memory.records(corridor.topics.inbox("TH-BKK"))
    producer = corridor.transport.producer()
    # The same id signed again by its sender over other bytes: a replay, not a resend.
    identity = corridor.identities["CN-CQ"]
    head = parse_envelope(original.headers)
    other_value = original.value + b"\x00"
    resigned = declaration_record(
        identity, value=other_value, message_id=head.id, reference=head.subject or "",
        recipient="LA-VTE", time=head.time, dataschema=head.dataschema or "",
    ).headers  # fmt: skip
    for record in (
        OutboundRecord(laos, bytes(flipped), original.key, original.headers),
        OutboundRecord(laos, original.value, original.key, forged_subject),
        OutboundRecord(laos, original.value, original.key, original.headers),  # a resend
        OutboundRecord(laos, other_value, original.key, resigned),  # replay
        OutboundRecord(laos, to_thailand.value, to_thailand.key, to_thailand.headers),
    ):
        await producer.send(record)
    # A node certificate nobody announced on the key directory signs a message of its own.
    stranger = issue_node(corridor.authorities["CN"], "CN-XYZ", clock=corridor.clock)
    signed = declaration_record(
        stranger, value=original.value, message_id=str(uuid.uuid4()), reference="CQ-A-1",
        recipient="LA-VTE", time=corridor.clock.now(), dataschema="urn:x:y",
    )  # fmt: skip
    await producer.send(OutboundRecord(laos, signed.value, original.key, signed.headers))
    _, later = document("CQ-A-2")
    await nodes["CN-CQ"].submit(later)  # the legitimate stream continues behind the attacks
    await drain(nodes["LA-VTE"])

    letters = [read_dead_letter(r) for r in memory.records(corridor.topics.dead_letters("LA-VTE"))]
    assert [letter.code for letter in letters] == [
        "bad-signature",
        "bad-signature",
        "replay",
        "wrong-recipient",
        "unknown-key-id",
    ]
    assert all(letter.value for letter in letters)  # original bytes kept for inspection
    assert all(letter.reason.startswith("header ce_") for letter in letters)  # names it
    assert not any(letter.reason.startswith(letter.code) for letter in letters)  # code once
    assert all(letter.source.startswith(laos + "/") for letter in letters)
    # The identical resend was acknowledged again (the same receipt, byte for byte), not
    # delivered again: AS4 duplicate elimination.
    assert [d.reference for d in corridor.deliveries["LA-VTE"]] == ["CQ-A-1", "CQ-A-2"]
    receipts = memory.records(corridor.topics.inbox("CN-CQ"))
    about_first = [r for r in receipts if r.key == head.id.encode()]
    assert len(about_first) == 2
    assert about_first[0].value == about_first[1].value


async def test_a_record_read_again_after_a_crash_is_delivered_once(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    _, data = document("CQ-C-1")
    await nodes["CN-CQ"].submit(data)
    laos = nodes["LA-VTE"]
    [record] = broker_of(corridor).records(corridor.topics.inbox("LA-VTE"))
    # Delivered, then "crashed" before committing: a fresh process reads the same record.
    await laos._receiver.handle(record)
    await laos._receiver.commit()
    await laos.stop()
    laos.parts.ledger.close()
    restarted = corridor.node("LA-VTE")
    await restarted.start()
    try:
        assert await restarted.process_inbox_batch() == 1
    finally:
        await restarted.stop()
        restarted.parts.ledger.close()
    assert len(corridor.deliveries["LA-VTE"]) == 1
    assert broker_of(corridor).records(corridor.topics.dead_letters("LA-VTE")) == []
    receipts = broker_of(corridor).records(corridor.topics.inbox("CN-CQ"))
    # The crash came before the batch's receipt was produced; the restarted node sends it.
    assert len(receipts) == 1


async def test_missing_receipts_become_overdue(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    _, data = document("CQ-O-1")
    await nodes["CN-CQ"].submit(data)
    assert isinstance(corridor.clock, FakeClock)
    corridor.clock.advance(31)
    nodes["CN-CQ"].keep_books()
    statuses = {r.status for r in nodes["CN-CQ"].parts.ledger.by_reference("CQ-O-1")}
    assert statuses == {DeliveryStatus.OVERDUE}
    metrics = nodes["CN-CQ"].parts.metrics.registry
    overdue = metrics.get_sample_value(
        "customs_receipts_overdue", {"node": "CN-CQ", "partner": "LA-VTE"}
    )
    assert overdue == 1.0
    await drain(nodes["LA-VTE"], nodes["TH-BKK"], nodes["CN-CQ"])  # a late receipt still counts
    statuses = {r.status for r in nodes["CN-CQ"].parts.ledger.by_reference("CQ-O-1")}
    assert statuses == {DeliveryStatus.DELIVERED}


async def test_gateway_sends_complete_files_only_and_keeps_them_during_an_outage(
    corridor: SmallCorridor, tmp_path: Path
) -> None:
    node = corridor.node("CN-CQ", gateway=True)
    await node.start()
    gateway = node.parts.gateway
    assert gateway is not None
    _, data = document("CQ-G-1")
    (gateway.outbox / ".CQ-G-1.xml.tmp").write_bytes(data[:50])  # still being written
    (gateway.outbox / "CQ-G-1.json").write_bytes(data)
    (gateway.outbox / "broken.json").write_bytes(b"{not json")
    stop = asyncio.Event()
    loop = asyncio.create_task(node._gateway_loop(stop, settle_s=0.0))
    for _ in range(50):
        if not (gateway.outbox / "CQ-G-1.json").exists():
            break
        await asyncio.sleep(0.05)
    assert (gateway.sent / "CQ-G-1.json").exists()
    assert (gateway.failed / "broken.json").exists()
    assert "invalid" in (gateway.failed / "broken.json.error.txt").read_text()
    assert (gateway.outbox / ".CQ-G-1.xml.tmp").exists()  # never picked up half-written

    broker_of(corridor).available = False  # Kafka outage
    _, more = document("CQ-G-2")
    (gateway.outbox / "CQ-G-2.json").write_bytes(more)
    await asyncio.sleep(0.5)
    assert (gateway.outbox / "CQ-G-2.json").exists()
    assert not (gateway.sent / "CQ-G-2.json").exists()
    broker_of(corridor).available = True
    for _ in range(50):
        if (gateway.sent / "CQ-G-2.json").exists():
            break
        await asyncio.sleep(0.05)
    assert (gateway.sent / "CQ-G-2.json").exists()
    stop.set()
    await loop
    await node.stop()
    node.parts.ledger.close()


class RefusingFormat(JsonFormat):
    """A national format that cannot express what arrives: every render is refused."""

    def render(self, declaration: Declaration, *, require_mandatory: bool = True) -> Any:
        raise FormatError.collect("cannot render", [Problem("no such code", field="kind")])


class RefusingFormats:
    def get(self, format_id: str) -> RefusingFormat:
        return RefusingFormat()


async def receipts_to(corridor: SmallCorridor, node_id: str) -> list[Receipt]:
    records = broker_of(corridor).records(corridor.topics.inbox(node_id))
    return [
        corridor.codec.decode_receipt(r.value)
        for r in records
        if dict(r.headers)["ce_type"].endswith(b"receipt.v1")
    ]


async def test_a_rejection_read_again_after_a_crash_is_rejected_again(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    _, data = document("CQ-R-1")
    await nodes["CN-CQ"].submit(data)
    [record] = broker_of(corridor).records(corridor.topics.inbox("LA-VTE"))
    # One LA-VTE process at a time: members of a group split its partitions, as on Kafka.
    await nodes["LA-VTE"].stop()
    first = corridor.node("LA-VTE", formats=RefusingFormats())
    await first.start()
    await first._receiver.handle(record)  # rejected, then "crashed" before the receipt went out
    await first._receiver.commit()
    await first.stop()
    first.parts.ledger.close()
    restarted = corridor.node("LA-VTE", formats=RefusingFormats())
    await restarted.start()
    try:
        await restarted.process_inbox_batch()
    finally:
        await restarted.stop()
        restarted.parts.ledger.close()
    [receipt] = await receipts_to(corridor, "CN-CQ")
    assert receipt.status is ReceiptStatus.REJECTED  # the same answer, not a silent "accepted"
    assert receipt.errors[0].reason == "no such code"


async def test_receipts_read_again_are_not_mistaken_for_replays(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    _, data = document("CQ-RR-1")
    await nodes["CN-CQ"].submit(data)
    await drain(nodes["LA-VTE"], nodes["TH-BKK"])
    receipts = list(broker_of(corridor).records(corridor.topics.inbox("CN-CQ")))
    for record in receipts:  # handled, then "crashed" before the commit: read again
        await nodes["CN-CQ"]._receiver.handle(record)
        await nodes["CN-CQ"]._receiver.handle(record)
    await nodes["CN-CQ"]._receiver.flush()
    assert broker_of(corridor).records(corridor.topics.dead_letters("CN-CQ")) == []


async def test_a_message_id_that_is_not_a_uuid_is_dead_lettered(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    identity = corridor.identities["CN-CQ"]
    _, data = document("CQ-U-1")
    value = corridor.codec.encode_declaration(Declaration.model_validate_json(data))
    signed = declaration_record(
        identity, value=value, message_id=str(uuid.uuid4()), reference="CQ-U-1",
        recipient="LA-VTE", time=corridor.clock.now(), dataschema="urn:x:y",
    )  # fmt: skip
    # A writer that does not follow the id rule: the parser refuses before any signature check.
    headers = tuple((n, b"not-a-uuid" if n == "ce_id" else v) for n, v in signed.headers)
    producer = corridor.transport.producer()
    await producer.send(OutboundRecord(corridor.topics.inbox("LA-VTE"), value, signed.key, headers))
    await drain(nodes["LA-VTE"])
    [letter] = [
        read_dead_letter(r)
        for r in broker_of(corridor).records(corridor.topics.dead_letters("LA-VTE"))
    ]
    assert letter.code == "malformed-envelope"
    assert corridor.deliveries["LA-VTE"] == []
