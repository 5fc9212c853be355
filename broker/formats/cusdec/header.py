"""Map the segments of one CUSDEC message (between UNH and UNT) to canonical field values.

Each part of the message (header, goods items after `UNS+D`, summary after `UNS+S`) has its own
segment handlers; an unknown tag or qualifier is reported at its segment, never skipped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final

from broker.formats.cusdec import layout as q
from broker.formats.cusdec.fields import FieldWriter
from broker.formats.cusdec.goods import GoodsItemReader
from broker.formats.edifact.syntax import Segment
from broker.formats.normalize import offset_minutes, parse_count
from broker.formats.problems import ProblemLog
from broker.model import DeclarationKind, MessageFunction, TransportMode

_KINDS: Final = {code: kind for kind, code in q.DOCUMENT_CODES.items()}
_PLACES: Final = {qualifier: field for field, qualifier in q.OFFICE_LOCATIONS.items()}
_REFERENCES: Final = {qualifier: field for field, qualifier in q.REFERENCES.items()}
_ROLES: Final = {qualifier: role for role, qualifier in q.PARTIES.items()}
_AMOUNTS: Final = {
    q.INVOICE_AMOUNT: ("invoice_amount", "invoice_currency"),
    q.TOTAL_VALUE: ("total_value", "total_value_currency"),
}
# Itinerary order: dispatch country, transit countries as they come, destination country.
_COUNTRY_ORDER: Final = (q.DISPATCH_COUNTRY, q.TRANSIT_COUNTRY, q.DESTINATION_COUNTRY)


class MessageReader(FieldWriter):
    """Reads one message's segments into a declaration-shaped dict (`read`)."""

    def __init__(self, log: ProblemLog, decimal_mark: str) -> None:
        super().__init__(log, decimal_mark)
        self.data: dict[str, Any] = {"transport": {"containers": [], "seals": []}}
        self.goods = GoodsItemReader(log, decimal_mark)
        self.countries: list[tuple[int, str]] = []
        self.item_count: Segment | None = None
        self._header: dict[str, Callable[[Segment], None]] = {
            "BGM": self._bgm, "DTM": self._dtm, "LOC": self._loc, "MEA": self._mea,
            "EQD": self._eqd, "SEL": self._sel, "RFF": self._rff, "TDT": self._tdt,
            "NAD": self._nad, "TOD": self._tod, "CUX": self._cux, "MOA": self._moa,
        }  # fmt: skip

    def read(self, segments: list[Segment]) -> dict[str, Any]:
        part = "header"
        for segment in segments:
            if segment.tag == "UNS":
                part = "goods items" if segment.get(1) == "D" else "summary"
            elif part == "goods items" or segment.tag == "LIN":
                part = "goods items"
                self.goods.read(segment)
            elif part == "summary" and segment.tag == "CNT":
                self._cnt(segment)
            elif part == "header" and segment.tag in self._header:
                self._header[segment.tag](segment)
            else:
                self.unsupported(segment, f"{segment.tag} is not supported in the {part}")
        self.data["goods_items"] = self.goods.items
        self.data["itinerary"] = [country for _, country in sorted(self.countries, key=_first)]
        self._check_item_count()
        return self.data

    def _bgm(self, segment: Segment) -> None:
        self.put(
            self.data, "kind", self.convert(segment.get(1), _kind, "kind", segment), "kind", segment
        )
        function = self.convert(
            segment.get(3), MessageFunction.from_edifact_code, "function", segment
        )
        self.put(self.data, "function", function, "function", segment)
        self.text(
            self.data, "functional_reference", segment.get(2), "functional_reference", segment
        )

    def _dtm(self, segment: Segment) -> None:
        if segment.get(1) != q.DATE_QUALIFIER:
            return self.unknown_qualifier(segment, segment.get(1))
        form = segment.get(1, 3)
        moment = self.convert(
            segment.get(1, 2), lambda t: _aware_time(t, form), "issue_time", segment
        )
        self.log.locate("issue_time_offset_minutes", segment.where)
        self.put(self.data, "issue_time", moment, "issue_time", segment)
        self.data["issue_time_offset_minutes"] = offset_minutes(moment) if moment else None
        return None

    def _loc(self, segment: Segment) -> None:
        qualifier = segment.get(1)
        if qualifier in _PLACES:
            field = _PLACES[qualifier]
            self.text(self.data, field, segment.get(2), field, segment)
        elif qualifier in _COUNTRY_ORDER:
            self.log.locate("itinerary", segment.where)
            self.countries.append((_COUNTRY_ORDER.index(qualifier), segment.get(2)))
        elif qualifier == q.TERMS_PLACE:
            self.text(self.data, "incoterm_place", segment.get(2, 4), "incoterm_place", segment)
        else:
            self.unknown_qualifier(segment, qualifier)

    def _mea(self, segment: Segment) -> None:
        if (segment.get(1), segment.get(2)) != (q.MEASURE_PURPOSE, q.TOTAL_GROSS):
            return self.unknown_qualifier(segment, f"{segment.get(1)}+{segment.get(2)}")
        mass = self.mass(segment, "total_gross_mass_kg")
        return self.put(self.data, "total_gross_mass_kg", mass, "total_gross_mass_kg", segment)

    def _eqd(self, segment: Segment) -> None:
        if segment.get(1) != q.CONTAINER_EQUIPMENT:
            return self.unknown_qualifier(segment, segment.get(1))
        self.log.locate("transport.containers", segment.where)
        self.data["transport"]["containers"].append(segment.get(2))
        return None

    def _sel(self, segment: Segment) -> None:
        self.log.locate("transport.seals", segment.where)
        self.data["transport"]["seals"].append(segment.get(1))

    def _rff(self, segment: Segment) -> None:
        field = _REFERENCES.get(segment.get(1))
        if field is None:
            return self.unknown_qualifier(segment, segment.get(1))
        return self.text(self.data, field, segment.get(1, 2), field, segment)

    def _tdt(self, segment: Segment) -> None:
        if segment.get(1) != q.TRANSPORT_STAGE:
            return self.unknown_qualifier(segment, segment.get(1))
        transport = self.data["transport"]
        mode = self.convert(segment.get(3), _rec19, "transport.mode", segment)
        self.put(transport, "mode", mode, "transport.mode", segment)
        self.text(transport, "means_identity", segment.get(8), "transport.means_identity", segment)
        self.text(transport, "nationality", segment.get(8, 5), "transport.nationality", segment)
        return None

    def _nad(self, segment: Segment) -> None:
        role = _ROLES.get(segment.get(1))
        if role is None:
            return self.unknown_qualifier(segment, segment.get(1))
        texts = {
            "identifier": segment.get(2),
            "identifier_scheme": segment.get(2, 2),
            "name": "".join(segment.components(4)),  # written in chunks of the directory length
            "street": "".join(segment.components(5)),
            "city": segment.get(6),
            "postcode": segment.get(8),
            "country": segment.get(9),
        }
        party = {key: text or None for key, text in texts.items()}
        return self.put(self.data, role, party, role, segment)

    def _tod(self, segment: Segment) -> None:
        if segment.get(1) != q.TERMS_FUNCTION:
            return self.unknown_qualifier(segment, segment.get(1))
        return self.text(self.data, "incoterm", segment.get(3), "incoterm", segment)

    def _cux(self, segment: Segment) -> None:
        if (segment.get(1), segment.get(1, 3)) != q.INVOICE_CURRENCY:
            return self.unknown_qualifier(segment, f"{segment.get(1)}:{segment.get(1, 3)}")
        return self.text(
            self.data, "invoice_currency", segment.get(1, 2), "invoice_currency", segment
        )

    def _moa(self, segment: Segment) -> None:
        keys = _AMOUNTS.get(segment.get(1))
        if keys is None:
            return self.unknown_qualifier(segment, segment.get(1))
        return self.amount(self.data, segment, keys, "")

    def _cnt(self, segment: Segment) -> None:
        qualifier = segment.get(1)
        if qualifier == q.ITEM_COUNT:
            self.item_count = segment
        elif qualifier == q.PACKAGE_COUNT:
            count = self.convert(segment.get(1, 2), parse_count, "total_package_count", segment)
            self.put(self.data, "total_package_count", count, "total_package_count", segment)
        else:
            self.unknown_qualifier(segment, qualifier)

    def _check_item_count(self) -> None:
        counted, stated = len(self.goods.items), self.item_count
        if stated is not None and stated.get(1, 2) != str(counted):
            self.log.add(
                f"CNT+{q.ITEM_COUNT} counts {stated.get(1, 2) or 'no'} goods items, the "
                f"message has {counted}",
                location=stated.where,
                value=stated.get(1, 2),
                code="segment_count",
            )


def _first(pair: tuple[int, str]) -> int:
    return pair[0]


def _kind(code: str) -> DeclarationKind:
    try:
        return _KINDS[code]
    except KeyError:
        raise ValueError(
            "BGM document code must be 830 (export), 929 (import) or 950 (transit)"
        ) from None


def _aware_time(text: str, form: str) -> datetime:
    """DTM 2379 format 205 (CCYYMMDDHHMMZHHMM) or 208 (with seconds); others lack an offset."""
    if form == "205":
        return datetime.strptime(text, "%Y%m%d%H%M%z")
    if form == "208":
        return datetime.strptime(text, "%Y%m%d%H%M%S%z")
    raise ValueError("date/time format must be 205 or 208 (with the UTC offset)")


def _rec19(code: str) -> TransportMode:
    if len(code) != 1 or not code.isdigit():
        raise ValueError("transport mode must be one UN/ECE Rec 19 digit")
    return TransportMode.from_rec19_code(int(code))
