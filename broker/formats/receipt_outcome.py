"""The three answers a national system reads in a receipt, and a rendered receipt."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from broker.model import Receipt, ReceiptStatus


class ReceiptOutcome(StrEnum):
    """Accepted, accepted with errors (ACCEPTED, with problems: delivered with gaps), rejected."""

    ACCEPTED = "ACCEPTED"
    ACCEPTED_WITH_ERRORS = "ACCEPTED_WITH_ERRORS"
    REJECTED = "REJECTED"

    @classmethod
    def of(cls, receipt: Receipt) -> ReceiptOutcome:
        if receipt.status is ReceiptStatus.REJECTED:
            return cls.REJECTED
        return cls.ACCEPTED_WITH_ERRORS if receipt.errors else cls.ACCEPTED


@dataclass(frozen=True, slots=True)
class RenderedReceipt:
    data: bytes
    file_extension: str
