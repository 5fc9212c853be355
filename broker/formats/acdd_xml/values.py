"""Read the leaf values of a WCO Data Model style document, with their attributes.

Amounts carry `currencyID`, measures `unitCode`, identifiers `schemeID`; any other attribute is
a warning. Each value remembers its element, so the model's complaints point there.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

from broker.formats.normalize import mass_in_kg, parse_decimal
from broker.formats.problems import ProblemLog
from broker.formats.xml.read import Children

T = TypeVar("T")


class ValueReader:
    """Reads leaf values, with their attributes, logging each problem at its element."""

    def __init__(self, log: ProblemLog) -> None:
        self.log = log

    def text(self, parent: Children, tag: str, field: str, *attributes: str) -> str | None:
        self.log.locate(field, parent.where(tag))
        node = parent.first(tag)
        if node is None:
            return None
        if node.children:
            self.log.add(
                "expected a value, found elements",
                location=node.path,
                field=field,
                code="unexpected_element",
            )
        unknown = node.attributes.keys() - set(attributes) if node.attributes else ()
        for name in unknown:
            self.log.warn(
                f"unknown attribute {name} is ignored",
                location=node.path,
                value=node.attributes[name],
                code="unknown_attribute",
            )
        return node.text

    def value(
        self, parent: Children, tag: str, field: str, convert: Callable[[str], T], *attributes: str
    ) -> T | None:
        text = self.text(parent, tag, field, *attributes)
        if not text:
            return None
        return self.log.read(text, convert, field=field, location=parent.where(tag))

    def attribute(self, parent: Children, tag: str, name: str) -> str | None:
        node = parent.first(tag)
        return None if node is None else node.attributes.get(name)

    def amount(
        self, parent: Children, tag: str, field: str, currency_field: str
    ) -> tuple[Decimal | None, str | None]:
        """An amount and its `currencyID`."""
        self.log.locate(currency_field, parent.where(tag))
        amount = self.value(parent, tag, field, parse_decimal, "currencyID")
        return amount, self.attribute(parent, tag, "currencyID")

    def mass(self, parent: Children, tag: str, field: str) -> Decimal | None:
        value = self.value(parent, tag, field, parse_decimal, "unitCode")
        if value is None:
            return None
        unit = self.attribute(parent, tag, "unitCode") or ""
        return self.log.read(
            unit, lambda u: mass_in_kg(value, u), field=field, location=parent.where(tag)
        )
