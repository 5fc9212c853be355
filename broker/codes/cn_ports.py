"""China's port and place codes, which are not UN/LOCODEs, and what can be said of them.

The single window's DespPortCode / DistinatePort (启运港 / 指运港) use China's own port table
(港口代码表, GACC 2018 No. 67 parameters): six characters, the ISO alpha-3 country and three
digits, `000` meaning "a port of that country, not named" (`LAO000`, `SGP000`); EntyPortCode
and IEPort use customs codes (4-digit customs port 关区代码, 6-digit domestic place codes). None
of these is a UN/LOCODE, and no public crosswalk to UN/LOCODE exists, so:

- a code that already has the UN/LOCODE shape (`THBKK`) is read as a UN/LOCODE;
- a China port code is kept as sent (in extensions), with a warning naming the country it
  stands for when the code says (`LAO000` -> LA), and never refuses the declaration.
"""

from __future__ import annotations

import re
from typing import Final, NamedTuple

from broker.codes.countries import alpha2
from broker.codes.table import UnknownCodeError

SOURCE: Final = "GACC 2018 No. 67 parameter table 港口代码 (shape); UN/LOCODE (UNECE) shape"
VERSION: Final = "shape rules only: no verified China-port-code -> UN/LOCODE list is public"

_LOCODE: Final = re.compile(r"[A-Z]{2}[A-Z2-9]{3}")
_CHINA_PORT: Final = re.compile(r"(?P<country>[A-Z]{3})(?P<port>[0-9]{3})")
_CUSTOMS_CODE: Final = re.compile(r"[0-9]{4}|[0-9]{6}")


class PortReading(NamedTuple):
    """A port code as read: the UN/LOCODE if it is one, else why not (and its country)."""

    locode: str | None
    note: str
    country: str | None = None


def read_port(code: str) -> PortReading:
    """What a China document's port code says (see the module docs)."""
    if _LOCODE.fullmatch(code):
        return PortReading(code, "")
    china = _CHINA_PORT.fullmatch(code)
    if china:
        try:
            country = alpha2(china["country"])
        except UnknownCodeError:
            country = None
        if country is not None:
            what = "a port not named" if china["port"] == "000" else f"port {china['port']}"
            return PortReading(
                None, f"China port code for {what} in {country}, not a UN/LOCODE", country
            )
    if _CUSTOMS_CODE.fullmatch(code):
        return PortReading(None, "China customs port/place code, not a UN/LOCODE")
    return PortReading(None, "neither a UN/LOCODE nor a China port code")
