"""Exact decimals for customs amounts: one validator per Avro `decimal(precision, scale)` type.

A value is held at exactly its type's scale (`Decimal("1.5")` in a decimal(28, 6) field becomes
`Decimal("1.500000")`), so a model holds precisely what the Avro codec writes and reads back.
Floats are refused: binary floating point cannot hold 0.1 kg. From JSON, strings (and integers)
are read; from Python, `Decimal` only, or, when validating with the context
`DecimalInput.UNSCALED_BYTES`, the unscaled integer as big-endian two's complement bytes (what
Avro's decimal logical type and Java's `BigInteger.toByteArray` carry), length-checked before any
arithmetic so that hostile input cannot make a huge number.

A `Decimal` is checked with one `quantize` under a trapping context (no rounding, no more digits
than the precision), at C speed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Context, Decimal, Inexact, InvalidOperation
from enum import Enum
from typing import NoReturn

from pydantic import ValidationInfo
from pydantic_core import PydanticCustomError


class Bound(Enum):
    """Lowest value a decimal field admits."""

    POSITIVE = "greater than zero"
    NON_NEGATIVE = "zero or more"


class DecimalInput(Enum):
    """Validation context naming an extra accepted input form for decimal fields."""

    UNSCALED_BYTES = "unscaled-bytes"


@dataclass(frozen=True, slots=True)
class DecimalSpec:
    """What a decimal field holds: Avro `decimal(precision, scale)`, with a lower bound.

    Kept in the field's `Annotated` metadata beside its validator, so that the precision and
    scale can be read back (the test that the model and the Avro schema agree does).
    """

    precision: int
    scale: int
    minimum: Bound

    def validator(self) -> Callable[[object, ValidationInfo], Decimal]:
        """The field validator; a closure over local constants because it is on the hot path:
        it runs for every amount of every decoded message (about a microsecond each)."""
        scale = self.scale
        positive = self.minimum is Bound.POSITIVE
        quantum = Decimal(1).scaleb(-scale)
        exact = Context(prec=self.precision, traps=[Inexact, InvalidOperation])
        limit = 10**self.precision
        max_bytes = ((limit - 1).bit_length() + 1 + 7) // 8  # magnitude bits plus a sign bit
        zero = Decimal(0)
        too_wide = PydanticCustomError(
            "decimal_range",
            f"at most {self.precision - scale} digits before the point and {scale} after",
        )
        too_low = PydanticCustomError("decimal_bound", f"must be {self.minimum.value}")

        def validate(value: object, info: ValidationInfo) -> Decimal:
            if type(value) is bytes and info.context is DecimalInput.UNSCALED_BYTES:
                # Bounded before any arithmetic: a hostile length never becomes a huge number.
                if not 0 < len(value) <= max_bytes:
                    raise PydanticCustomError(
                        "decimal_bytes", f"takes 1 to {max_bytes} bytes, got {len(value)}"
                    )
                unscaled = int.from_bytes(value, "big", signed=True)
                if not -limit < unscaled < limit:
                    raise too_wide
                if unscaled < 0 or (positive and not unscaled):
                    raise too_low
                return Decimal(unscaled).scaleb(-scale, exact)
            if not isinstance(value, Decimal):
                value = _from_json(value) if info.mode == "json" else _refuse(value)
            if not value.is_finite():
                raise PydanticCustomError("decimal_finite", "must be a finite number")
            try:
                value = value.quantize(quantum, context=exact)
            except (Inexact, InvalidOperation):
                raise too_wide from None
            if value < zero or (positive and not value):
                raise too_low
            return value

        return validate


def _from_json(value: object) -> Decimal:
    # JSON numbers with a fraction arrive here as floats, already rounded: strings are exact.
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            raise PydanticCustomError("decimal_parsing", "not a decimal number") from None
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return _refuse(value)


def _refuse(value: object) -> NoReturn:
    raise PydanticCustomError(
        "decimal_type",
        "must be a Decimal (a string in JSON); {kind} cannot hold customs amounts exactly",
        {"kind": type(value).__name__},
    )
