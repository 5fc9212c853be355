"""Dead letters: a record the node cannot process, kept whole with the reason it failed.

The original value and headers travel unchanged (so an operator can inspect and re-drive it);
`dlq_*` headers say why, where it came from and when. Pure functions: the runtime produces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broker.transport.base import Header, InboundRecord, OutboundRecord

DLQ_CODE = "dlq_code"
DLQ_REASON = "dlq_reason"
DLQ_SOURCE = "dlq_source"
DLQ_NODE = "dlq_node"
DLQ_TIME = "dlq_time"
_DLQ_HEADERS = frozenset({DLQ_CODE, DLQ_REASON, DLQ_SOURCE, DLQ_NODE, DLQ_TIME})
_MAX_REASON_BYTES = 1000


@dataclass(frozen=True)
class DeadLetter:
    code: str
    reason: str
    source: str  # topic/partition/offset of the original record
    node: str
    time: str
    original_headers: tuple[Header, ...]
    key: bytes | None
    value: bytes


def dead_letter_record(
    record: InboundRecord, *, topic: str, code: str, reason: str, node_id: str, at: datetime
) -> OutboundRecord:
    reason_bytes = reason.encode("utf-8", "replace")[:_MAX_REASON_BYTES]
    extra: tuple[Header, ...] = (
        (DLQ_CODE, code.encode()),
        (DLQ_REASON, reason_bytes),
        (DLQ_SOURCE, record.coordinates.encode()),
        (DLQ_NODE, node_id.encode()),
        (DLQ_TIME, at.isoformat().encode()),
    )
    original = tuple(h for h in record.headers if h[0] not in _DLQ_HEADERS)
    return OutboundRecord(topic, record.value, record.key, original + extra)


def read_dead_letter(record: InboundRecord) -> DeadLetter:
    found = {
        name: value.decode("utf-8", "replace")
        for name, value in record.headers
        if name in _DLQ_HEADERS
    }
    return DeadLetter(
        code=found.get(DLQ_CODE, "unknown"),
        reason=found.get(DLQ_REASON, ""),
        source=found.get(DLQ_SOURCE, record.coordinates),
        node=found.get(DLQ_NODE, ""),
        time=found.get(DLQ_TIME, ""),
        original_headers=tuple(h for h in record.headers if h[0] not in _DLQ_HEADERS),
        key=record.key,
        value=record.value,
    )


def redrive_record(letter: DeadLetter, inbox: str) -> OutboundRecord:
    """The original record again, for the node's inbox (it is verified again from scratch)."""
    return OutboundRecord(inbox, letter.value, letter.key, letter.original_headers)
