"""The receiver rules of docs/signing.md, each against the attack or fault that broke it.

A partner node with a valid certificate crafts records the way a hostile integrator would (its
own key, its own ce_ids, any payload); faults are made from outside (a gateway folder that is
not a folder, a ledger that cannot write). On the in-memory twin; the attacks are repeated on
real Kafka from outside the code in tests/integration/test_attacks.py.
"""

from __future__ import annotations

import hashlib
import sqlite3
import stat
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from broker.clock import FakeClock
from broker.errors import FormatError, Problem
from broker.model import Declaration, MessageFunction, Receipt, ReceiptStatus
from broker.model.samples import sample_declaration
from broker.node.config import Partner
from broker.node.deadletter import DLQ_VALUE_SHA256, read_dead_letter
from broker.node.ledger import DeliveryStatus, ReceiptCheck
from broker.node.receiver import Outcome
from broker.node.runtime import CorridorNode
from broker.signing.records import declaration_record, receipt_record
from broker.transport.base import InboundRecord, OutboundRecord, TimestampType
from broker.transport.memory import MemoryBroker, MemoryTransport
from tests.corridor_support import JsonFormat, SmallCorridor

PARTNERS = {
    "CN-CQ": (Partner(node_id="LA-VTE"), Partner(node_id="TH-BKK"), Partner(node_id="VN-HAN")),
    "LA-VTE": (Partner(node_id="CN-CQ"), Partner(node_id="TH-BKK")),
    "TH-BKK": (Partner(node_id="CN-CQ"), Partner(node_id="LA-VTE", seal=True)),
    "VN-HAN": (Partner(node_id="CN-CQ"),),  # not a partner of Thailand
}


@pytest.fixture
async def corridor(tmp_path: Path) -> SmallCorridor:
    corridor = SmallCorridor(MemoryTransport(), FakeClock(), tmp_path, PARTNERS)
    await corridor.prepare()
    return corridor


@pytest.fixture
async def nodes(corridor: SmallCorridor) -> AsyncIterator[dict[str, CorridorNode]]:
    async with corridor.running() as started:
        yield started


def memory(corridor: SmallCorridor) -> MemoryBroker:
    return corridor.memory_broker


def letters(corridor: SmallCorridor, node_id: str) -> list[tuple[str, str]]:
    found = memory(corridor).records(corridor.topics.dead_letters(node_id))
    return [(read_dead_letter(r).code, read_dead_letter(r).reason) for r in found]


def receipts(corridor: SmallCorridor, node_id: str) -> list[Receipt]:
    return [
        corridor.codec.decode_receipt(r.value)
        for r in memory(corridor).records(corridor.topics.inbox(node_id))
        if dict(r.headers)["ce_type"].endswith(b"receipt.v1")
    ]


async def craft(
    corridor: SmallCorridor,
    sender: str,
    recipient: str,
    declaration: Declaration,
    *,
    message_id: str | None = None,
    subject: str | None = None,
    key: bytes | None = None,
) -> None:
    """What a partner node can put in another's inbox with its own valid key."""
    signed = declaration_record(
        corridor.identities[sender],
        value=corridor.codec.encode_declaration(declaration),
        message_id=message_id or str(declaration.message_id),
        reference=subject or declaration.functional_reference,
        recipient=recipient,
        time=corridor.clock.now(),
        dataschema=corridor.codec.writer_dataschema("declaration"),
    )
    producer = corridor.transport.producer()
    await producer.send(
        OutboundRecord(
            corridor.topics.inbox(recipient),
            signed.value,
            signed.key if key is None else key,
            signed.headers,
        )
    )


def ready(node: CorridorNode) -> bool:
    """What /readyz answers (a function: mypy would narrow a property across the awaits)."""
    return node.ready


def chinese(reference: str = "CQ-RULE-1") -> Declaration:
    return sample_declaration(lines=1, reference=reference)


async def test_a_partner_cannot_cancel_another_senders_declaration(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    original = chinese()
    await nodes["CN-CQ"].submit(original.model_dump_json().encode())
    await nodes["TH-BKK"].process_inbox_batch()
    # LA-VTE saw the Chinese declaration in its transit copy: same reference, same ce_id.
    cancellation = original.model_copy(update={"function": MessageFunction.CANCELLATION})
    await craft(corridor, "LA-VTE", "TH-BKK", cancellation)
    await nodes["TH-BKK"].process_inbox_batch()
    [(code, reason)] = letters(corridor, "TH-BKK")
    assert code == "unknown-original"
    assert "field function" in reason
    assert [d.sender for d in corridor.deliveries["TH-BKK"]] == ["CN-CQ"]
    gateway = nodes["TH-BKK"].parts.gateway
    assert gateway is not None
    [delivered] = gateway.inbox.iterdir()
    assert delivered.name.startswith("CN-CQ.CQ-RULE-1.")  # the file names its sender
    # The genuine record read again (a crash before the commit) is the same message.
    [genuine] = [
        r
        for r in memory(corridor).records(corridor.topics.inbox("TH-BKK"))
        if dict(r.headers)["ce_source"] == corridor.identities["CN-CQ"].source.encode()
    ]
    handled = await nodes["TH-BKK"]._receiver.handle(genuine)
    assert handled.outcome is Outcome.REDELIVERED
    # A change from the sender of the original is taken.
    change = original.model_copy(
        update={"function": MessageFunction.CHANGE, "message_id": uuid.uuid4()}
    )
    await nodes["CN-CQ"].submit(change.model_dump_json().encode())
    await nodes["TH-BKK"].process_inbox_batch()
    assert [d.declaration.function for d in corridor.deliveries["TH-BKK"]] == [
        MessageFunction.ORIGINAL,
        MessageFunction.CHANGE,
    ]


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"message_id": str(uuid.uuid4())}, "field message_id"),
        ({"subject": "LA-OTHER-REF"}, "field functional_reference"),
        ({"key": b"CQ-RULE-1-elsewhere"}, "record key"),
    ],
    ids=["ce_id", "ce_subject", "kafka-key"],
)
async def test_the_payload_and_key_say_what_the_signed_headers_say(
    corridor: SmallCorridor,
    nodes: dict[str, CorridorNode],
    changes: dict[str, Any],
    named: str,
) -> None:
    laotian = chinese("LA-RULE-2")
    await craft(corridor, "LA-VTE", "TH-BKK", laotian, **changes)
    await nodes["TH-BKK"].process_inbox_batch()
    [(code, reason)] = letters(corridor, "TH-BKK")
    assert code == "binding-mismatch"
    assert named in reason
    assert corridor.deliveries["TH-BKK"] == []


async def test_only_configured_partners_are_heard(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    await craft(corridor, "VN-HAN", "TH-BKK", chinese("VN-RULE-3"))
    await nodes["TH-BKK"].process_inbox_batch()
    [(code, reason)] = letters(corridor, "TH-BKK")
    assert (code, "header ce_source" in reason) == ("not-a-partner", True)
    assert receipts(corridor, "VN-HAN") == []  # no answer to a stranger


async def test_foreign_native_blocks_are_not_rendered_as_the_receivers_own(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    # Thailand's national format here is test-json: `test-json:*` extensions are its own.
    forged = chinese("LA-RULE-4").model_copy(
        update={"extensions": {"test-json:DecSign/Sign": "signed by TH", "acdd-xml:Remark": "kept"}}
    )
    await craft(corridor, "LA-VTE", "TH-BKK", forged)
    await nodes["TH-BKK"].process_inbox_batch()
    [delivered] = corridor.deliveries["TH-BKK"]
    assert dict(delivered.declaration.extensions) == {"acdd-xml:Remark": "kept"}
    [receipt] = receipts(corridor, "LA-VTE")
    assert receipt.status is ReceiptStatus.ACCEPTED
    assert [e.code for e in receipt.errors] == ["15"]


async def test_a_receipt_must_quote_the_digest_node_and_subject_sent(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    declaration = chinese("CQ-RULE-5").model_copy(update={"itinerary": ("CN", "VN")})
    await nodes["CN-CQ"].submit(declaration.model_dump_json().encode())
    [sent] = memory(corridor).records(corridor.topics.inbox("VN-HAN"))
    referenced = str(declaration.message_id)

    async def answer(digest: bytes, node: str, subject: str) -> None:
        receipt = Receipt(
            message_id=uuid.uuid4(), referenced_message_id=uuid.UUID(referenced),
            received_sha256=digest, receiving_node=node, status=ReceiptStatus.ACCEPTED,
            issue_time=corridor.clock.now(),
        )  # fmt: skip
        signed = receipt_record(
            corridor.identities["VN-HAN"], value=corridor.codec.encode_receipt(receipt),
            message_id=str(receipt.message_id), referenced_message_id=subject,
            recipient="CN-CQ", time=corridor.clock.now(),
            dataschema=corridor.codec.writer_dataschema("receipt"),
        )  # fmt: skip
        await corridor.transport.producer().send(
            OutboundRecord(corridor.topics.inbox("CN-CQ"), signed.value, signed.key, signed.headers)
        )

    right = hashlib.sha256(sent.value).digest()
    await answer(hashlib.sha256(b"something else").digest(), "VN-HAN", referenced)
    await answer(right, "LA-VTE", referenced)
    await answer(right, "VN-HAN", str(uuid.uuid4()))
    await nodes["CN-CQ"].process_inbox_batch()
    found = letters(corridor, "CN-CQ")
    assert [code for code, _ in found] == ["receipt-mismatch"] * 3
    named = sorted(
        next(n for n in ("received_sha256", "receiving_node", "ce_subject") if n in reason)
        for _, reason in found
    )
    assert named == ["ce_subject", "received_sha256", "receiving_node"]  # each names its field

    def status() -> DeliveryStatus:
        rows = nodes["CN-CQ"].parts.ledger.by_message(referenced)
        return next(row.status for row in rows if row.recipient == "VN-HAN")

    assert status() is DeliveryStatus.SENT  # none of them counts as proof of receipt
    await answer(right, "VN-HAN", referenced)
    await nodes["CN-CQ"].process_inbox_batch()
    assert status() is DeliveryStatus.DELIVERED


def test_a_receipt_before_its_row_is_kept_until_the_row_comes(tmp_path: Path) -> None:
    from broker.node.ledger import NodeLedger

    ledger = NodeLedger(tmp_path / "state" / "node.sqlite3")
    at = FakeClock().now()
    assert ledger.record_receipt("m1", "LA-VTE", True, "", at, "ab" * 32) is ReceiptCheck.EARLY
    ledger.record_sent("m1", "LA-VTE", "REF", at, "ab" * 32)
    [row] = ledger.by_message("m1")
    assert row.status is DeliveryStatus.DELIVERED
    ledger.close()


def test_early_receipts_are_bounded_per_partner_cut_short_and_forgotten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from broker.node import ledger as ledger_module

    monkeypatch.setattr(ledger_module, "MAX_EARLY_RECEIPTS", 3)
    ledger = ledger_module.NodeLedger(tmp_path / "state" / "node.sqlite3")
    clock = FakeClock()
    early = ReceiptCheck.EARLY
    for n in range(3):
        detail = "x" * 5000
        assert ledger.record_receipt(f"m{n}", "LA-VTE", False, detail, clock.now(), "ab") is early
    assert ledger.record_receipt("m9", "LA-VTE", True, "", clock.now(), "ab") is (
        ReceiptCheck.TOO_MANY_EARLY
    )
    assert ledger.record_receipt("m0", "LA-VTE", True, "", clock.now(), "ab") is early  # the same
    assert ledger.record_receipt("m9", "VN-HAN", True, "", clock.now(), "ab") is early  # another
    ledger.record_sent("m1", "LA-VTE", "REF", clock.now(), "ab")
    [row] = ledger.by_message("m1")
    assert row.status is DeliveryStatus.REJECTED
    assert row.detail == "x" * ledger_module.EARLY_DETAIL_CHARS
    clock.advance(31 * 86400)
    assert ledger.forget_early_receipts(clock.now() - timedelta(days=30)) == 3
    assert ledger.record_receipt("m9", "LA-VTE", True, "", clock.now(), "ab") is early
    ledger.close()


async def test_receipts_about_messages_never_sent_end_as_dead_letters_past_the_bound(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A partner with a valid key answering messages this node never sent would otherwise fill
    # its state disk with early receipts (found by an attack from outside).
    from broker.node import ledger as ledger_module

    monkeypatch.setattr(ledger_module, "MAX_EARLY_RECEIPTS", 2)
    for _ in range(4):
        receipt = Receipt(
            message_id=uuid.uuid4(), referenced_message_id=uuid.uuid4(),
            received_sha256=b"\x00" * 32, receiving_node="VN-HAN",
            status=ReceiptStatus.ACCEPTED, issue_time=corridor.clock.now(),
        )  # fmt: skip
        signed = receipt_record(
            corridor.identities["VN-HAN"], value=corridor.codec.encode_receipt(receipt),
            message_id=str(receipt.message_id),
            referenced_message_id=str(receipt.referenced_message_id),
            recipient="CN-CQ", time=corridor.clock.now(),
            dataschema=corridor.codec.writer_dataschema("receipt"),
        )  # fmt: skip
        await corridor.transport.producer().send(
            OutboundRecord(corridor.topics.inbox("CN-CQ"), signed.value, signed.key, signed.headers)
        )
    await nodes["CN-CQ"].process_inbox_batch()
    found = letters(corridor, "CN-CQ")
    assert [code for code, _ in found] == ["receipt-mismatch"] * 2
    assert all("sent no such message to VN-HAN" in reason for _, reason in found)


class ValueQuotingFormat(JsonFormat):
    def render(self, declaration: Declaration, *, require_mandatory: bool = True) -> Any:
        problem = Problem("not in the code list", field="exporter.name", value="SECRET-NAME")
        raise FormatError.collect("cannot render", [problem])


class ValueQuotingFormats:
    def get(self, format_id: str) -> ValueQuotingFormat:
        return ValueQuotingFormat()


async def test_receipts_about_sealed_declarations_quote_no_values(
    corridor: SmallCorridor,
) -> None:
    laos = corridor.node("LA-VTE", formats=ValueQuotingFormats())
    await laos.start()
    try:
        await craft(corridor, "TH-BKK", "LA-VTE", chinese("TH-RULE-6"))  # not sealed
        sealed = chinese("TH-RULE-7")
        thailand = corridor.node("TH-BKK")
        await thailand.start()
        sealed = sealed.model_copy(update={"itinerary": ("TH", "LA")})
        await thailand.submit(sealed.model_dump_json().encode())
        await thailand.stop()
        thailand.parts.ledger.close()
        await laos.process_inbox_batch()
    finally:
        await laos.stop()
        laos.parts.ledger.close()
    clear, hidden = receipts(corridor, "TH-BKK")
    assert clear.status is hidden.status is ReceiptStatus.REJECTED
    assert clear.errors[0].original_value == "SECRET-NAME"
    assert hidden.errors[0].original_value is None  # the declaration was sealed


async def test_a_dead_letter_too_large_for_kafka_is_reduced(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    [announced] = memory(corridor).records(corridor.topics.keys)[:1]
    huge = b"\x00" * (1024 * 1024 - 2000)  # a Kafka-legal record with one header too many
    await corridor.transport.producer().send(
        OutboundRecord(corridor.topics.inbox("TH-BKK"), huge, b"k", announced.headers)
    )
    await craft(corridor, "CN-CQ", "TH-BKK", chinese("CQ-RULE-8"))
    await nodes["TH-BKK"].process_inbox_batch()
    [record] = memory(corridor).records(corridor.topics.dead_letters("TH-BKK"))
    letter = read_dead_letter(record)
    assert letter.reduced
    assert letter.value == b""
    assert letter.code == "malformed-envelope"  # its reason is kept
    digest = hashlib.sha256(huge).hexdigest().encode()
    assert dict(record.headers)[DLQ_VALUE_SHA256] == digest
    assert [d.reference for d in corridor.deliveries["TH-BKK"]] == ["CQ-RULE-8"]


async def test_an_answer_kafka_never_takes_is_kept_and_the_partition_moves_on(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    del memory(corridor).logs[corridor.topics.inbox("LA-VTE")]  # a partner without an inbox
    await craft(corridor, "LA-VTE", "TH-BKK", chinese("LA-RULE-9"))
    await craft(corridor, "CN-CQ", "TH-BKK", chinese("CQ-RULE-9"))
    thailand = nodes["TH-BKK"]
    assert await thailand.process_inbox_batch() == 2
    assert thailand.ready
    [(topic, kind, why, _)] = thailand.parts.ledger.unsent()
    assert (topic, kind) == (corridor.topics.inbox("LA-VTE"), "receipt")
    assert "unknown topic" in why
    assert len(receipts(corridor, "CN-CQ")) == 1
    assert await thailand.process_inbox_batch() == 0  # committed: nothing is read again


async def test_an_unwritable_gateway_holds_the_partition_then_resumes(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    thailand = nodes["TH-BKK"]
    gateway = thailand.parts.gateway
    assert gateway is not None
    gateway.inbox.rmdir()
    gateway.inbox.write_bytes(b"")  # not a folder any more: every delivery fails (even as root)
    await craft(corridor, "CN-CQ", "TH-BKK", chinese("CQ-RULE-10"))
    assert await thailand.process_inbox_batch() == 0
    assert not ready(thailand)  # /readyz says so
    registry = thailand.parts.metrics.registry
    assert registry.get_sample_value("customs_inbox_held", {"node": "TH-BKK"}) == 1
    assert letters(corridor, "TH-BKK") == []  # a local fault is not the sender's problem
    gateway.inbox.unlink()
    gateway.inbox.mkdir()
    await thailand._restart_inbox()
    assert await thailand.process_inbox_batch() == 1
    assert ready(thailand)
    assert len(list(gateway.inbox.iterdir())) == 1
    assert len(receipts(corridor, "CN-CQ")) == 1


async def test_a_ledger_fault_after_delivery_is_not_a_second_delivery(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    thailand = nodes["TH-BKK"]
    ledger = thailand.parts.ledger
    real = ledger.record_handled
    faults = iter([sqlite3.OperationalError("database or disk is full")])

    def failing(*args: Any, **kwargs: Any) -> None:
        fault = next(faults, None)
        if fault is not None:
            raise fault
        real(*args, **kwargs)

    monkeypatch.setattr(ledger, "record_handled", failing)
    await craft(corridor, "CN-CQ", "TH-BKK", chinese("CQ-RULE-11"))
    assert await thailand.process_inbox_batch() == 0  # delivered, not recorded: held
    gateway = thailand.parts.gateway
    assert gateway is not None
    [taken] = gateway.inbox.iterdir()
    taken.unlink()  # the national system took the file meanwhile: it must not come again
    await thailand._restart_inbox()
    assert await thailand.process_inbox_batch() == 1
    assert list(gateway.inbox.iterdir()) == []  # not written a second time
    assert letters(corridor, "TH-BKK") == []
    assert len(list(gateway.handled_folder.iterdir())) == 2  # the answer, the reference owned
    assert len(receipts(corridor, "CN-CQ")) == 1


async def test_state_and_delivered_files_are_owner_only(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    await craft(corridor, "CN-CQ", "TH-BKK", chinese("CQ-RULE-12"))
    await nodes["TH-BKK"].process_inbox_batch()
    thailand = nodes["TH-BKK"]
    gateway = thailand.parts.gateway
    assert gateway is not None
    state = thailand.parts.config.state_dir
    paths = [state, *state.iterdir(), gateway.inbox, *gateway.inbox.iterdir()]
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


async def test_a_non_canonical_uuid_is_refused(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    declaration = chinese("CQ-RULE-13")
    await craft(corridor, "CN-CQ", "TH-BKK", declaration)
    [record] = memory(corridor).records(corridor.topics.inbox("TH-BKK"))
    upper = str(declaration.message_id).upper().encode()
    headers = tuple((n, upper if n == "ce_id" else v) for n, v in record.headers)
    await corridor.transport.producer().send(
        OutboundRecord(record.topic, record.value, record.key, headers)
    )
    await nodes["TH-BKK"].process_inbox_batch()
    assert [code for code, _ in letters(corridor, "TH-BKK")] == ["malformed-envelope"]
    assert len(corridor.deliveries["TH-BKK"]) == 1


async def test_a_revocation_erased_from_the_topic_is_remembered(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    from broker.signing.records import revocation_announcement

    identity = corridor.identities["CN-CQ"]
    revocation = revocation_announcement(
        corridor.authorities["CN"], identity.certificate, revoked_at=corridor.clock.now(),
        reason="key-compromise", at=corridor.clock.now(),
    )  # fmt: skip
    keys = corridor.topics.keys
    await corridor.transport.producer().send(
        OutboundRecord(keys, revocation.value, revocation.key, revocation.headers)
    )
    thailand = nodes["TH-BKK"]
    await thailand._apply_keys(timeout_s=0.1)
    await thailand.stop()
    thailand.parts.ledger.close()
    # Compaction (or a hub operator) leaves only the old certificate announcement.
    log = memory(corridor).logs[keys][0]
    log[:] = [e for e in log if e.record is None or e.record.key != revocation.key]
    restarted = corridor.node("TH-BKK")
    await restarted.start()
    try:
        assert restarted.parts.keys.revoked_at(identity.key_id) is not None
    finally:
        await restarted.stop()
        restarted.parts.ledger.close()
    nodes.pop("TH-BKK")


async def test_a_second_process_of_the_node_knows_what_the_first_delivered(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    """Scale-out: two processes of TH-BKK, each with its own state folder, one gateway."""
    first = nodes["TH-BKK"]
    original = chinese("CQ-RULE-14")
    await nodes["CN-CQ"].submit(original.model_dump_json().encode())
    [record] = memory(corridor).records(corridor.topics.inbox("TH-BKK"))
    await first._receiver.handle(record)
    await first._receiver.flush()  # delivered and answered, then killed before the commit
    await first.stop()
    first.parts.ledger.close()
    nodes.pop("TH-BKK")
    second = corridor.node("TH-BKK", gateway=True, state_dir=corridor.root / "state" / "TH-BKK-2")
    await second.start()
    try:
        assert await second.process_inbox_batch() == 1
        # A hub operator's copy of the same record on another partition of the inbox.
        inbox = corridor.topics.inbox("TH-BKK")
        other = (record.partition + 1) % len(memory(corridor).logs[inbox])
        copy = InboundRecord(
            inbox, other, 0, record.key, record.value, record.headers, 1, TimestampType.CREATE_TIME
        )
        assert (await second._receiver.handle(copy)).outcome is Outcome.REDELIVERED
        await second._receiver.flush()
        # The change that follows the original is taken by the second process too.
        change = original.model_copy(
            update={"function": MessageFunction.CHANGE, "message_id": uuid.uuid4()}
        )
        await nodes["CN-CQ"].submit(change.model_dump_json().encode())
        assert await second.process_inbox_batch() == 1
    finally:
        await second.stop()
        second.parts.ledger.close()
    assert [d.declaration.function for d in corridor.deliveries["TH-BKK"]] == [
        MessageFunction.ORIGINAL,
        MessageFunction.CHANGE,
    ]
    answers = memory(corridor).records(corridor.topics.inbox("CN-CQ"))
    about_original = [r.value for r in answers if r.key == str(original.message_id).encode()]
    assert len(set(about_original)) == 1  # the same receipt each time: the sender recognises it
    assert letters(corridor, "TH-BKK") == []


async def test_a_send_cut_short_leaves_a_true_status_and_the_retry_sends_only_what_is_missing(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode], monkeypatch: pytest.MonkeyPatch
) -> None:
    from broker.errors import TransportError

    china = nodes["CN-CQ"]
    producer = china._sender._producer
    real_send = producer.send
    refused_once: list[str] = []

    async def flaky(record: OutboundRecord) -> Any:
        if record.topic.endswith("TH-BKK") and not refused_once:
            refused_once.append(record.topic)
            raise TransportError("broker away")
        return await real_send(record)

    monkeypatch.setattr(producer, "send", flaky)
    declaration = chinese("CQ-RULE-15")
    data = declaration.model_dump_json().encode()
    with pytest.raises(TransportError):
        await china.submit(data)
    rows = {
        r.recipient: r.status for r in china.parts.ledger.by_message(str(declaration.message_id))
    }
    assert rows == {"LA-VTE": DeliveryStatus.SENT, "TH-BKK": DeliveryStatus.PREPARED}
    prepared = china.parts.ledger.prepared_record(str(declaration.message_id), "TH-BKK")
    assert prepared is not None
    result = await china.submit(data)  # the outbox retries the file
    assert [(s.recipient, s.delivery is None) for s in result.sent] == [
        ("LA-VTE", True),  # acknowledged before: not sent again
        ("TH-BKK", False),
    ]
    [to_thailand] = memory(corridor).records(corridor.topics.inbox("TH-BKK"))
    assert prepared == _stored(to_thailand)  # the very record prepared before, byte for byte
    assert len(memory(corridor).records(corridor.topics.inbox("LA-VTE"))) == 1


def _stored(record: InboundRecord) -> bytes:
    from broker.node.sender import _dumps

    return _dumps(OutboundRecord(record.topic, record.value, record.key, record.headers))


async def test_a_header_that_is_not_utf8_is_named_and_shown_escaped(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    await craft(corridor, "CN-CQ", "TH-BKK", chinese("CQ-RULE-16"))
    [record] = memory(corridor).records(corridor.topics.inbox("TH-BKK"))
    headers = tuple((n, b"CQ-\xff\xfe" if n == "ce_subject" else v) for n, v in record.headers)
    await corridor.transport.producer().send(
        OutboundRecord(record.topic, record.value, record.key, headers)
    )
    await nodes["TH-BKK"].process_inbox_batch()
    [(code, reason)] = letters(corridor, "TH-BKK")
    assert code == "malformed-envelope"
    assert reason.startswith("header ce_subject: not UTF-8 (CQ-\\xff\\xfe)")
