"""The canonical customs declaration every national format is mapped to and from.

It mirrors the latest Avro schema, `schemas/declaration.v3.avsc`, field for field (a test proves
it); the field docs there give each element's meaning and WCO Data Model ID. Models are frozen and
use tuples, so a declaration can be passed between threads and tasks without copies.

Checks made here (all reported together, each at its dotted field path):
ISO 3166 countries, ISO 4217 currencies, UN/LOCODEs, HS6 shape and chapter, national tariff line
starting with its HS6, positive quantities, gross mass not below net mass, amounts with their
currency, unique goods line numbers, totals equal to the sums of the lines when both are given.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, Final, Self, cast
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

from broker.model._rules import RuleViolations, exact_sum
from broker.model.types import (
    ContainerNumber,
    CountryCode,
    CurrencyCode,
    Extensions,
    Hs6,
    IdentifierScheme,
    LoCode,
    MassKg,
    Money,
    NationalTariffLine,
    Quantity,
    Rec20Unit,
    Rec21PackageKind,
    Reference,
    Text,
    UtcOffsetMinutes,
)


class CanonicalModel(BaseModel):
    """Base of every canonical model: immutable, and unknown fields are an error."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class DeclarationKind(StrEnum):
    """Which customs procedure the declaration is for (WCO D013 declaration type, in words)."""

    EXPORT = "EXPORT"
    IMPORT = "IMPORT"
    TRANSIT = "TRANSIT"


class MessageFunction(StrEnum):
    """What this message does to the declaration (WCO 017, UN/EDIFACT data element 1225)."""

    ORIGINAL = "ORIGINAL"
    CHANGE = "CHANGE"
    REPLACE = "REPLACE"
    CANCELLATION = "CANCELLATION"

    @property
    def edifact_code(self) -> str:
        """The UN/EDIFACT 1225 code: 9 original, 4 change, 5 replace, 1 cancellation."""
        return _EDIFACT_1225[self]

    @classmethod
    def from_edifact_code(cls, code: str) -> MessageFunction:
        for function, known in _EDIFACT_1225.items():
            if known == code:
                return function
        raise ValueError(f"{code!r} is not a supported UN/EDIFACT 1225 message function code")


_EDIFACT_1225: Final[Mapping[MessageFunction, str]] = MappingProxyType(
    {
        MessageFunction.ORIGINAL: "9",
        MessageFunction.CHANGE: "4",
        MessageFunction.REPLACE: "5",
        MessageFunction.CANCELLATION: "1",
    }
)


class TransportMode(StrEnum):
    """Mode of transport, UN/ECE Recommendation 19 (the code is `rec19_code`)."""

    NOT_SPECIFIED = "NOT_SPECIFIED"
    MARITIME = "MARITIME"
    RAIL = "RAIL"
    ROAD = "ROAD"
    AIR = "AIR"
    MAIL = "MAIL"
    MULTIMODAL = "MULTIMODAL"
    FIXED_INSTALLATION = "FIXED_INSTALLATION"
    INLAND_WATER = "INLAND_WATER"
    NOT_APPLICABLE = "NOT_APPLICABLE"

    @property
    def rec19_code(self) -> int:
        """UN/ECE Rec 19 digit: 0 not specified, 1 maritime, 2 rail, 3 road ... 9 n/a."""
        return _REC19_ORDER.index(self)

    @classmethod
    def from_rec19_code(cls, code: int) -> TransportMode:
        if not 0 <= code < len(_REC19_ORDER):
            raise ValueError(f"{code!r} is not a UN/ECE Rec 19 transport mode code")
        return _REC19_ORDER[code]


# Rec 19 numbers its modes 0-9 in exactly this order.
_REC19_ORDER: Final[tuple[TransportMode, ...]] = tuple(TransportMode)


class PreferenceAgreement(StrEnum):
    """Trade agreement under which preferential origin is claimed.

    The Avro enum has default OTHER, so agreements added later stay readable by older nodes.
    """

    ACFTA = "ACFTA"  # ASEAN-China FTA, certificate of origin Form E
    ATIGA = "ATIGA"  # ASEAN Trade in Goods Agreement, Form D
    RCEP = "RCEP"  # Regional Comprehensive Economic Partnership
    OTHER = "OTHER"


class Incoterm(StrEnum):
    """Incoterms 2020 delivery term."""

    EXW = "EXW"
    FCA = "FCA"
    CPT = "CPT"
    CIP = "CIP"
    DAP = "DAP"
    DPU = "DPU"
    DDP = "DDP"
    FAS = "FAS"
    FOB = "FOB"
    CFR = "CFR"
    CIF = "CIF"


class Party(CanonicalModel):
    """A person or company: name and address in their original script, and how to identify it."""

    name: Text
    identifier: Reference | None = None
    identifier_scheme: IdentifierScheme | None = None
    street: Text | None = None
    city: Text | None = None
    postcode: Annotated[str, Field(min_length=1, max_length=17)] | None = None
    country: CountryCode | None = None

    @model_validator(mode="after")
    def _identifier_has_scheme(self) -> Self:
        if (self.identifier is None) == (self.identifier_scheme is None):
            return self
        violations = RuleViolations()
        violations.both_or_neither(self, "identifier", "identifier_scheme")
        violations.raise_if_any(type(self).__name__)
        return self


class Transport(CanonicalModel):
    """The active means of transport crossing the border, and what it carries sealed."""

    mode: TransportMode
    means_identity: Reference | None = None
    nationality: CountryCode | None = None
    containers: tuple[ContainerNumber, ...] = ()
    seals: tuple[Reference, ...] = ()


class PreferenceClaim(CanonicalModel):
    """A claim to preferential tariff treatment backed by a certificate of origin."""

    agreement: PreferenceAgreement
    certificate_number: Reference


class GoodsItem(CanonicalModel):
    """One goods line of the declaration."""

    line_number: Annotated[int, Field(ge=1, le=99_999)]
    hs6: Hs6
    tariff_line: NationalTariffLine | None = None
    description: Text
    specification: Text | None = None
    origin_country: CountryCode
    quantity: Quantity
    quantity_unit: Rec20Unit
    net_mass_kg: MassKg | None = None
    gross_mass_kg: MassKg | None = None
    value: Money | None = None
    value_currency: CurrencyCode | None = None
    procedure_code: Annotated[str, Field(pattern=r"^[A-Z0-9]{1,10}$")] | None = None
    preference: PreferenceClaim | None = None
    package_count: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    package_kind: Rec21PackageKind | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        # Runs for every line of every decoded message: the consistent case allocates nothing.
        tariff_ok = self.tariff_line is None or self.tariff_line.startswith(self.hs6)
        net, gross = self.net_mass_kg, self.gross_mass_kg
        mass_ok = net is None or gross is None or gross >= net
        value_ok = (self.value is None) == (self.value_currency is None)
        if tariff_ok and mass_ok and value_ok:
            return self
        violations = RuleViolations()
        if not tariff_ok:
            violations.add(
                ("tariff_line",),
                "tariff_line_hs6",
                f"national tariff line must begin with its HS6 {self.hs6}",
                self.tariff_line,
            )
        if not mass_ok:
            violations.add(
                ("gross_mass_kg",),
                "gross_below_net",
                f"gross mass is below net mass {net} kg",
                gross,
            )
        violations.both_or_neither(self, "value", "value_currency")
        violations.raise_if_any(type(self).__name__)
        return self


class Declaration(CanonicalModel):
    """A customs declaration (export, import or transit) as exchanged between administrations."""

    message_id: UUID
    functional_reference: Reference
    declaration_number: Reference | None = None
    kind: DeclarationKind
    function: MessageFunction = MessageFunction.ORIGINAL
    issue_time: AwareDatetime
    issue_time_offset_minutes: UtcOffsetMinutes
    declaring_office: Reference
    exit_office: Reference | None = None
    exit_place: LoCode | None = None
    entry_office: Reference | None = None
    entry_place: LoCode | None = None
    itinerary: tuple[CountryCode, ...] = ()
    transport: Transport
    exporter: Party | None = None
    importer: Party | None = None
    declarant: Party | None = None
    carrier: Party | None = None
    goods_items: tuple[GoodsItem, ...]
    total_gross_mass_kg: MassKg | None = None
    total_package_count: Annotated[int, Field(ge=0, le=2**31 - 1)] | None = None
    total_value: Money | None = None
    total_value_currency: CurrencyCode | None = None
    invoice_amount: Money | None = None
    invoice_currency: CurrencyCode | None = None
    incoterm: Incoterm | None = None
    incoterm_place: Text | None = None
    consignment_ucr: Reference | None = None
    extensions: Extensions = Field(default_factory=lambda: MappingProxyType({}))

    @model_validator(mode="before")
    @classmethod
    def _offset_from_issue_time(cls, data: Any) -> Any:
        """Default the local offset to the one `issue_time` carries (e.g. +06:30 gives 390)."""
        if isinstance(data, dict) and "issue_time_offset_minutes" not in data:
            issue_time = data.get("issue_time")
            offset = issue_time.utcoffset() if isinstance(issue_time, datetime) else None
            if offset is not None:
                return {**data, "issue_time_offset_minutes": offset // timedelta(minutes=1)}
        return data

    @field_validator("issue_time")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        """Keep the instant in UTC; the local offset lives in `issue_time_offset_minutes`."""
        return value if value.tzinfo is UTC else value.astimezone(UTC)

    @property
    def local_issue_time(self) -> datetime:
        """Issue time as the sender's wall clock showed it, with that fixed UTC offset."""
        offset = timezone(timedelta(minutes=self.issue_time_offset_minutes))
        return self.issue_time.astimezone(offset)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        violations = RuleViolations()
        if not self.goods_items and self.function is not MessageFunction.CANCELLATION:
            violations.add(("goods_items",), "no_goods", "at least one goods item is required", ())
        self._check_line_numbers(violations)
        self._check_totals(violations)
        violations.both_or_neither(self, "total_value", "total_value_currency")
        violations.both_or_neither(self, "invoice_amount", "invoice_currency")
        if self.incoterm_place is not None and self.incoterm is None:
            violations.add(("incoterm",), "missing_pair", "required with incoterm_place", None)
        violations.raise_if_any(type(self).__name__)
        return self

    def _check_line_numbers(self, violations: RuleViolations) -> None:
        seen: set[int] = set()
        for index, item in enumerate(self.goods_items):
            if item.line_number in seen:
                violations.add(
                    ("goods_items", index, "line_number"),
                    "duplicate_line_number",
                    "line number is used by an earlier goods item",
                    item.line_number,
                )
            seen.add(item.line_number)

    def _check_totals(self, violations: RuleViolations) -> None:
        """A total must equal the sum of its lines when every line states its part."""
        # Runs for every decoded declaration: lists of the parts, summed only when all are given.
        items = self.goods_items
        if not items:
            return
        if self.total_gross_mass_kg is not None:
            gross = [item.gross_mass_kg for item in items]
            if all(mass is not None for mass in gross):  # `in` would compare Decimals with None
                summed = exact_sum(cast(list[Decimal], gross))
                _check_total(violations, "total_gross_mass_kg", self.total_gross_mass_kg, summed)
        if self.total_package_count is not None:
            packages = [item.package_count for item in items]
            if None not in packages:
                count = sum(cast(list[int], packages))
                _check_total(violations, "total_package_count", self.total_package_count, count)
        currency = self.total_value_currency
        if self.total_value is not None:
            values = [item.value for item in items if item.value_currency == currency]
            if len(values) == len(items) and all(value is not None for value in values):
                summed = exact_sum(cast(list[Decimal], values))
                _check_total(violations, "total_value", self.total_value, summed)


def _check_total(
    violations: RuleViolations, field: str, total: Decimal | int, summed: Decimal | int
) -> None:
    if summed != total:
        violations.add(
            (field,), "total_mismatch", f"does not equal the sum of the lines {summed}", total
        )
