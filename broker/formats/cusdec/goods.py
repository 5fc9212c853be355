"""Read the goods item part of a CUSDEC message: one LIN (or CST) group per canonical item.

A goods item opens with `LIN`, or with `CST` as published implementation guides write it (SARS
CUSDEC: `CST+1+940161009:108:ZZZ+100`): a `CST` opens a new item when no item is open yet, when
the open item was itself opened by `CST`, or when the open item already has its `CST`. The
commodity code may come from `PIA` (HS), `GIR` (HS) or `CST` (code list 108, or a bare number);
a 6-digit code is the HS subheading, a longer one the national tariff line (its first six digits
the HS6). Segments and qualifiers not mapped are kept in extensions as `cusdec:item[<n>]/...`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from broker.formats.cusdec import layout as q
from broker.formats.cusdec.fields import FieldWriter
from broker.formats.edifact.syntax import Segment
from broker.formats.normalize import parse_count
from broker.formats.problems import ProblemLog

_MASSES: Final = {
    q.ITEM_NET: "net_mass_kg",
    **dict.fromkeys(q.ITEM_GROSS_DIMENSIONS, "gross_mass_kg"),
}
_TEXTS: Final = {q.DESCRIPTION_TEXT: "description", q.SPECIFICATION_TEXT: "specification"}


class GoodsItemReader(FieldWriter):
    """Goods items in message order; `read(segment)` takes each segment of the goods part."""

    def __init__(self, log: ProblemLog, decimal_mark: str, extensions: dict[str, str]) -> None:
        super().__init__(log, decimal_mark, extensions)
        self.items: list[dict[str, Any]] = []
        self._opened_by: list[str] = []
        self._has_cst: list[bool] = []
        self._quantities: list[list[Segment]] = []
        self._handlers: dict[str, Callable[[dict[str, Any], str, Segment], None]] = {
            "PIA": self._pia, "GIR": self._gir, "FTX": self._ftx, "LOC": self._loc,
            "QTY": self._qty, "MEA": self._mea, "MOA": self._moa, "PAC": self._pac,
            "DOC": self._doc,
        }  # fmt: skip

    def read(self, segment: Segment) -> None:
        if segment.tag == "LIN":
            self._open(segment, "LIN")
            prefix = self._prefix
            number = self.convert(segment.get(1), parse_count, f"{prefix}line_number", segment)
            self.items[-1]["line_number"] = number
            if segment.get(3):  # C212 item number identification: a commodity code
                self._commodity(self.items[-1], prefix, segment.get(3), segment)
            return
        if segment.tag == "CST":
            if not self.items or self._opened_by[-1] == "CST" or self._has_cst[-1]:
                self._open(segment, "CST")
                if segment.get(1):
                    number = self.convert(
                        segment.get(1), parse_count, f"{self._prefix}line_number", segment
                    )
                    self.items[-1]["line_number"] = number
            self._has_cst[-1] = True
            self._cst(self.items[-1], self._prefix, segment)
            return
        handler = self._handlers.get(segment.tag)
        if not self.items:
            self.keep(segment, "", f"{segment.tag} before the first goods item")
        elif handler is None:
            self.keep(segment, self._scope, f"{segment.tag} is not mapped in a goods item")
        else:
            handler(self.items[-1], self._prefix, segment)

    def finish(self) -> list[dict[str, Any]]:
        """The items, each with its quantity chosen and its line number defaulted."""
        for index, item in enumerate(self.items):
            self._choose_quantity(index, item)
            if item.get("line_number") is None and not self.log.reported(
                f"goods_items.{index}.line_number"
            ):
                item["line_number"] = index + 1  # LIN without a number: its position
                self.log.warn(
                    "goods item without a number: numbered by its position",
                    location=self.log.location_of(f"goods_items.{index}", "UNS+D"),
                    field=f"goods_items.{index}.line_number",
                    code="guessed",
                )
        return self.items

    @property
    def _prefix(self) -> str:
        return f"goods_items.{len(self.items) - 1}."

    @property
    def _scope(self) -> str:
        return f"item[{len(self.items)}]/"

    def _open(self, segment: Segment, by: str) -> None:
        self.items.append({})
        self._opened_by.append(by)
        self._has_cst.append(False)
        self._quantities.append([])
        self.log.locate(self._prefix.rstrip("."), segment.where)
        if by == "CST" and not segment.get(1):
            self.items[-1]["line_number"] = len(self.items)

    def _commodity(
        self,
        item: dict[str, Any],
        prefix: str,
        code: str,
        segment: Segment,
        *,
        national: bool = False,
    ) -> None:
        """A commodity code: 6 digits are the HS6, more (or `national`) the tariff line too."""
        self.log.locate(f"{prefix}hs6", segment.where)
        self.log.locate(f"{prefix}tariff_line", segment.where)
        if not code.isdigit() or not 6 <= len(code) <= 13:
            self.log.add(
                "commodity code must be 6 to 13 digits",
                location=segment.where,
                field=f"{prefix}hs6",
                value=code,
            )
            return
        if len(code) > 6 or national:
            self.put(item, "tariff_line", code, f"{prefix}tariff_line", segment)
        if not (national and item.get("hs6")):
            self.put(item, "hs6", code[:6], f"{prefix}hs6", segment)

    def _cst(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        unused = []
        for element in range(2, len(segment.elements) + 1):
            code, code_list, agency = (segment.get(element, c) for c in (1, 2, 3))
            if not code:
                continue
            if (code_list, agency) == q.PROCEDURE_LIST or code_list == q.PROCEDURE_LIST[0]:
                self.text(item, "procedure_code", code, prefix + "procedure_code", segment)
            elif code_list in q.TARIFF_LISTS or (
                not code_list and code.isdigit() and len(code) >= 6
            ):
                self._commodity(item, prefix, code, segment)
            else:
                unused.append(code)
        if unused:
            self.keep(segment, self._scope, f"CST codes {', '.join(unused)} are not mapped")

    def _pia(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        found = False
        for element in range(2, len(segment.elements) + 1):
            code, kind = segment.get(element), segment.get(element, 2)
            if code and kind in q.COMMODITY_TYPES:
                national = segment.get(1) == q.NATIONAL_LINE
                self._commodity(item, prefix, code, segment, national=national)
                found = True
        if not found:
            self.keep(segment, self._scope, "PIA holds no HS commodity code")

    def _gir(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        codes = [
            segment.get(element)
            for element in range(2, len(segment.elements) + 1)
            if segment.get(element, 2) in q.COMMODITY_TYPES
        ]
        for code in codes:
            self._commodity(item, prefix, code, segment)
        if not codes:
            self.keep(segment, self._scope, "GIR holds no HS commodity code")

    def _ftx(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        key = _TEXTS.get(segment.get(1))
        if key is None:
            return self.keep(segment, self._scope, f"FTX {segment.get(1)!r} is not mapped")
        text = "".join(segment.components(4))
        if key in item and item[key] and text:  # several FTX+AAA: one description
            text = f"{item[key]} {text}"
            item[key] = None
        return self.text(item, key, text, prefix + key, segment)

    def _loc(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        if segment.get(1) != q.ORIGIN_COUNTRY:
            return self.keep(segment, self._scope, f"LOC {segment.get(1)!r} is not mapped")
        return self.text(item, "origin_country", segment.get(2), prefix + "origin_country", segment)

    def _qty(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        self._quantities[len(self.items) - 1].append(segment)

    def _choose_quantity(self, index: int, item: dict[str, Any]) -> None:
        """QTY+47 (invoiced quantity), else the first QTY given, with a warning."""
        found = self._quantities[index]
        if not found:
            return
        best = next((s for s in found if s.get(1) == q.QUANTITY_QUALIFIER), found[0])
        prefix = f"goods_items.{index}."
        if best.get(1) != q.QUANTITY_QUALIFIER:
            self.log.warn(
                f"no QTY+{q.QUANTITY_QUALIFIER}: QTY+{best.get(1)} is the quantity",
                location=best.where,
                field=prefix + "quantity",
                code="qualifier_fallback",
            )
        quantity = self.convert(best.get(1, 2), self.decimal, prefix + "quantity", best)
        self.put(item, "quantity", quantity, prefix + "quantity", best)
        self.text(item, "quantity_unit", best.get(1, 3), prefix + "quantity_unit", best)
        for other in found:
            if other is not best:
                self.keep(other, f"item[{index + 1}]/", f"QTY+{other.get(1)} beside the quantity")

    def _mea(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        key = _MASSES.get(segment.get(2))
        if segment.get(1) not in q.MEASURE_PURPOSES or key is None:
            reason = f"MEA {segment.get(1)}+{segment.get(2)} is not mapped"
            return self.keep(segment, self._scope, reason)
        return self.put(item, key, self.mass(segment, prefix + key), prefix + key, segment)

    def _moa(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        if segment.get(1) != q.ITEM_VALUE:
            return self.keep(segment, self._scope, f"MOA {segment.get(1)!r} is not mapped")
        return self.amount(item, segment, ("value", "value_currency"), prefix)

    def _pac(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        count = self.convert(segment.get(1), parse_count, prefix + "package_count", segment)
        self.put(item, "package_count", count, prefix + "package_count", segment)
        self.text(item, "package_kind", segment.get(3), prefix + "package_kind", segment)

    def _doc(self, item: dict[str, Any], prefix: str, segment: Segment) -> None:
        if segment.get(1) != q.PREFERENCE_DOCUMENT:
            return self.keep(segment, self._scope, f"DOC {segment.get(1)!r} is not mapped")
        claim = {
            "agreement": segment.get(1, 4) or None,
            "certificate_number": segment.get(2) or None,
        }
        return self.put(item, "preference", claim, prefix + "preference", segment)
