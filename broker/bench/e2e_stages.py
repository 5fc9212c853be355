"""CPU time of each pipeline stage, per declaration, on the documents the pipeline run uses.

Measured in this process with `time.process_time` (CPU, not wall clock), so the numbers say
where the time goes even when Kafka round trips dominate the wall-clock figures. The pure stages
add up to `total_pure`. Delivery is not pure: it writes files, and most of its CPU is the
kernel's: creating a file costs more than the Python around it, and what it costs depends on the
directory (on this project's ext4 machine from 25 to over 400 µs of kernel time per file, from
one fresh directory to the next). It is measured apart and printed as `deliver` (CPU of this
process and of its sync threads, user + kernel), `deliver_user`, `deliver_kernel` and
`deliver_wall` (what a batch waits, fsyncs included); `total` adds `deliver` to `total_pure`.

Signing and verifying are measured the way the nodes do them to each other: batch signatures
(envelope v3) over batches of `BATCH` records (the bench submits 64 at a time); `envelope_sign_v2`
(one signature per record, not in the total) is there to compare.
"""

from __future__ import annotations

import hashlib
import os
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
from broker.node.gateway import GatewayFolders, HandledRecord
from broker.node.parts import NodeParts
from broker.policy import apply_policy
from broker.routing import route
from broker.signing.keystore import KeyStore
from broker.signing.pki import load_node
from broker.signing.records import (
    Draft,
    SignedRecord,
    declaration_draft,
    receipt_draft,
    sign_batch,
    sign_record,
)
from broker.signing.replay import MemoryReplayStore
from broker.signing.trust import TrustList
from broker.signing.verify import Verifier

_T = TypeVar("_T")


BATCH = 64


def _batched(items: Sequence[_T], work: Callable[[Sequence[_T]], object]) -> float:
    """CPU microseconds per item of `work` over `items` in chunks of `BATCH`."""
    began = time.process_time()
    for start in range(0, len(items), BATCH):
        work(items[start : start + BATCH])
    return (time.process_time() - began) * 1e6 / len(items)


def _each(items: Sequence[_T], work: Callable[[_T], object]) -> float:
    """CPU microseconds per item of `work` over `items`."""
    began = time.process_time()
    for item in items:
        work(item)
    return (time.process_time() - began) * 1e6 / len(items)


def _delivery_us(items: Sequence[_T], work: Callable[[Sequence[_T]], object]) -> dict[str, float]:
    """Per item of `work` over `items` in chunks of `BATCH`: CPU of the whole process (every
    thread, user + kernel), user and kernel apart, and wall-clock time."""
    began, wall = os.times(), time.perf_counter()
    for start in range(0, len(items), BATCH):
        work(items[start : start + BATCH])
    ended, wall = os.times(), time.perf_counter() - wall
    user, kernel = ended.user - began.user, ended.system - began.system
    per = 1e6 / len(items)
    return {
        "deliver": (user + kernel) * per,
        "deliver_user": user * per,
        "deliver_kernel": kernel * per,
        "deliver_wall": wall * per,
    }


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

    def draft_for(index: int) -> Draft:
        return declaration_draft(
            sender.identity,
            value=values[index],
            message_id=str(declarations[index].message_id),
            reference=declarations[index].functional_reference,
            recipient=partner.node_id,
            time=now,
            dataschema=dataschema,
        )

    def envelopes_for(chunk: Sequence[int]) -> list[SignedRecord]:
        return sign_batch(sender.identity, [draft_for(i) for i in chunk])

    indexes = list(range(len(values)))
    stages["envelope_sign"] = _batched(indexes, envelopes_for)
    extra = {
        "envelope_sign_v2": _each(indexes, lambda i: sign_record(sender.identity, draft_for(i)))
    }
    headers = [
        r
        for start in range(0, len(indexes), BATCH)
        for r in envelopes_for(indexes[start : start + BATCH])
    ]

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
    # As the receiver commits a fetched batch: each document with its shared record and the
    # reference it owns, written and fsynced together, renamed, the folders fsynced.
    gateway = GatewayFolders(scratch / "gateway")
    gateway.create()

    def deliver(chunk: Sequence[int]) -> object:
        return gateway.commit(
            [
                HandledRecord(
                    sender.config.node_id,
                    str(declarations[i].message_id),
                    {"digest": hashlib.sha256(values[i]).hexdigest(), "outcome": "delivered"},
                    declarations[i].functional_reference,
                    (gateway.inbox / f"doc-{i}.xml", rendered[i]),
                )
                for i in chunk
            ]
        )

    extra.update(_delivery_us(indexes, deliver))

    receipt_schema = sender.codec.writer_dataschema(SchemaKind.RECEIPT)

    def receipt_for(index: int) -> Draft:
        receipt = Receipt(
            message_id=uuid.uuid4(),
            referenced_message_id=declarations[index].message_id,
            received_sha256=hashlib.sha256(values[index]).digest(),
            receiving_node=identity.node_id,
            status=ReceiptStatus.ACCEPTED,
            issue_time=now,
        )
        return receipt_draft(
            identity,
            value=sender.codec.encode_receipt(receipt),
            message_id=str(receipt.message_id),
            referenced_message_id=str(receipt.referenced_message_id),
            recipient=sender.config.node_id,
            time=now,
            dataschema=receipt_schema,
        )

    stages["receipt"] = _batched(
        indexes, lambda chunk: sign_batch(identity, [receipt_for(i) for i in chunk])
    )
    stages["total_pure"] = sum(stages.values())
    stages["total"] = stages["total_pure"] + extra["deliver"]
    return {**stages, **extra}
