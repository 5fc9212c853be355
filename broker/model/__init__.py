"""The canonical model: what every national format maps to, and what travels over Kafka as Avro.

`Declaration` and `Receipt` mirror the latest schemas in `schemas/`; `validate_declaration` gives
adapters every problem at once as `FormatError`; `samples` builds realistic corridor data.
"""

from broker.model.declaration import (
    CanonicalModel,
    Declaration,
    DeclarationKind,
    GoodsItem,
    Incoterm,
    MessageFunction,
    Party,
    PreferenceAgreement,
    PreferenceClaim,
    Transport,
    TransportMode,
)
from broker.model.receipt import Receipt, ReceiptError, ReceiptStatus
from broker.model.validation import (
    dotted_path,
    problems_from,
    validate_declaration,
    validate_receipt,
)

__all__ = [
    "CanonicalModel",
    "Declaration",
    "DeclarationKind",
    "GoodsItem",
    "Incoterm",
    "MessageFunction",
    "Party",
    "PreferenceAgreement",
    "PreferenceClaim",
    "Receipt",
    "ReceiptError",
    "ReceiptStatus",
    "Transport",
    "TransportMode",
    "dotted_path",
    "problems_from",
    "validate_declaration",
    "validate_receipt",
]
