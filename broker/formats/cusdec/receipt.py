"""A receipt as UN/EDIFACT CUSRES (customs response, D.96B), for nodes whose system speaks CUSDEC.

    UNB  UNH+1+CUSRES:D:96B:UN
    BGM+962+<receipt id>+9+AP|CA|RE      (4343 response type: accepted, conditionally accepted
                                          = accepted with errors, rejected)
    DTM+137:<issue time, UTC>:208
    RFF+ACW:<message id of the declaration answered>     (reference of the previous message)
    RFF+ACE:<SHA-256 of the bytes received, hex>         (related document reference) [check]
    NAD+MR+<receiving node>                               (message recipient: who answers)
    then per error point:
    ERP+1:<n>   ERC+<code>   FTX+AAO+++<reason>+<field>:<original value>
    UNT UNZ

The layout follows the CUSRES message of the UNTDID D.96B directory as published national
guides use it (SARS EDI user manual, CUSRES D96B: BGM response type, RFF to the declaration,
ERP/ERC/FTX error groups). Texts longer than the element are carried in further components.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from typing import Final

from broker.formats.edifact.syntax import Segment, serialize
from broker.formats.receipt_outcome import ReceiptOutcome, RenderedReceipt
from broker.model import Receipt

MESSAGE_TYPE: Final = ("CUSRES", "D", "96B", "UN")
DOCUMENT_CODE: Final = "962"  # BGM 1001: customs response [check]
RESPONSE_TYPES: Final = {
    ReceiptOutcome.ACCEPTED: "AP",
    ReceiptOutcome.ACCEPTED_WITH_ERRORS: "CA",
    ReceiptOutcome.REJECTED: "RE",
}
_CHUNK: Final = 70  # FTX 4440 is an..512 in D.96B; short components stay readable


def render_cusres(receipt: Receipt) -> RenderedReceipt:
    outcome = ReceiptOutcome.of(receipt)
    issued = receipt.issue_time.astimezone(UTC)
    body = [
        Segment.of("UNH", "1", MESSAGE_TYPE),
        Segment.of("BGM", DOCUMENT_CODE, str(receipt.message_id), "9", RESPONSE_TYPES[outcome]),
        Segment.of("DTM", ("137", issued.strftime("%Y%m%d%H%M%S+0000"), "208")),
        Segment.of("RFF", ("ACW", str(receipt.referenced_message_id))),
        Segment.of("RFF", ("ACE", receipt.received_sha256.hex())),
        Segment.of("NAD", "MR", receipt.receiving_node),
        *_error_points(receipt),
    ]
    body.append(Segment.of("UNT", str(len(body) + 1), "1"))
    reference = receipt.message_id.hex[:14].upper()
    interchange = [
        Segment.of(
            "UNB",
            ("UNOW", "4"),
            receipt.receiving_node,
            "ILSTC-BROKER",
            (issued.strftime("%y%m%d"), issued.strftime("%H%M")),
            reference,
        ),
        *body,
        Segment.of("UNZ", "1", reference),
    ]
    return RenderedReceipt(serialize(interchange).encode("utf-8", errors="replace"), "edi")


def _error_points(receipt: Receipt) -> Iterator[Segment]:
    for number, error in enumerate(receipt.errors, 1):
        yield Segment.of("ERP", ("1", str(number)))
        yield Segment.of("ERC", error.code)
        where = (error.field or "", *_chunks(error.original_value or ""))
        yield Segment.of("FTX", "AAO", None, None, _chunks(error.reason), where)


def _chunks(text: str) -> tuple[str, ...]:
    return tuple(text[start : start + _CHUNK] for start in range(0, len(text), _CHUNK)) or ("",)
