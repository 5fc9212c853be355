"""ISO 4217 alphabetic currency codes, from pycountry (Debian iso-codes), not a hand-typed list.

China's single window, ACDD, CUSDEC and the canonical model all use the same alphabetic codes, so
this is a membership check: an unknown code is reported naming the table instead of reaching the
model as an unexplained pattern failure.
"""

from __future__ import annotations

import importlib.metadata
from typing import Final

from broker.codes.table import UnknownCodeError
from broker.model.types import currency_codes

TABLE: Final = "ISO 4217"
SOURCE: Final = "ISO 4217 via pycountry (Debian iso-codes)"
VERSION: Final = importlib.metadata.version("pycountry")


def currency(code: str) -> str:
    """`code` itself when it is an ISO 4217 alphabetic code, else `UnknownCodeError`."""
    if code not in currency_codes():
        raise UnknownCodeError(TABLE, code)
    return code
