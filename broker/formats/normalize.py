"""Value normalization shared by the adapters: exact decimals, masses in kg, HS6, local time.

Everything stays `Decimal` (a float cannot hold 0.1 kg); unit conversions multiply by exact
powers of ten; local wall-clock times are resolved through the country's IANA zone and keep their
original UTC offset beside the UTC instant.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

from broker.codes.table import UnknownCodeError

# Plain decimal notation only: no exponent, no grouping, no NaN; 40 characters is far beyond any
# customs amount and keeps hostile input from building huge numbers.
_DECIMAL: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_MAX_DECIMAL_CHARS: Final = 40

# Mass units (UN/ECE Rec 20) a document may use for a weight, and their size in kilograms.
_KG_PER_UNIT: Final = {"KGM": Decimal(1), "TNE": Decimal(1000), "GRM": Decimal("0.001")}

_INTEGER: Final = re.compile(r"[0-9]{1,10}")


def parse_decimal(text: str, *, decimal_mark: str = ".") -> Decimal:
    """`"1234.50"` -> `Decimal("1234.50")`; anything else (`1e3`, `1,234`, `NaN`) is refused."""
    candidate = text.replace(decimal_mark, ".") if decimal_mark != "." else text
    if len(candidate) > _MAX_DECIMAL_CHARS or not _DECIMAL.fullmatch(candidate):
        raise ValueError("not a plain decimal number")
    return Decimal(candidate)


def parse_count(text: str) -> int:
    """A whole count (line number, number of packages): digits only."""
    if not _INTEGER.fullmatch(text):
        raise ValueError("not a whole number")
    return int(text)


def plain(value: Decimal) -> str:
    """`Decimal("1500.000000")` -> `"1500"`: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def mass_in_kg(value: Decimal, unit: str) -> Decimal:
    """A mass stated in `unit` (KGM, TNE or GRM) as kilograms, exactly."""
    try:
        return value * _KG_PER_UNIT[unit]
    except KeyError:
        raise UnknownCodeError("UN/ECE Rec 20 mass units (KGM, TNE, GRM)", unit) from None


def hs6_of(tariff_line: str) -> str:
    """The HS subheading a national tariff line begins with (`8471300000` -> `847130`)."""
    if not re.fullmatch(r"[0-9]{6,13}", tariff_line):
        raise ValueError("commodity code must be 6 to 13 digits")
    return tariff_line[:6]


def offset_minutes(moment: datetime) -> int:
    """UTC offset of an aware datetime in minutes (Myanmar +06:30 is 390)."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("time has no UTC offset")
    return offset // timedelta(minutes=1)
