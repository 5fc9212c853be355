"""Constrained field types shared by the canonical model and the national-format adapters.

Each type says what a value is (a country, a mass in kilograms, an HS subheading) and checks it
where the model is built, so an adapter that maps a national document gets every complaint at
once, with the field path, from pydantic. Decimal types are strict: a float is refused because
binary floating point cannot hold customs amounts exactly (0.1 kg is not 0.1 in a double), and
values are held at the scale of their Avro type (see `decimals.py`).

Precision and scale match the Avro `decimal` logical types in `schemas/` (see docs/schemas.md):
quantities and masses `decimal(28, 6)`, money `decimal(28, 4)`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Annotated, Final

import pycountry
from pydantic import (
    AfterValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
)

from broker.model.decimals import Bound, DecimalSpec

QUANTITY_PRECISION: Final = 28
QUANTITY_SCALE: Final = 6
MONEY_PRECISION: Final = 28
MONEY_SCALE: Final = 4

# Widest UTC offsets in use are -12:00 and +14:00; ISO 8601 allows up to 18 hours either way.
MAX_UTC_OFFSET_MINUTES: Final = 18 * 60


@functools.cache
def country_codes() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes, built from pycountry on first use."""
    return frozenset(country.alpha_2 for country in pycountry.countries)


@functools.cache
def currency_codes() -> frozenset[str]:
    """ISO 4217 alphabetic currency codes, built from pycountry on first use."""
    return frozenset(currency.alpha_3 for currency in pycountry.currencies)


def _known_country(code: str) -> str:
    if code not in country_codes():
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _known_currency(code: str) -> str:
    if code not in currency_codes():
        raise ValueError(f"{code!r} is not an ISO 4217 currency code")
    return code


def _locode_country_known(code: str) -> str:
    _known_country(code[:2])
    return code


def _read_only(mapping: Mapping[str, str]) -> Mapping[str, str]:
    return MappingProxyType(dict(mapping))


_UPPER_ALPHA2 = StringConstraints(pattern=r"^[A-Z]{2}$")
_UPPER_ALPHA3 = StringConstraints(pattern=r"^[A-Z]{3}$")

CountryCode = Annotated[str, _UPPER_ALPHA2, AfterValidator(_known_country)]
"""ISO 3166-1 alpha-2 country code, e.g. CN, LA, TH, MM."""

CurrencyCode = Annotated[str, _UPPER_ALPHA3, AfterValidator(_known_currency)]
"""ISO 4217 alphabetic currency code, e.g. CNY, LAK, THB."""

LoCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}[A-Z2-9]{3}$"),
    AfterValidator(_locode_country_known),
]
"""UN/LOCODE: country + three letters or digits 2-9, e.g. CNCKG Chongqing, LAVTE Vientiane."""

# Chapters 01-97 except 77, which the Harmonized System reserves for future use.
Hs6 = Annotated[
    str, StringConstraints(pattern=r"^(?:0[1-9]|[1-6][0-9]|7[0-68-9]|8[0-9]|9[0-7])[0-9]{4}$")
]
"""Harmonized System subheading: six ASCII digits, chapter 01-97 but 77."""

NationalTariffLine = Annotated[str, StringConstraints(pattern=r"^[0-9]{6,13}$")]
"""National commodity code: AHTN 8 digits, China CodeTS 10 (sometimes 13); begins with the HS6."""

Rec20Unit = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2,3}$")]
"""UN/ECE Recommendation 20 unit of measure, e.g. KGM, TNE, LTR, H87 (piece), C62 (one)."""

Rec21PackageKind = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{2}$")]
"""UN/ECE Recommendation 21 kind of package, e.g. CT carton, PK package, PX pallet."""

ContainerNumber = Annotated[str, StringConstraints(pattern=r"^[A-Z]{4}[0-9]{7}$")]
"""ISO 6346 container number: owner code + category letter + serial + check digit.

The check digit is not recomputed: rejecting a whole declaration for a mistyped container number
is a national decision, not the broker's.
"""

IdentifierScheme = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,34}$")]
"""Who issued a party identifier, e.g. CN-USCC (unified social credit code), TH-TIN, EORI, AEO."""

Reference = Annotated[str, StringConstraints(min_length=1, max_length=70)]
"""A reference or code assigned by someone (LRN, office code, certificate number, seal)."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
"""Free text in its original script (Chinese, Thai, Lao, Burmese, Vietnamese ...), kept as sent."""

ExtensionKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*:\S+$", max_length=256)]
"""`<format id>:<national path>`, e.g. `cn-swxml:DecHead/ManualNo`."""

Extensions = Annotated[
    Mapping[ExtensionKey, Annotated[str, StringConstraints(max_length=4096)]],
    AfterValidator(_read_only),
    PlainSerializer(dict),
]
"""National fields with no canonical home, kept so that nothing is lost in transit (read-only)."""

# JSON carries decimals as strings ("15.000000"), exactly; Python keeps the Decimal.
_DECIMAL_AS_JSON_STRING = PlainSerializer(str, return_type=str, when_used="json")
_QUANTITY = DecimalSpec(QUANTITY_PRECISION, QUANTITY_SCALE, Bound.POSITIVE)
_MASS = DecimalSpec(QUANTITY_PRECISION, QUANTITY_SCALE, Bound.NON_NEGATIVE)
_MONEY = DecimalSpec(MONEY_PRECISION, MONEY_SCALE, Bound.NON_NEGATIVE)

Quantity = Annotated[
    Decimal,
    PlainValidator(_QUANTITY.validator(), json_schema_input_type=str),
    _DECIMAL_AS_JSON_STRING,
    _QUANTITY,
]
"""A positive quantity of goods in its unit, Avro decimal(28, 6)."""

MassKg = Annotated[
    Decimal,
    PlainValidator(_MASS.validator(), json_schema_input_type=str),
    _DECIMAL_AS_JSON_STRING,
    _MASS,
]
"""A mass in kilograms, Avro decimal(28, 6)."""

Money = Annotated[
    Decimal,
    PlainValidator(_MONEY.validator(), json_schema_input_type=str),
    _DECIMAL_AS_JSON_STRING,
    _MONEY,
]
"""An amount of money in the currency named beside it, Avro decimal(28, 4)."""

UtcOffsetMinutes = Annotated[int, Field(ge=-MAX_UTC_OFFSET_MINUTES, le=MAX_UTC_OFFSET_MINUTES)]
"""Local UTC offset in minutes east of Greenwich (Myanmar +06:30 is 390)."""
