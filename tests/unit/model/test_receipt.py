"""Receipts: positive and negative acknowledgements with the digest of what was received."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given, settings

from broker.errors import FormatError, Problem
from broker.model import Receipt, ReceiptError, ReceiptStatus, validate_receipt
from broker.model.samples import sample_declaration, sample_receipt
from tests.strategies import receipts


def receipt_data(**changes: object) -> dict[str, object]:
    data = sample_receipt(sample_declaration(lines=1), b"payload").model_dump()
    data.update(changes)
    return data


def test_sample_receipt_names_the_message_and_digest_it_answers() -> None:
    declaration = sample_declaration(lines=1)
    receipt = sample_receipt(declaration, b"payload")
    assert receipt.referenced_message_id == declaration.message_id
    assert receipt.received_sha256 == hashlib.sha256(b"payload").digest()
    assert receipt.status is ReceiptStatus.ACCEPTED
    assert receipt.issue_time == datetime(2025, 9, 15, 1, 31, 2, tzinfo=UTC)


def test_a_rejection_must_say_why() -> None:
    with pytest.raises(FormatError) as caught:
        validate_receipt(receipt_data(status="REJECTED"))
    assert [(p.field, p.code) for p in caught.value.problems] == [("errors", "no_errors")]


def test_an_acceptance_may_carry_warnings() -> None:
    warning = {"code": "14", "reason": "gross mass rounded to 3 places", "field": None}
    assert validate_receipt(receipt_data(errors=[warning])).errors[0].code == "14"


def test_digest_must_be_32_bytes() -> None:
    with pytest.raises(FormatError) as caught:
        validate_receipt(receipt_data(received_sha256=b"short"))
    assert caught.value.problems[0].field == "received_sha256"


def test_json_carries_the_digest_as_hex() -> None:
    receipt = sample_receipt(sample_declaration(lines=1), b"payload")
    text = receipt.model_dump_json()
    assert hashlib.sha256(b"payload").hexdigest() in text
    assert Receipt.model_validate_json(text) == receipt


def test_receipt_error_from_a_problem() -> None:
    problem = Problem(reason="not in AHTN", field="goods_items.0.hs6", value="847130", code="12")
    error = ReceiptError.from_problem(problem)
    assert (error.code, error.field, error.original_value) == ("12", "goods_items.0.hs6", "847130")
    assert ReceiptError.from_problem(Problem(reason="bad")).code == "14"


def test_naive_issue_time_is_refused() -> None:
    naive = datetime(2025, 1, 1, tzinfo=UTC).replace(tzinfo=None)
    with pytest.raises(FormatError, match="issue_time"):
        validate_receipt(receipt_data(issue_time=naive, message_id=UUID(int=1)))


@settings(max_examples=50, deadline=None)
@given(receipts())
def test_generated_receipts_survive_a_json_round_trip(receipt: Receipt) -> None:
    assert Receipt.model_validate_json(receipt.model_dump_json()) == receipt
