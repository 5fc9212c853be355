"""Attacks on batch signatures (envelope v3) from outside, on real Kafka, against a running
`node run` process (TH-BKK, set up as in test_attacks.py: the corridor's members verify v3).

The attacker is LA-VTE's valid key in a plain aiokafka client: it batch-signs records itself and
then rewrites their proofs, sizes and signatures, replays them, floods the inbox with records
whose roots it made up. What happened is read back from Kafka and the gateway folders, and the
CPU the node process spent is read from /proc.
"""

from __future__ import annotations

import base64
import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker.clock import FakeClock
from broker.codec import Codec, SchemaKind
from broker.model import Receipt, ReceiptError, ReceiptStatus
from broker.model.samples import sample_declaration
from broker.signing.envelope import PROOF_HEADER, SIGNATURE_HEADER, Header, parse_envelope
from broker.signing.keyfile import passphrase_from_file
from broker.signing.keystore import KeyStore
from broker.signing.pki import load_node
from broker.signing.records import (
    SignedRecord,
    declaration_draft,
    receipt_draft,
    sign_batch,
    sign_record,
)
from broker.signing.replay import MemoryReplayStore
from broker.signing.trust import TrustList
from broker.signing.verify import Verifier
from tests.integration.test_attacks import (
    cli,
    corridor,  # noqa: F401 (the fixture: a running TH-BKK and CN-CQ, LA-VTE's key)
    dead_letter_codes,
    declaration_file,
    delivered,
    eventually,
    read_all,
    ready,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(300)]

CODEC = Codec()


def _declarations(identity: Any, count: int, stem: str) -> list[Any]:
    drafts = []
    now = datetime.now(UTC)
    for number in range(count):
        reference = f"{stem}-{number}"
        declaration = sample_declaration(lines=1, reference=reference).model_copy(
            update={"message_id": uuid.uuid4()}
        )
        drafts.append(
            declaration_draft(
                identity,
                value=CODEC.encode_declaration(declaration),
                message_id=str(declaration.message_id),
                reference=reference,
                recipient="TH-BKK",
                time=now,
                dataschema=CODEC.writer_dataschema(SchemaKind.DECLARATION),
            )
        )
    return drafts


def _reused_id(identity: Any, draft: Any) -> Any:
    """Another declaration under `draft`'s ce_id and reference."""
    reference = draft.key.decode()
    declaration = sample_declaration(lines=2, reference=reference).model_copy(
        update={"message_id": uuid.UUID(draft.envelope.id)}
    )
    return declaration_draft(
        identity,
        value=CODEC.encode_declaration(declaration),
        message_id=draft.envelope.id,
        reference=reference,
        recipient="TH-BKK",
        time=datetime.now(UTC),
        dataschema=CODEC.writer_dataschema(SchemaKind.DECLARATION),
    )


def _with(headers: tuple[Header, ...] | list[Header], name: str, value: bytes) -> list[Header]:
    return [*((n, v) for n, v in headers if n != name), (name, value)]


async def _send(
    ctx: dict[str, Any], records: list[tuple[bytes, bytes, list[Header]]], inbox: str = "TH-BKK"
) -> None:
    """Produce with the attacker's plain aiokafka producer, all at once."""
    producer = ctx["producer"]
    topic = f"{ctx['namespace']}.inbox.{inbox}"
    sent = [
        await producer.send(topic, value, key=key, headers=headers)
        for key, value, headers in records
    ]
    for future in sent:
        await future


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _signed(record: SignedRecord) -> tuple[bytes, bytes, list[Header]]:
    return record.key, record.value, list(record.headers)


async def test_batch_signed_records_are_delivered_and_forged_proofs_are_dead_lettered(
    corridor: dict[str, Any],  # noqa: F811
) -> None:
    ctx = corridor
    laos = ctx["laos"]
    drafts = _declarations(laos, 8, "LA-BATCH")
    batch = sign_batch(laos, drafts)
    honest = batch[:4]
    await _send(ctx, [_signed(r) for r in honest])
    await eventually(lambda: _true(len(delivered(ctx)) == 4))

    victim = batch[5]  # leaf 5 of 8: path of 3 hashes
    path = dict(victim.headers)[PROOF_HEADER].split(b";")[2]
    flipped = bytearray(base64.b64decode(path))
    flipped[0] ^= 1
    first = batch[4]  # leaf 4 of 8, relabelled as leaf 4 of 7: the same Merkle root
    first_path = dict(first.headers)[PROOF_HEADER].split(b";")[2]
    other = sign_batch(laos, _declarations(laos, 2, "LA-OTHER"))
    attacks = [
        # 1. a path hash flipped
        (
            victim.key,
            victim.value,
            _with(victim.headers, PROOF_HEADER, b"5;8;" + base64.b64encode(bytes(flipped))),
        ),
        # 2. a smaller tree size whose root is the same: only tree-size= in the signed root
        #    message stops it
        (first.key, first.value, _with(first.headers, PROOF_HEADER, b"4;7;" + first_path)),
        # 3. another batch's signature and proof on this record
        (
            victim.key,
            victim.value,
            _with(
                _with(victim.headers, SIGNATURE_HEADER, dict(other[0].headers)[SIGNATURE_HEADER]),
                PROOF_HEADER,
                dict(other[0].headers)[PROOF_HEADER],
            ),
        ),
        # 4. a proof one hash too long
        (
            victim.key,
            victim.value,
            _with(
                victim.headers, PROOF_HEADER, b"5;8;" + base64.b64encode(bytes(flipped) + bytes(32))
            ),
        ),
        # 5. the same ce_id as a delivered record, other content, batch-signed: a replay
        _signed(sign_batch(laos, [_reused_id(laos, drafts[0])])[0]),
    ]
    await _send(ctx, attacks)
    # 6. An identical resend of a delivered v3 record and its v2 twin: duplicates, answered
    #    again, neither delivered twice nor dead-lettered.
    await _send(ctx, [_signed(honest[1]), _signed(sign_record(laos, drafts[1]))])
    # 7. The batch's rest comes through behind the attacks.
    await _send(ctx, [_signed(r) for r in (batch[6], batch[7], *other)])

    async def settled() -> bool:
        return len(await dead_letter_codes(ctx)) == 5 and len(delivered(ctx)) == 8

    await eventually(settled)
    assert await dead_letter_codes(ctx) == [
        "bad-signature", "bad-signature", "bad-signature", "malformed-envelope", "replay",
    ]  # fmt: skip
    assert len(delivered(ctx)) == 8
    assert all(name.startswith("LA-VTE.LA-") for name in delivered(ctx))
    assert ready(ctx) == 200

    # The receipts TH-BKK sends LA-VTE are batch-signed (LA-VTE verifies v3) and each verifies
    # on its own with a fresh verifier.
    pki = ctx["root"] / "pki"
    receipts = await read_all(ctx["bootstrap"], f"{ctx['namespace']}.inbox.LA-VTE")
    assert len(receipts) >= 8
    assert {parse_envelope(list(r.headers)).version for r in receipts} == {3}
    keys = KeyStore(TrustList.load(pki / "trust-list.pem"))
    thai = load_node(pki / "nodes" / "TH-BKK", passphrase_from_file(pki / "passphrase.txt"))
    keys.add(thai.certificate)
    clock = FakeClock(datetime.now(UTC))
    replay = MemoryReplayStore(timedelta(days=7), clock)
    verifier = Verifier(node_id="LA-VTE", keys=keys, replay=replay, clock=clock)
    for receipt in receipts:  # (the duplicates' receipts are the first ones again, same bytes)
        message = verifier.verify(list(receipt.headers), receipt.value)
        assert message.sender == "TH-BKK"
        verifier.release(message)


async def test_a_flood_of_made_up_roots_costs_about_one_verification_each_and_stops_nothing(
    corridor: dict[str, Any],  # noqa: F811
) -> None:
    """300 records of one real batch, each given its own made-up well-formed path: each is a
    bad-signature dead letter (one verification and one dead letter each, never cached), as
    300 v2 records with a wrong signature are, and an honest record behind them is delivered.
    Prints the node's CPU per hostile record for both."""
    ctx = corridor
    laos = ctx["laos"]
    (honest,) = sign_batch(laos, _declarations(laos, 1, "LA-FLOOD-OK"))
    (target,) = sign_batch(laos, _declarations(laos, 1, "LA-FLOOD"))
    # A tree of 2: one made-up sibling each (the signature stays the real one of `target`).
    flood = []
    for number in range(300):
        sibling = hashlib.sha256(b"made up %d" % number).digest()
        headers = _with(target.headers, PROOF_HEADER, b"0;2;" + base64.b64encode(sibling))
        flood.append((target.key, target.value, headers))
    # The same flood as v2 records with a wrong signature each, for comparison.
    (plain,) = [sign_record(laos, d) for d in _declarations(laos, 1, "LA-FLOOD-V2")]
    forged_v2 = []
    for number in range(300):
        signature = bytearray(base64.b64decode(dict(plain.headers)[SIGNATURE_HEADER]))
        signature[number % 64] ^= 1 + number // 64
        headers = _with(plain.headers, SIGNATURE_HEADER, base64.b64encode(bytes(signature)))
        forged_v2.append((plain.key, plain.value, headers))
    pid = ctx["thailand"].proc.pid
    spent = {}
    for name, records, letters in (
        ("v3 made-up root", flood, 300),
        ("v2 bad signature", forged_v2, 600),
    ):
        before = _cpu_seconds(pid)
        await _send(ctx, records)

        async def settled(letters: int = letters) -> bool:
            return len(await dead_letter_codes(ctx)) == letters

        await eventually(settled, within_s=120)
        spent[name] = (_cpu_seconds(pid) - before) / len(records) * 1e3
    await _send(ctx, [_signed(honest)])
    await eventually(lambda: _true(len(delivered(ctx)) == 1))
    print(
        "\nnode CPU per hostile record (verify + dead letter): "
        + ", ".join(f"{name} {ms:.2f} ms" for name, ms in spent.items())
    )
    assert set(await dead_letter_codes(ctx)) == {"bad-signature"}
    assert ready(ctx) == 200


async def test_receipts_about_messages_never_sent_cannot_fill_the_senders_state(
    corridor: dict[str, Any],  # noqa: F811
) -> None:
    """LA-VTE batch-signs 1,050 receipts to CN-CQ (two signatures in all), each about a message
    id CN-CQ never sent, each with 20 long errors. CN-CQ keeps at most 1,000 of them (they could
    be genuine receipts whose row was lost) and dead-letters the rest as receipt-mismatch; its
    own traffic goes on. (Before the bound every one was kept, 2 kB each, for ever.)"""
    ctx = corridor
    laos = ctx["laos"]
    errors = tuple(ReceiptError(code="13", field="f" * 100, reason="r" * 200) for _ in range(20))
    drafts = []
    for _ in range(1050):
        receipt = Receipt(
            message_id=uuid.uuid4(), referenced_message_id=uuid.uuid4(), received_sha256=bytes(32),
            receiving_node="LA-VTE", status=ReceiptStatus.REJECTED,
            issue_time=datetime.now(UTC), errors=errors,
        )  # fmt: skip
        drafts.append(
            receipt_draft(
                laos,
                value=CODEC.encode_receipt(receipt),
                message_id=str(receipt.message_id),
                referenced_message_id=str(receipt.referenced_message_id),
                recipient="CN-CQ",
                time=receipt.issue_time,
                dataschema=CODEC.writer_dataschema(SchemaKind.RECEIPT),
            )
        )
    signed = [r for start in (0, 1024) for r in sign_batch(laos, drafts[start : start + 1024])]
    await _send(ctx, [_signed(r) for r in signed], inbox="CN-CQ")

    async def letters() -> list[str]:
        records = await read_all(ctx["bootstrap"], f"{ctx['namespace']}.dlq.CN-CQ")
        return [dict(r.headers)["dlq_code"].decode() for r in records]

    async def bounded() -> bool:
        return len(await letters()) == 50

    await eventually(bounded, within_s=120)
    assert set(await letters()) == {"receipt-mismatch"}
    # CN-CQ's own declarations still go out and get their receipts.
    _, document = declaration_file(ctx["root"], "CQ-AFTER-FLOOD")
    cli("submit", "--config", ctx["paths"]["CN-CQ"], document)

    async def acknowledged() -> bool:
        status = cli("status", "--config", ctx["paths"]["CN-CQ"], "CQ-AFTER-FLOOD")
        return "TH-BKK   delivered" in status

    await eventually(acknowledged)
    assert len(await letters()) == 50


async def _true(value: bool) -> bool:
    return value
