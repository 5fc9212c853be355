"""Receipts in the national system's own format: CUSRES, the China XML receipt, ACDD, JSON."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pytest
from defusedxml.ElementTree import fromstring

from broker.formats.base import ParseLimits
from broker.formats.edifact.syntax import parse_segments
from broker.formats.receipts import ReceiptOutcome, render_receipt
from broker.model import Receipt, ReceiptError, ReceiptStatus

RECEIVED = bytes(range(32))
ERRORS = (
    ReceiptError(code="12", field="goods_items.0.hs6", reason="not an HS subheading",
                 original_value="999999"),
    ReceiptError(code="13", field="importer.street", reason="mandatory ACDD data item missing"),
)  # fmt: skip


def receipt(status: ReceiptStatus, errors: tuple[ReceiptError, ...] = ()) -> Receipt:
    return Receipt(
        message_id=uuid.UUID("7d4b7f2e-1c1a-4f6b-9a55-0e7a1f2b3c4d"),
        referenced_message_id=uuid.UUID("3f0b7a52-9c1e-4d8a-b6a4-2e5f9d0c7b11"),
        received_sha256=RECEIVED,
        receiving_node="TH-BKK",
        status=status,
        issue_time=datetime(2025, 10, 8, 1, 15, 30, tzinfo=UTC),
        errors=errors,
    )


CASES = [
    (receipt(ReceiptStatus.ACCEPTED), ReceiptOutcome.ACCEPTED),
    (receipt(ReceiptStatus.ACCEPTED, ERRORS), ReceiptOutcome.ACCEPTED_WITH_ERRORS),
    (receipt(ReceiptStatus.REJECTED, ERRORS), ReceiptOutcome.REJECTED),
]


@pytest.mark.parametrize(("answer", "outcome"), CASES, ids=lambda c: str(c)[:20])
def test_cusres_says_the_outcome_and_every_error_point(
    answer: Receipt, outcome: ReceiptOutcome
) -> None:
    rendered = render_receipt("cusdec", answer)
    assert rendered.file_extension == "edi"
    _, segments = parse_segments(rendered.data.decode("utf-8"), limits=ParseLimits())
    tags = [s.tag for s in segments]
    assert tags[:2] == ["UNB", "UNH"]
    assert segments[1].components(2) == ("CUSRES", "D", "96B", "UN")
    bgm = segments[tags.index("BGM")]
    assert bgm.get(4) == {"ACCEPTED": "AP", "ACCEPTED_WITH_ERRORS": "CA", "REJECTED": "RE"}[outcome]
    references = {s.get(1): s.get(1, 2) for s in segments if s.tag == "RFF"}
    assert references["ACW"] == str(answer.referenced_message_id)
    assert references["ACE"] == RECEIVED.hex()
    assert tags.count("ERP") == tags.count("ERC") == tags.count("FTX") == len(answer.errors)
    texts = [s for s in segments if s.tag == "FTX"]
    for error, text in zip(answer.errors, texts, strict=True):
        assert "".join(text.components(4)) == error.reason
        assert text.get(5) == error.field
    unt = segments[tags.index("UNT")]
    assert unt.get(1) == str(tags.index("UNT") - tags.index("UNH") + 1)
    assert segments[-1].tag == "UNZ"


@pytest.mark.parametrize(("answer", "outcome"), CASES, ids=lambda c: str(c)[:20])
def test_china_receipt_is_documented_xml(answer: Receipt, outcome: ReceiptOutcome) -> None:
    rendered = render_receipt("cn-swxml", answer)
    root = fromstring(rendered.data)
    ns = "{urn:ilstc:broker:cn-swxml-receipt:1}"
    assert root.tag == f"{ns}DecReceipt"
    code = {"ACCEPTED": "0", "ACCEPTED_WITH_ERRORS": "1", "REJECTED": "2"}[outcome]
    assert root.findtext(f"{ns}ResponseCode") == code
    assert root.findtext(f"{ns}Outcome") == outcome.value
    assert root.findtext(f"{ns}IssueTime") == "20251008091530"  # China time
    assert root.findtext(f"{ns}DeclarationMessageId") == str(answer.referenced_message_id)
    messages = [e.findtext(f"{ns}ErrorMessage") for e in root.iter(f"{ns}Error")]
    assert messages == [error.reason for error in answer.errors]


@pytest.mark.parametrize(("answer", "outcome"), CASES, ids=lambda c: str(c)[:20])
def test_acdd_and_json_receipts(answer: Receipt, outcome: ReceiptOutcome) -> None:
    acdd = fromstring(render_receipt("acdd-xml", answer).data)
    ns = "{urn:ilstc:broker:acdd:1}"
    assert acdd.findtext(f"{ns}Outcome") == outcome.value
    assert len(acdd.findall(f"{ns}Error")) == len(answer.errors)
    rendered = render_receipt("canonical-json", answer)
    assert rendered.file_extension == "json"
    document = json.loads(rendered.data)
    assert document.pop("outcome") == outcome.value
    assert Receipt.model_validate_json(json.dumps(document)) == answer


def test_text_xml_cannot_hold_does_not_break_the_receipt() -> None:
    hostile = ReceiptError(code="12", reason="bad", original_value="\x00\x01 value")
    answer = receipt(ReceiptStatus.REJECTED, (hostile,))
    root = fromstring(render_receipt("cn-swxml", answer).data)
    assert root.findtext("{urn:ilstc:broker:cn-swxml-receipt:1}Outcome") == "REJECTED"
