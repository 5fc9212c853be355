"""Receipts: the positive or negative acknowledgement a node returns for every message it gets.

Modelled on NCTS IE928 (positive acknowledge) / IE906 (functional NACK) and on AS4 receipts: the
receipt names the message it answers and carries the SHA-256 of the exact bytes received, so the
sender holds proof of what arrived (non-repudiation) and notices a missing receipt.
Mirrors `schemas/receipt.v1.avsc`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Self
from uuid import UUID

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from broker.errors import Problem
from broker.model._rules import RuleViolations
from broker.model.declaration import CanonicalModel
from broker.model.types import Reference, Text

SHA256_SIZE = 32


class ReceiptStatus(StrEnum):
    """Whether the receiving node took the message in (ACCEPTED) or refused it (REJECTED)."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"


class ReceiptError(CanonicalModel):
    """One complaint about the received message, like an NCTS functional error.

    `code` is an NCTS error code where one fits (12 code-list violation, 13 missing condition,
    14 rule violation, 15 condition not allowed, 26 duplicate message id), else a broker code.
    """

    code: Reference
    field: Annotated[str, Field(min_length=1, max_length=512)] | None = None
    reason: Text
    original_value: Annotated[str, Field(max_length=4096)] | None = None

    @classmethod
    def from_problem(cls, problem: Problem, *, default_code: str = "14") -> ReceiptError:
        """A receipt error for a `Problem` found while parsing or validating the message."""
        value = problem.value
        return cls(
            code=problem.code or default_code,
            field=problem.field or None,
            reason=problem.reason[:1024] or "invalid",
            original_value=value[:4096] if value is not None else None,
        )


class Receipt(CanonicalModel):
    """Acknowledgement of one received message. REJECTED receipts carry at least one error.

    An ACCEPTED receipt may carry errors too: they are warnings ("accepted with errors" in CUSRES).
    """

    # Digests travel as hex in JSON; Avro carries the 32 raw bytes in a `fixed`.
    model_config = ConfigDict(
        frozen=True, extra="forbid", ser_json_bytes="hex", val_json_bytes="hex"
    )

    message_id: UUID
    referenced_message_id: UUID
    received_sha256: Annotated[bytes, Field(min_length=SHA256_SIZE, max_length=SHA256_SIZE)]
    receiving_node: Reference
    status: ReceiptStatus
    issue_time: AwareDatetime
    errors: tuple[ReceiptError, ...] = ()

    @field_validator("issue_time")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        return value if value.tzinfo is UTC else value.astimezone(UTC)

    @model_validator(mode="after")
    def _rejection_says_why(self) -> Self:
        violations = RuleViolations()
        if self.status is ReceiptStatus.REJECTED and not self.errors:
            violations.add(("errors",), "no_errors", "a REJECTED receipt must say why", ())
        violations.raise_if_any(type(self).__name__)
        return self
