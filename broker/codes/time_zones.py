"""Country -> IANA time zone, for national formats that state local time without an offset.

Offsets come from the system tz database through zoneinfo, never from a hard-coded number:
Myanmar is +06:30 and Kazakhstan moved to +05:00 in March 2024, and only the database knows when.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final
from zoneinfo import ZoneInfo

from broker.codes.table import UnknownCodeError

SOURCE: Final = "IANA tz database zone names (docs/domain.md §1), offsets resolved by zoneinfo"
VERSION: Final = "zone names as of tzdata 2024a"

COUNTRY_ZONES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "CN": "Asia/Shanghai",
        "VN": "Asia/Ho_Chi_Minh",
        "LA": "Asia/Vientiane",
        "TH": "Asia/Bangkok",
        "KH": "Asia/Phnom_Penh",
        "MM": "Asia/Yangon",
        "MY": "Asia/Kuala_Lumpur",
        "SG": "Asia/Singapore",
        "BN": "Asia/Brunei",
        "KZ": "Asia/Almaty",
    }
)


def zone_for(country: str) -> ZoneInfo:
    """The time zone of a corridor country (alpha-2), e.g. `MM` -> Asia/Yangon."""
    try:
        return ZoneInfo(COUNTRY_ZONES[country])
    except KeyError:
        raise UnknownCodeError("corridor country time zones", country) from None
