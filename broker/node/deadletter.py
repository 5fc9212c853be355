"""Dead letters: a record the node cannot process, kept whole with the reason it failed.

The original value and headers travel unchanged (so an operator can inspect and re-drive it);
`dlq_*` headers say why, where it came from and when (RFC 3339 UTC, the form of `ce_time`).
A dead letter Kafka would refuse as too large is reduced: the value is left out, and
`dlq_value_sha256` / `dlq_value_bytes` say what it was. Pure functions: the runtime produces them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from broker.signing.envelope import format_time
from broker.transport.base import Header, InboundRecord, OutboundRecord

DLQ_CODE = "dlq_code"
DLQ_REASON = "dlq_reason"
DLQ_SOURCE = "dlq_source"
DLQ_NODE = "dlq_node"
DLQ_TIME = "dlq_time"
DLQ_VALUE_SHA256 = "dlq_value_sha256"
DLQ_VALUE_BYTES = "dlq_value_bytes"
_DLQ_HEADERS = frozenset(
    {DLQ_CODE, DLQ_REASON, DLQ_SOURCE, DLQ_NODE, DLQ_TIME, DLQ_VALUE_SHA256, DLQ_VALUE_BYTES}
)
_MAX_REASON_BYTES = 1000
# Room kept for the headers and Kafka's record overhead under the broker's largest message.
_OVERHEAD_BYTES = 16 * 1024


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
    reduced: bool = False  # the value was too large to keep: only its digest and size are here


def dead_letter_record(
    record: InboundRecord,
    *,
    topic: str,
    code: str,
    reason: str,
    node_id: str,
    at: datetime,
    max_bytes: int,
) -> OutboundRecord:
    """The dead letter for `record`, reduced when it would not fit in `max_bytes`."""
    extra: tuple[Header, ...] = (
        (DLQ_CODE, code.encode()),
        (DLQ_REASON, reason.encode("utf-8", "replace")[:_MAX_REASON_BYTES]),
        (DLQ_SOURCE, record.coordinates.encode()),
        (DLQ_NODE, node_id.encode()),
        (DLQ_TIME, format_time(at).encode()),
    )
    original = tuple(h for h in record.headers if h[0] not in _DLQ_HEADERS)
    letter = OutboundRecord(topic, record.value, record.key, original + extra)
    if record_size(letter) > max_bytes - _OVERHEAD_BYTES:
        return reduced(letter)
    return letter


def reduced(letter: OutboundRecord) -> OutboundRecord:
    """The same dead letter without its value (and key), which Kafka would not take."""
    about: tuple[Header, ...] = (
        (DLQ_VALUE_SHA256, hashlib.sha256(letter.value).hexdigest().encode()),
        (DLQ_VALUE_BYTES, str(len(letter.value)).encode()),
    )
    headers = tuple(h for h in letter.headers if len(h[1]) <= 1024)[:64]
    return OutboundRecord(letter.topic, b"", None, headers + about)


def record_size(record: OutboundRecord) -> int:
    return (
        len(record.value)
        + len(record.key or b"")
        + sum(len(name) + len(value) for name, value in record.headers)
    )


def shown(value: bytes) -> str:
    """A header value for people: UTF-8 text, other bytes escaped (`\\xff`), never raw."""
    return value.decode("utf-8", "backslashreplace")


def read_dead_letter(record: InboundRecord) -> DeadLetter:
    found = {name: shown(value) for name, value in record.headers if name in _DLQ_HEADERS}
    return DeadLetter(
        code=found.get(DLQ_CODE, "unknown"),
        reason=found.get(DLQ_REASON, ""),
        source=found.get(DLQ_SOURCE, record.coordinates),
        node=found.get(DLQ_NODE, ""),
        time=found.get(DLQ_TIME, ""),
        original_headers=tuple(h for h in record.headers if h[0] not in _DLQ_HEADERS),
        key=record.key,
        value=record.value,
        reduced=DLQ_VALUE_SHA256 in found,
    )


def redrive_record(letter: DeadLetter, inbox: str) -> OutboundRecord:
    """The original record again, for the node's inbox (it is verified again from scratch)."""
    return OutboundRecord(inbox, letter.value, letter.key, letter.original_headers)
