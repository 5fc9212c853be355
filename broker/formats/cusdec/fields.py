"""Write CUSDEC segment values into declaration-shaped dicts, logging problems at their segment.

Shared by the header and goods item readers: a value given twice is reported rather than
silently overwritten, an unknown qualifier is reported rather than skipped, and every field
remembers the segment it came from so the model's own complaints point there too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from broker.formats.edifact.syntax import Segment
from broker.formats.normalize import mass_in_kg, parse_decimal
from broker.formats.problems import ProblemLog


class FieldWriter:
    def __init__(self, log: ProblemLog, decimal_mark: str) -> None:
        self.log = log
        self.decimal_mark = decimal_mark

    def unsupported(self, segment: Segment, reason: str) -> None:
        self.log.add(reason, location=segment.where, value=segment.tag, code="unsupported_segment")

    def unknown_qualifier(self, segment: Segment, qualifier: str) -> None:
        self.log.add(
            f"{segment.tag} qualifier {qualifier!r} is not supported by this mapping",
            location=segment.where,
            value=qualifier,
            code="unsupported_segment",
        )

    def put(
        self, target: dict[str, Any], key: str, value: Any, field: str, segment: Segment
    ) -> None:
        self.log.locate(field, segment.where)
        if target.get(key) is not None:
            self.log.add(
                f"{field} is given twice",
                location=segment.where,
                field=field,
                code="duplicate_segment",
            )
        target[key] = value

    def text(
        self, target: dict[str, Any], key: str, text: str, field: str, segment: Segment
    ) -> None:
        """Put `text` as is; an empty component means the value is absent."""
        self.put(target, key, text or None, field, segment)

    def convert(
        self, text: str, convert: Callable[[str], Any], field: str, segment: Segment
    ) -> Any:
        self.log.locate(field, segment.where)
        return self.log.read(text, convert, field=field, location=segment.where) if text else None

    def decimal(self, text: str) -> Any:
        return parse_decimal(text, decimal_mark=self.decimal_mark)

    def mass(self, segment: Segment, field: str) -> Any:
        """MEA's measure (element 3: unit, value) in kilograms, converted exactly."""
        value = self.convert(segment.get(3, 2), self.decimal, field, segment)
        if value is None:
            return None
        return self.convert(segment.get(3), lambda unit: mass_in_kg(value, unit), field, segment)

    def amount(
        self, target: dict[str, Any], segment: Segment, keys: tuple[str, str], prefix: str
    ) -> None:
        """MOA's amount and, when given, its currency (C516 components 2 and 3)."""
        amount, currency = keys
        value = self.convert(segment.get(1, 2), self.decimal, prefix + amount, segment)
        self.put(target, amount, value, prefix + amount, segment)
        if segment.get(1, 3):
            self.put(target, currency, segment.get(1, 3), prefix + currency, segment)
