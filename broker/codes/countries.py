"""ISO 3166-1 countries: alpha-3 (China's declarations) <-> alpha-2 (the canonical model).

Taken from pycountry, which packages the ISO 3166 data of Debian's iso-codes, rather than typed by
hand: a maintained list follows renamed and new countries without a code change here.
"""

from __future__ import annotations

import functools
import importlib.metadata
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import pycountry

from broker.codes.table import UnknownCodeError

TABLE: Final = "ISO 3166-1 alpha-3"
SOURCE: Final = "ISO 3166-1 via pycountry (Debian iso-codes)"
VERSION: Final = importlib.metadata.version("pycountry")


@functools.cache
def _alpha2_by_alpha3() -> Mapping[str, str]:
    return MappingProxyType({c.alpha_3: c.alpha_2 for c in pycountry.countries})


@functools.cache
def _alpha3_by_alpha2() -> Mapping[str, str]:
    return MappingProxyType({c.alpha_2: c.alpha_3 for c in pycountry.countries})


def alpha2(alpha3: str) -> str:
    """`CHN` -> `CN`; `UnknownCodeError` for anything that is not an ISO alpha-3 code."""
    try:
        return _alpha2_by_alpha3()[alpha3]
    except KeyError:
        raise UnknownCodeError(TABLE, alpha3) from None


def alpha3(alpha2_code: str) -> str:
    """`LA` -> `LAO`; `UnknownCodeError` for anything that is not an ISO alpha-2 code."""
    try:
        return _alpha3_by_alpha2()[alpha2_code]
    except KeyError:
        raise UnknownCodeError("ISO 3166-1 alpha-2", alpha2_code) from None
