"""Batch signatures between nodes (envelope v3), negotiated by the directory's `envelope`.

The copies a sender has ready together for one recipient that verifies envelope 3 carry one
signature over a Merkle root and each its own proof; a recipient that says 2 gets one signature
per record. Receipts of one fetched batch to one sender are batch-signed the same way. A v3
record kept in a dead letter still verifies on its own, without the batch it came in.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from broker.clock import FakeClock
from broker.errors import SignatureError
from broker.model import MessageFunction
from broker.model.samples import sample_declaration
from broker.node.config import Partner
from broker.node.deadletter import read_dead_letter
from broker.node.ledger import DeliveryStatus
from broker.node.runtime import CorridorNode
from broker.signing.envelope import parse_envelope
from broker.signing.keystore import KeyStore
from broker.signing.reasons import Reason
from broker.signing.replay import MemoryReplayStore
from broker.signing.verify import Verifier
from broker.transport.base import Header, InboundRecord
from broker.transport.memory import MemoryBroker, MemoryTransport
from tests.corridor_support import SmallCorridor

PARTNERS = {
    "CN-CQ": (Partner(node_id="LA-VTE", envelope=3), Partner(node_id="TH-BKK", envelope=2)),
    "LA-VTE": (Partner(node_id="CN-CQ", envelope=3),),
    "TH-BKK": (Partner(node_id="CN-CQ", envelope=3),),
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


def inbox(corridor: SmallCorridor, node_id: str) -> list[InboundRecord]:
    return list(memory(corridor).records(corridor.topics.inbox(node_id)))


def of_type(records: list[InboundRecord], suffix: bytes) -> list[InboundRecord]:
    return [r for r in records if dict(r.headers)["ce_type"].endswith(suffix)]


def proof_of(headers: tuple[Header, ...]) -> str | None:
    found = dict(headers).get("ce_sigproof")
    return None if found is None else found.decode("ascii")


async def submit_together(node: CorridorNode, *references: str) -> None:
    """Submissions ready in the same turn of the loop, as the outbox hands over its files."""
    documents = [
        sample_declaration(lines=1, reference=r).model_dump_json().encode() for r in references
    ]
    await asyncio.gather(*(node.submit(d) for d in documents))


async def test_copies_for_an_envelope_3_partner_share_one_signature_others_get_one_each(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    # Rail to Thailand through Laos: every declaration goes to both partners.
    await submit_together(nodes["CN-CQ"], "CQ-B-1", "CQ-B-2", "CQ-B-3")
    laos = inbox(corridor, "LA-VTE")
    assert len(laos) == 3
    assert {parse_envelope(r.headers).version for r in laos} == {3}
    assert sorted(str(proof_of(r.headers)).split(";")[0] for r in laos) == ["0", "1", "2"]
    assert {str(proof_of(r.headers)).split(";")[1] for r in laos} == {"3"}
    assert len({dict(r.headers)["ce_signature"] for r in laos}) == 1  # one signature, 3 records
    thailand = inbox(corridor, "TH-BKK")
    assert len(thailand) == 3
    assert {parse_envelope(r.headers).version for r in thailand} == {2}  # it says envelope 2
    assert all(proof_of(r.headers) is None for r in thailand)
    assert len({dict(r.headers)["ce_signature"] for r in thailand}) == 3

    for node_id in ("LA-VTE", "TH-BKK"):
        assert await nodes[node_id].process_inbox_batch() == 3
    assert [len(corridor.deliveries[n]) for n in ("LA-VTE", "TH-BKK")] == [3, 3]
    # Each receiver answered its fetched batch with one batch-signed set of receipts.
    receipts = of_type(inbox(corridor, "CN-CQ"), b"receipt.v1")
    assert len(receipts) == 6
    assert {parse_envelope(r.headers).version for r in receipts} == {3}
    assert len({dict(r.headers)["ce_signature"] for r in receipts}) == 2  # one per receiver
    await nodes["CN-CQ"].process_inbox_batch()
    counts = nodes["CN-CQ"].parts.ledger.counts_by_recipient()
    assert counts[("LA-VTE", DeliveryStatus.DELIVERED)] == 3
    assert counts[("TH-BKK", DeliveryStatus.DELIVERED)] == 3


async def test_a_batch_signed_record_in_a_dead_letter_still_verifies_alone(
    corridor: SmallCorridor, nodes: dict[str, CorridorNode]
) -> None:
    # A change whose original Laos never got, sent in one batch with a genuine original.
    change = sample_declaration(lines=1, reference="CQ-B-ORPHAN").model_copy(
        update={"function": MessageFunction.CHANGE}
    )
    original = sample_declaration(lines=1, reference="CQ-B-10")
    await asyncio.gather(
        *(nodes["CN-CQ"].submit(d.model_dump_json().encode()) for d in (original, change))
    )
    assert await nodes["LA-VTE"].process_inbox_batch() == 2
    [letter_record] = memory(corridor).records(corridor.topics.dead_letters("LA-VTE"))
    letter = read_dead_letter(letter_record)
    assert letter.code == "unknown-original"
    assert proof_of(letter.original_headers) is not None

    def fresh_verifier() -> Verifier:  # no root cache, no batch: only this record
        keys = KeyStore(corridor.trust_list)
        keys.add(corridor.identities["CN-CQ"].certificate)
        return Verifier(
            node_id="LA-VTE",
            keys=keys,
            replay=MemoryReplayStore(timedelta(days=30), corridor.clock),
            clock=corridor.clock,
        )

    verified = fresh_verifier().verify(letter.original_headers, letter.value)
    assert verified.envelope.version == 3
    assert verified.envelope.proof is not None
    assert verified.envelope.proof.tree_size == 2
    # The same record with its proof's index changed no longer verifies.
    index, size, path = str(proof_of(letter.original_headers)).split(";")
    forged = tuple(
        (n, f"{1 - int(index)};{size};{path}".encode() if n == "ce_sigproof" else v)
        for n, v in letter.original_headers
    )
    with pytest.raises(SignatureError) as refused:
        fresh_verifier().verify(forged, letter.value)
    assert refused.value.code == Reason.BAD_SIGNATURE
