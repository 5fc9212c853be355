"""Read the goods item part of a CUSDEC message: one LIN group per canonical goods item."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from broker.formats.cusdec import layout as q
from broker.formats.cusdec.fields import FieldWriter
from broker.formats.edifact.syntax import Segment
from broker.formats.normalize import parse_count
from broker.formats.problems import ProblemLog

_MASSES: Final = {q.ITEM_NET: "net_mass_kg", q.ITEM_GROSS: "gross_mass_kg"}
_PRODUCT_IDS: Final = {q.HS_SUBHEADING: "hs6", q.NATIONAL_LINE: "tariff_line"}


class GoodsItemReader(FieldWriter):
    """Goods items in message order; `read(segment)` takes LIN and the segments of its group."""

    def __init__(self, log: ProblemLog, decimal_mark: str) -> None:
        super().__init__(log, decimal_mark)
        self.items: list[dict[str, Any]] = []
        self._handlers: dict[str, Callable[[dict[str, Any], str, Segment], None]] = {
            "CST": self._cst, "PIA": self._pia, "FTX": self._ftx, "LOC": self._loc,
            "QTY": self._qty, "MEA": self._mea, "MOA": self._moa, "PAC": self._pac,
            "DOC": self._doc,
        }  # fmt: skip

    def read(self, segment: Segment) -> None:
        if segment.tag == "LIN":
            self.items.append({})
            prefix = f"goods_items.{len(self.items) - 1}"
            self.log.locate(prefix, segment.where)
            number = self.convert(segment.get(1), parse_count, f"{prefix}.line_number", segment)
            self.items[-1]["line_number"] = number
            return
        handler = self._handlers.get(segment.tag)
        if handler is None:
            self.unsupported(segment, f"{segment.tag} is not supported in a goods item")
        elif not self.items:
            self.unsupported(segment, "goods item data before the first LIN")
        else:
            handler(self.items[-1], f"goods_items.{len(self.items) - 1}.", segment)

    def _cst(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        if segment.components(2)[1:] != q.PROCEDURE_LIST:
            return self.unknown_qualifier(segment, ":".join(segment.components(2)[1:]))
        return self.text(item, "procedure_code", segment.get(2), prefix + "procedure_code", segment)

    def _pia(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        key = _PRODUCT_IDS.get(segment.get(1))
        if key is None or segment.get(2, 2) != "HS":
            return self.unknown_qualifier(segment, f"{segment.get(1)}+{segment.get(2, 2)}")
        return self.text(item, key, segment.get(2), prefix + key, segment)

    def _ftx(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        if segment.get(1) != q.DESCRIPTION_TEXT:
            return self.unknown_qualifier(segment, segment.get(1))
        description = "".join(segment.components(4))
        return self.text(item, "description", description, prefix + "description", segment)

    def _loc(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        if segment.get(1) != q.ORIGIN_COUNTRY:
            return self.unknown_qualifier(segment, segment.get(1))
        return self.text(item, "origin_country", segment.get(2), prefix + "origin_country", segment)

    def _qty(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        if segment.get(1) != q.QUANTITY_QUALIFIER:
            return self.unknown_qualifier(segment, segment.get(1))
        quantity = self.convert(segment.get(1, 2), self.decimal, prefix + "quantity", segment)
        self.put(item, "quantity", quantity, prefix + "quantity", segment)
        return self.text(
            item, "quantity_unit", segment.get(1, 3), prefix + "quantity_unit", segment
        )

    def _mea(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        key = _MASSES.get(segment.get(2))
        if segment.get(1) != q.MEASURE_PURPOSE or key is None:
            return self.unknown_qualifier(segment, f"{segment.get(1)}+{segment.get(2)}")
        return self.put(item, key, self.mass(segment, prefix + key), prefix + key, segment)

    def _moa(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        if segment.get(1) != q.ITEM_VALUE:
            return self.unknown_qualifier(segment, segment.get(1))
        return self.amount(item, segment, ("value", "value_currency"), prefix)

    def _pac(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        count = self.convert(segment.get(1), parse_count, prefix + "package_count", segment)
        self.put(item, "package_count", count, prefix + "package_count", segment)
        self.text(item, "package_kind", segment.get(3), prefix + "package_kind", segment)

    def _doc(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        if segment.get(1) != q.PREFERENCE_DOCUMENT:
            return self.unknown_qualifier(segment, segment.get(1))
        claim = {
            "agreement": segment.get(1, 4) or None,
            "certificate_number": segment.get(2) or None,
        }
        return self.put(item, "preference", claim, prefix + "preference", segment)
