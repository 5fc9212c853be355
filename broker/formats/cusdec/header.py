"""Map the segments of one CUSDEC message (between UNH and UNT) to canonical field values.

Each part of the message (header, goods items after `UNS+D`, summary after `UNS+S`) has its own
segment handlers. A segment or qualifier the mapping does not use is kept whole in `extensions`
with a warning; a qualifier that only stands in for a better one (NAD+CZ when there is no
NAD+EX, TDT+20 when there is no TDT+11, DTM+182 when there is no DTM+137) is used with a
warning, and kept in extensions when the better one is there.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, Final

from broker.codes.table import UnknownCodeError
from broker.codes.time_zones import zone_for
from broker.formats.cusdec import layout as q
from broker.formats.cusdec.fields import FieldWriter
from broker.formats.cusdec.goods import GoodsItemReader
from broker.formats.edifact.syntax import Segment
from broker.formats.normalize import offset_minutes, parse_count
from broker.formats.problems import ProblemLog
from broker.model import DeclarationKind, Incoterm, MessageFunction, TransportMode

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
# Older Incoterms read as their Incoterms 2020 successor (DAT was renamed DPU in 2020).
_RENAMED_TERMS: Final = {"DAT": Incoterm.DPU}
_PLACE_FIELDS: Final = ("exit_place", "entry_place")
_FORM_BY_LENGTH: Final = {8: "102", 12: "203", 14: "204"}


class MessageReader(FieldWriter):
    """Reads one message's segments into a declaration-shaped dict (`read`)."""

    def __init__(
        self, log: ProblemLog, decimal_mark: str, *, prepared: datetime | None = None
    ) -> None:
        super().__init__(log, decimal_mark, {})
        self.data: dict[str, Any] = {"transport": {"containers": [], "seals": []}}
        self.goods = GoodsItemReader(log, decimal_mark, self.extensions)
        self.countries: list[tuple[int, str]] = []
        self.item_count: Segment | None = None
        self.prepared = prepared  # UNB date and time, the issue time of last resort
        # Stand-ins (a fallback qualifier, a later date), used only without the real one.
        self._stand_ins: dict[str, list[Segment]] = {}
        self._times: list[tuple[Segment, str]] = []  # (DTM, the form its time needs)
        self._header: dict[str, Callable[[Segment], None]] = {
            "BGM": self._bgm, "DTM": self._dtm, "LOC": self._loc, "MEA": self._mea,
            "EQD": self._eqd, "SEL": self._sel, "RFF": self._rff, "TDT": self._tdt,
            "NAD": self._nad, "TOD": self._tod, "CUX": self._cux, "MOA": self._moa,
        }  # fmt: skip

    def read(self, segments: list[Segment]) -> dict[str, Any]:
        part = "header"
        for segment in segments:
            if segment.tag == "UNS":
                part = "goods items" if segment.get(1) == q.DETAIL_SECTION else "summary"
            elif part == "goods items" or segment.tag == "LIN":
                part = "goods items"
                self.goods.read(segment)
            elif part == "summary" and segment.tag == "CNT":
                self._cnt(segment)
            elif part == "header" and segment.tag in self._header:
                self._header[segment.tag](segment)
            else:
                self.keep(segment, "summary/" if part == "summary" else "", f"{segment.tag} is "
                          f"not mapped in the {part}")  # fmt: skip
        self._settle_stand_ins()
        self._settle_time()
        self.data["goods_items"] = self.goods.finish()
        self.data["itinerary"] = [country for _, country in sorted(self.countries, key=_first)]
        self.data["extensions"] = self.extensions
        self._check_item_count()
        return self.data

    # -- stand-ins ---------------------------------------------------------------------------

    def _stand_in(self, key: str, segment: Segment) -> None:
        self._stand_ins.setdefault(key, []).append(segment)

    def _settle_stand_ins(self) -> None:
        """Use each stand-in (best first) only where the real qualifier was absent."""
        for role in ("exporter", "importer", "declarant"):
            for segment in self._stand_ins.pop(f"NAD:{role}", []):
                if self.data.get(role) is None:
                    self.log.warn(
                        f"no NAD+{q.PARTIES[role]}: NAD+{segment.get(1)} is the {role}",
                        location=segment.where,
                        field=role,
                        code="qualifier_fallback",
                    )
                    self._party(role, segment)
                else:
                    self.keep(segment, "", f"NAD+{segment.get(1)} beside NAD+{q.PARTIES[role]}")
        stages = self._stand_ins.pop("TDT", [])
        stages.sort(key=lambda s: q.TRANSPORT_STAGE_FALLBACKS.index(s.get(1)))
        for segment in stages:
            if self.data["transport"].get("mode") is None:
                self.log.warn(
                    f"no TDT+{q.TRANSPORT_STAGE} (at border): TDT+{segment.get(1)} is the "
                    "border transport",
                    location=segment.where,
                    field="transport.mode",
                    code="qualifier_fallback",
                )
                self._transport(segment)
            else:
                self.keep(segment, "", f"TDT stage {segment.get(1)}")
        for segment in self._stand_ins.pop("LOC", []):
            self.keep(segment, "", f"LOC+{segment.get(1)} is not a UN/LOCODE place")

    # -- segments ----------------------------------------------------------------------------

    def _bgm(self, segment: Segment) -> None:
        self.put(
            self.data, "kind", self.convert(segment.get(1), _kind, "kind", segment), "kind", segment
        )
        code = segment.get(3)
        self.log.locate("function", segment.where)
        try:
            function = MessageFunction.from_edifact_code(code) if code else None
        except ValueError:
            function = None
        if function is None:
            self.log.warn(
                f"message function {code or '(none)'} read as original (9)",
                location=segment.where,
                field="function",
                value=code or None,
                code="guessed",
            )
            if code:
                self.extensions[f"{q.EXTENSION_PREFIX}BGM/1225"] = code
            function = MessageFunction.ORIGINAL
        self.put(self.data, "function", function, "function", segment)
        self.text(
            self.data, "functional_reference", segment.get(2), "functional_reference", segment
        )

    def _dtm(self, segment: Segment) -> None:
        qualifier = segment.get(1)
        if qualifier == q.DATE_QUALIFIER or qualifier in q.ISSUE_DATE_FALLBACKS:
            self._times.append((segment, qualifier))
        else:
            self.keep(segment, "", f"DTM qualifier {qualifier!r} is not mapped")

    def _settle_time(self) -> None:
        """DTM+137, else an issue or invoice date (warning), else UNB's preparation time."""
        order = (q.DATE_QUALIFIER, *q.ISSUE_DATE_FALLBACKS)
        self._times.sort(key=lambda found: order.index(found[1]))
        chosen = self._times[0][0] if self._times else None
        for segment, qualifier in self._times[1:]:
            if qualifier == q.DATE_QUALIFIER:
                self.log.add(
                    "DTM+137 appears more than once",
                    location=segment.where,
                    field="issue_time",
                    code="duplicate_segment",
                )
            else:
                self.keep(segment, "", f"DTM+{qualifier} beside a better issue time")
        if chosen is None:
            moment = self.prepared
            if moment is not None:
                self.log.warn(
                    "no DTM+137: the interchange preparation time (UNB) is the issue time",
                    location="segment 1 (UNB)",
                    field="issue_time",
                    code="time_fallback",
                )
        else:
            if chosen.get(1) != q.DATE_QUALIFIER:
                self.log.warn(
                    f"no DTM+137: DTM+{chosen.get(1)} is the issue time",
                    location=chosen.where,
                    field="issue_time",
                    code="time_fallback",
                )
            form = chosen.get(1, 3)
            moment = self.convert(
                chosen.get(1, 2), lambda t: self._aware_time(t, form, chosen), "issue_time", chosen
            )
            self.log.locate("issue_time_offset_minutes", chosen.where)
        if self.data.get("issue_time") is None:
            self.data["issue_time"] = moment
        self.data["issue_time_offset_minutes"] = offset_minutes(moment) if moment else None

    def _aware_time(self, text: str, form: str, segment: Segment) -> datetime:
        """DTM 2379 formats; a local time without offset is the declaring office's clock."""
        if not form:  # no 2379: the shape says which (a warning)
            form = _FORM_BY_LENGTH.get(len(text.split("+")[0].split("-")[0]), "")
            if "+" in text or "-" in text[8:]:
                form = {"12": "205", "14": "208"}.get(str(len(text) - 5), form)
            self.log.warn(
                f"DTM without a format code: read as format {form or '(unknown)'}",
                location=segment.where,
                field="issue_time",
                code="guessed",
            )
        aware = {"205": "%Y%m%d%H%M%z", "208": "%Y%m%d%H%M%S%z"}
        if form in aware:
            return datetime.strptime(text, aware[form])  # noqa: DTZ007 - %z gives the offset
        if form in ("303", "304") and text[-3:] in ("UTC", "GMT"):
            local = "%Y%m%d%H%M" + ("%S" if form == "304" else "")
            return datetime.strptime(text[:-3], local).replace(tzinfo=UTC)
        local_forms = {"102": "%Y%m%d", "203": "%Y%m%d%H%M", "204": "%Y%m%d%H%M%S"}
        if form not in local_forms:
            raise ValueError("date/time format must be 102, 203, 204, 205, 208 or 303/304 with UTC")
        wall = datetime.strptime(text, local_forms[form])  # noqa: DTZ007 - zone added next
        zone, country = self._local_zone()
        self.log.warn(
            f"DTM format {form} has no UTC offset: read as local time in {country}",
            location=segment.where,
            field="issue_time",
            code="guessed_offset",
        )
        return wall.replace(tzinfo=zone)

    def _local_zone(self) -> tuple[tzinfo, str]:
        """The declaring office's country (an office code led by it), else the declarant's,
        the exporter's or the dispatch country; else UTC."""
        offices = ("declaring_office", "exit_office", "entry_office")
        candidates = [(self.data.get(field) or "")[:2] for field in offices]
        candidates = [code for code in candidates if code.isalpha()]
        for role in ("declarant", "exporter"):
            candidates.append((self.data.get(role) or {}).get("country") or "")
        candidates.extend(country for order, country in self.countries if order == 0)
        for code in candidates:
            try:
                return zone_for(code.upper()), code.upper()
            except UnknownCodeError:
                continue
        return UTC, "UTC (no office or party country known)"

    def _loc(self, segment: Segment) -> None:
        qualifier = segment.get(1)
        if qualifier in _PLACES:
            field = _PLACES[qualifier]
            code = segment.get(2)
            if field in _PLACE_FIELDS and code and not _is_locode(code):
                return self._stand_in("LOC", segment)
            self.text(self.data, field, code, field, segment)
        elif qualifier in _COUNTRY_ORDER:
            self.log.locate("itinerary", segment.where)
            self.countries.append((_COUNTRY_ORDER.index(qualifier), segment.get(2)))
        elif qualifier == q.TERMS_PLACE:
            place = segment.get(2, 4) or segment.get(2)
            self.text(self.data, "incoterm_place", place, "incoterm_place", segment)
        else:
            self.keep(segment, "", f"LOC qualifier {qualifier!r} is not mapped")
        return None

    def _mea(self, segment: Segment) -> None:
        if (
            segment.get(1) not in q.MEASURE_PURPOSES
            or segment.get(2) not in q.TOTAL_GROSS_DIMENSIONS
        ):
            return self.keep(segment, "", f"MEA {segment.get(1)}+{segment.get(2)} is not mapped")
        mass = self.mass(segment, "total_gross_mass_kg")
        return self.put(self.data, "total_gross_mass_kg", mass, "total_gross_mass_kg", segment)

    def _eqd(self, segment: Segment) -> None:
        if segment.get(1) != q.CONTAINER_EQUIPMENT:
            return self.keep(segment, "", f"equipment {segment.get(1)!r} is not a container")
        self.log.locate("transport.containers", segment.where)
        self.data["transport"]["containers"].append(segment.get(2))
        return None

    def _sel(self, segment: Segment) -> None:
        self.log.locate("transport.seals", segment.where)
        self.data["transport"]["seals"].append(segment.get(1))

    def _rff(self, segment: Segment) -> None:
        field = _REFERENCES.get(segment.get(1))
        if field is None:
            return self.keep(segment, "", f"RFF qualifier {segment.get(1)!r} is not mapped")
        return self.text(self.data, field, segment.get(1, 2), field, segment)

    def _tdt(self, segment: Segment) -> None:
        stage = segment.get(1)
        if stage == q.TRANSPORT_STAGE:
            return self._transport(segment)
        if stage in q.TRANSPORT_STAGE_FALLBACKS:
            return self._stand_in("TDT", segment)
        return self.keep(segment, "", f"TDT stage {stage!r} is not mapped")

    def _transport(self, segment: Segment) -> None:
        transport = self.data["transport"]
        mode = self.convert(segment.get(3), self._rec19, "transport.mode", segment)
        self.put(transport, "mode", mode, "transport.mode", segment)
        self.text(transport, "means_identity", segment.get(8), "transport.means_identity", segment)
        self.text(transport, "nationality", segment.get(8, 5), "transport.nationality", segment)

    def _rec19(self, code: str) -> TransportMode:
        """UN/ECE Rec 19: one digit; a two-digit code (Rec 19 sub-mode) by its first digit."""
        if not code.isdigit() or len(code) > 2:
            raise ValueError("transport mode must be a UN/ECE Rec 19 code")
        return TransportMode.from_rec19_code(int(code[0]))

    def _nad(self, segment: Segment) -> None:
        qualifier = segment.get(1)
        role = _ROLES.get(qualifier)
        if role is not None:
            return self._party(role, segment)
        if qualifier in q.PARTY_FALLBACKS:
            return self._stand_in(f"NAD:{q.PARTY_FALLBACKS[qualifier]}", segment)
        return self.keep(segment, "", f"NAD party {qualifier!r} is not mapped")

    def _party(self, role: str, segment: Segment) -> None:
        identifier = segment.get(2)
        scheme = segment.get(2, 2) or segment.get(2, 3)
        if identifier and not scheme:
            scheme = q.NO_SCHEME
            self.log.warn(
                f"party identifier without a code list: scheme {q.NO_SCHEME}",
                location=segment.where,
                field=f"{role}.identifier_scheme",
                code="guessed",
            )
        texts = {
            "identifier": identifier,
            "identifier_scheme": scheme if identifier else "",
            "name": "".join(segment.components(4)) or " ".join(segment.components(3)),
            "street": "".join(segment.components(5)),
            "city": segment.get(6),
            "postcode": segment.get(8),
            "country": segment.get(9),
        }
        party = {key: text or None for key, text in texts.items()}
        for key in party:
            self.log.locate(f"{role}.{key}", segment.where)
        return self.put(self.data, role, party, role, segment)

    def _tod(self, segment: Segment) -> None:
        code = segment.get(3)
        if segment.get(1) not in (q.TERMS_FUNCTION, "") or not code:
            return self.keep(segment, "", f"TOD {segment.get(1)!r} is not mapped")
        if code in _RENAMED_TERMS:
            self.log.warn(
                f"Incoterms 2010 {code} is read as its 2020 name {_RENAMED_TERMS[code].value}",
                location=segment.where,
                field="incoterm",
                value=code,
                code="legacy_code",
            )
            code = _RENAMED_TERMS[code].value
        if code not in Incoterm.__members__:
            return self.keep(segment, "", f"delivery terms {code!r} are not Incoterms 2020")
        return self.text(self.data, "incoterm", code, "incoterm", segment)

    def _cux(self, segment: Segment) -> None:
        if segment.get(1) != q.INVOICE_CURRENCY[0] or not segment.get(1, 2):
            return self.keep(segment, "", f"CUX {segment.get(1)!r} is not the invoice currency")
        if segment.get(1, 3) not in (q.INVOICE_CURRENCY[1], ""):
            return self.keep(segment, "", f"CUX currency usage {segment.get(1, 3)!r} not mapped")
        if segment.components(2) or segment.components(3):
            self.keep(segment, "", "CUX also states a second currency or a rate")
        return self.text(
            self.data, "invoice_currency", segment.get(1, 2), "invoice_currency", segment
        )

    def _moa(self, segment: Segment) -> None:
        keys = _AMOUNTS.get(segment.get(1))
        if keys is None:
            return self.keep(segment, "", f"MOA qualifier {segment.get(1)!r} is not mapped")
        return self.amount(self.data, segment, keys, "")

    def _cnt(self, segment: Segment) -> None:
        qualifier = segment.get(1)
        if qualifier == q.ITEM_COUNT:
            self.item_count = segment
        elif qualifier == q.PACKAGE_COUNT:
            count = self.convert(segment.get(1, 2), parse_count, "total_package_count", segment)
            self.put(self.data, "total_package_count", count, "total_package_count", segment)
        else:
            self.keep(segment, "summary/", f"CNT qualifier {qualifier!r} is not mapped")

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


def _is_locode(code: str) -> bool:
    return len(code) == 5 and code[:2].isalpha() and code[:2].isupper()


def _first(pair: tuple[int, str]) -> int:
    return pair[0]


def _kind(code: str) -> DeclarationKind:
    try:
        return _KINDS[code]
    except KeyError:
        raise ValueError(
            "BGM document code must be 830 (export), 929 (import) or 950 (transit)"
        ) from None
