"""Signing what one batch sends one recipient, the way that recipient verifies it.

A partner whose directory entry says `envelope = 3` gets one batch signature for up to
`MAX_BATCH` records (envelope v3, docs/signing.md 3.3: each record carries the root's signature
and its inclusion proof, and still verifies alone); a partner that says 2 gets one signature per
record (v2). A batch only ever holds records for one recipient: a proof reveals the hashes of its
siblings, which must not be another recipient's copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from broker.node.config import Partner
from broker.signing.records import MAX_BATCH, Draft, Sender, SignedRecord, sign_batch, sign_record

BATCH_ENVELOPE = 3


def envelope_of(partners: Iterable[Partner], node_id: str) -> int:
    """The highest envelope version `node_id` verifies (2 for a node the directory does not
    list: the version every node verifies)."""
    for partner in partners:
        if partner.node_id == node_id:
            return partner.envelope
    return 2


def signed_for(sender: Sender, envelope: int, drafts: Sequence[Draft]) -> list[SignedRecord]:
    """`drafts` for ONE recipient that verifies up to `envelope`, signed, in their order."""
    if envelope < BATCH_ENVELOPE:
        return [sign_record(sender, draft) for draft in drafts]
    signed: list[SignedRecord] = []
    for start in range(0, len(drafts), MAX_BATCH):
        signed += sign_batch(sender, drafts[start : start + MAX_BATCH])
    return signed
