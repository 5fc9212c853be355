"""Cross-field rule checks that report every violation at once, each at its own field path.

Pydantic merges a `ValidationError` raised inside a model validator into the outer error, with the
outer location prefixed, so `goods_items.3.gross_mass_kg` comes out right for nested models.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Context, Decimal, localcontext
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

Location = tuple[str | int, ...]

# Enough digits that adding up to 99 999 values of decimal(28, s) never rounds; never modified.
_EXACT_SUM = Context(prec=40)


class RuleViolations:
    """Collects rule violations of one model instance, then raises them together."""

    def __init__(self) -> None:
        self._errors: list[InitErrorDetails] = []

    def add(self, loc: Location, code: str, message: str, value: Any) -> None:
        # The message is a template for pydantic; braces in it would be read as placeholders.
        template = message.replace("{", "{{").replace("}", "}}")
        self._errors.append(
            InitErrorDetails(type=PydanticCustomError(code, template), loc=loc, input=value)
        )

    def both_or_neither(self, model: object, first: str, second: str) -> None:
        """Fields `first` and `second` of `model` make sense only together (amount, currency)."""
        first_missing = getattr(model, first) is None
        if first_missing != (getattr(model, second) is None):
            missing, present = (first, second) if first_missing else (second, first)
            self.add((missing,), "missing_pair", f"required when {present} is given", None)

    def raise_if_any(self, title: str) -> None:
        if self._errors:
            raise ValidationError.from_exception_data(title, self._errors)


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """Sum without the rounding that the default 28-digit decimal context would apply."""
    with localcontext(_EXACT_SUM):  # a copy, current for this thread or task only
        return sum(values, Decimal(0))
