"""A crosswalk between a national code list and the canonical one, with where it comes from.

National lists rarely map one to one: China's transport mode 2 (waterway) covers both UN/ECE Rec 19
maritime and inland water; its transaction term 4 (C&I) has no Incoterms 2020 equivalent. A
`CodeTable` states this explicitly instead of guessing:

- `canonical(code)` reads a national code: the canonical value, or None when the code is known
  but has no canonical equivalent (the adapter keeps it in `extensions`);
- `national(value)` writes one: the exact national code, or the nearest one when the table lists
  the value under `nearest` (the adapter reports the approximation as a loss);
- an unknown code raises `UnknownCodeError` naming the table, never passes through silently.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Generic, TypeVar

from broker.errors import BrokerError

CanonicalT = TypeVar("CanonicalT", bound=str)
KeyT = TypeVar("KeyT")
ValueT = TypeVar("ValueT")


class UnknownCodeError(BrokerError, ValueError):
    """A code is not in the table it was looked up in; the message names the table."""

    def __init__(self, table: str, code: object) -> None:
        self.table = table
        self.code = code
        super().__init__(f"{code!r} is not a code of {table}")


@dataclass(frozen=True)
class CodeTable(Generic[CanonicalT]):
    """National code <-> canonical value, one table, with its source and whether it is verified.

    `verified` is False for tables that docs/domain.md marks [check]: built from public
    implementations, not yet confirmed against the official list.
    """

    name: str
    source: str
    version: str
    verified: bool
    to_canonical: Mapping[str, CanonicalT]
    national_only: frozenset[str] = frozenset()  # known codes with no canonical equivalent
    nearest: Mapping[CanonicalT, str] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        exact = list(self.to_canonical.values())
        if len(exact) != len(set(exact)):
            raise ValueError(f"{self.name}: two national codes map to the same canonical value")
        overlap = set(self.nearest) & set(exact)
        if overlap:
            raise ValueError(f"{self.name}: {sorted(overlap)} have both an exact and a near code")

    def canonical(self, code: str) -> CanonicalT | None:
        """The canonical value of national `code`; None if known but without equivalent."""
        if code in self.to_canonical:
            return self.to_canonical[code]
        if code in self.national_only:
            return None
        raise UnknownCodeError(self.name, code)

    def national(self, value: CanonicalT) -> str:
        """The national code for canonical `value`, exact or nearest (see `is_exact`)."""
        for code, known in self.to_canonical.items():
            if known == value:
                return code
        if value in self.nearest:
            return self.nearest[value]
        raise UnknownCodeError(f"{self.name} (canonical side)", value)

    def is_exact(self, value: CanonicalT) -> bool:
        """Whether `value` survives national() then canonical() unchanged."""
        return value in self.to_canonical.values()


def read_only(mapping: Mapping[KeyT, ValueT]) -> Mapping[KeyT, ValueT]:
    return MappingProxyType(dict(mapping))
