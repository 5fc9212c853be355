"""CPU time of each pipeline stage, per declaration, on the documents the pipeline run uses.

Measured in this process with `time.process_time` (CPU, not wall clock), so the numbers say
where the time goes even when Kafka round trips dominate the wall-clock figures.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from broker.codec import SchemaKind
from broker.model import Declaration, Receipt, ReceiptStatus
from broker.node.assemble import key_passphrase
from broker.node.config import NodeConfig
from broker.node.gateway import write_atomically
from broker.node.parts import NodeParts
from broker.policy import apply_policy
from broker.routing import route
from broker.signing.keystore import KeyStore
from broker.signing.pki import load_node
from broker.signing.records import SignedRecord, declaration_record, receipt_record
from broker.signing.replay import MemoryReplayStore
from broker.signing.trust import TrustList
from broker.signing.verify import Verifier

_T = TypeVar("_T")


def _each(items: Sequence[_T], work: Callable[[_T], object]) -> float:
    """CPU microseconds per item of `work` over `items`."""
    began = time.process_time()
    for item in items:
        work(item)
    return (time.process_time() - began) * 1e6 / len(items)


def stage_cpu_us(
    sender: NodeParts, scratch: Path, receiver_config: NodeConfig, docs: Sequence[tuple[str, bytes]]
) -> dict[str, float]:
    adapter = sender.formats.get(sender.config.format)
    partner = sender.config.partners[0]
    declarations: list[Declaration] = [adapter.parse(data) for _, data in docs]
    stages: dict[str, float] = {}
    stages["parse_validate"] = _each([d for _, d in docs], adapter.parse)
    stages["route_policy"] = _each(
        declarations,
        lambda d: apply_policy(
            d, route(d, sender.config.country, sender.config.partners).recipients[0].allow_fields
        ),
    )
    stages["encode"] = _each(declarations, sender.codec.encode_declaration)
    values = [sender.codec.encode_declaration(d) for d in declarations]
    now = sender.clock.now()

    dataschema = sender.codec.writer_dataschema(SchemaKind.DECLARATION)

    def envelope_for(index: int) -> SignedRecord:
        return declaration_record(
            sender.identity,
            value=values[index],
            message_id=str(declarations[index].message_id),
            reference=declarations[index].functional_reference,
            recipient=partner.node_id,
            time=now,
            dataschema=dataschema,
        )

    indexes = list(range(len(values)))
    stages["envelope_sign"] = _each(indexes, envelope_for)
    headers = [envelope_for(i) for i in indexes]

    identity = load_node(receiver_config.identity.node_dir, key_passphrase(receiver_config))
    keys = KeyStore(TrustList.load(receiver_config.identity.trust_list))
    keys.add(sender.identity.certificate)
    verifier = Verifier(
        node_id=identity.node_id,
        keys=keys,
        clock=sender.clock,
        replay=MemoryReplayStore(timedelta(days=1), sender.clock),
    )
    stages["verify_dedupe"] = _each(
        indexes, lambda i: verifier.release(verifier.verify(headers[i].headers, values[i]))
    )
    stages["decode_validate"] = _each(values, sender.codec.decode_declaration)
    renderer = sender.formats.get(receiver_config.format)

    def render(declaration: Declaration) -> bytes:
        return renderer.render(declaration, require_mandatory=False).data  # as the node does

    stages["render"] = _each(declarations, render)
    scratch.mkdir(parents=True, exist_ok=True)
    rendered = [render(d) for d in declarations]
    stages["deliver_fsync"] = _each(
        indexes, lambda i: write_atomically(scratch / f"doc-{i}.xml", rendered[i])
    )

    receipt_schema = sender.codec.writer_dataschema(SchemaKind.RECEIPT)

    def receipt_for(index: int) -> object:
        receipt = Receipt(
            message_id=uuid.uuid4(),
            referenced_message_id=declarations[index].message_id,
            received_sha256=hashlib.sha256(values[index]).digest(),
            receiving_node=identity.node_id,
            status=ReceiptStatus.ACCEPTED,
            issue_time=now,
        )
        return receipt_record(
            identity,
            value=sender.codec.encode_receipt(receipt),
            message_id=str(receipt.message_id),
            referenced_message_id=str(receipt.referenced_message_id),
            recipient=sender.config.node_id,
            time=now,
            dataschema=receipt_schema,
        )

    stages["receipt"] = _each(indexes, receipt_for)
    stages["total_pure"] = sum(stages.values())
    return stages
