"""Write CUSDEC segment values into declaration-shaped dicts, logging problems at their segment.

Shared by the header and goods item readers. A value given twice with two different values is
an error (the same value twice, such as one currency in MOA and CUX, is not); a segment or
qualifier the mapping does not know is kept whole in `extensions` with a warning (it comes back
out when rendering CUSDEC); every field remembers the segment it came from so the model's own
complaints point there too.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from broker.formats.cusdec.layout import EXTENSION_PREFIX
from broker.formats.edifact.syntax import Segment, serialize_segment
from broker.formats.normalize import mass_in_kg, parse_decimal
from broker.formats.problems import ProblemLog


class FieldWriter:
    def __init__(self, log: ProblemLog, decimal_mark: str, extensions: dict[str, str]) -> None:
        self.log = log
        self.decimal_mark = decimal_mark
        self.extensions = extensions

    def keep(self, segment: Segment, scope: str, reason: str) -> None:
        """Keep `segment` whole in extensions (key `cusdec:<scope><TAG>#<n>`), with a warning."""
        base = f"{EXTENSION_PREFIX}{scope}{segment.tag}#"
        number = 1
        while f"{base}{number}" in self.extensions:
            number += 1
        self.extensions[f"{base}{number}"] = serialize_segment(segment)
        self.log.warn(
            f"{reason}: kept in extensions",
            location=segment.where,
            value=segment.tag,
            code="kept_segment",
        )

    def put(
        self, target: dict[str, Any], key: str, value: Any, field: str, segment: Segment
    ) -> None:
        self.log.locate(field, segment.where)
        before = target.get(key)
        if before is not None and value is not None and before != value:
            self.log.add(
                f"{field} is given twice, with different values ({before} first)",
                location=segment.where,
                field=field,
                value=str(value),
                code="duplicate_segment",
            )
        if value is not None or before is None:
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

    def decimal(self, text: str) -> Decimal:
        """A number with the interchange's decimal mark; ISO 9735 allows both `.` and `,`."""
        mark = "," if "," in text and "." not in text else self.decimal_mark
        return parse_decimal(text, decimal_mark=mark)

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
