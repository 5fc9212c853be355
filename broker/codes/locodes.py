"""UN/LOCODEs of the corridor's places, with the ones docs/domain.md could not confirm flagged.

The adapters accept any well-formed UN/LOCODE (the model checks shape and country); this table
names the places the corridor's samples, docs and benchmarks use, so that a typo in them shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, NamedTuple

from broker.codes.table import UnknownCodeError

SOURCE: Final = "UN/LOCODE (UNECE), entries as listed in docs/domain.md §3"
VERSION: Final = "UN/LOCODE 2024-2; entries with verified=False are [check]"


class Place(NamedTuple):
    name: str
    verified: bool


CORRIDOR_PLACES: Final[Mapping[str, Place]] = MappingProxyType(
    {
        "CNCKG": Place("Chongqing", True),
        "CNNNG": Place("Nanning", True),
        "CNKMG": Place("Kunming", True),
        "CNPIN": Place("Pingxiang (border with Vietnam)", True),
        "CNHKM": Place("Hekou", True),
        "LAVTE": Place("Vientiane", True),
        "THBKK": Place("Bangkok", True),
        "VNHAN": Place("Hanoi", True),
        "VNHPH": Place("Haiphong", True),
        "SGSIN": Place("Singapore", True),
        "KZALA": Place("Almaty", True),
        "CNQZH": Place("Qinzhou (Beibu Gulf port)", False),
        "CNBHY": Place("Beihai", False),
        "CNZHA": Place("Zhanjiang", False),
    }
)


def corridor_place(code: str) -> Place:
    try:
        return CORRIDOR_PLACES[code]
    except KeyError:
        raise UnknownCodeError("UN/LOCODE corridor places", code) from None
