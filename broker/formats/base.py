"""What every format adapter offers, and what rendering returns.

An adapter turns bytes of one national or regional format into a canonical `Declaration`
(`parse`, raising `FormatError` with every problem at once) and back (`render`, returning the
bytes and a `LossReport` of the canonical fields the format could not carry). `capabilities`
lists the canonical field patterns the format can carry (`goods_items.*.hs6`, `extensions`), so
loss is accounted for in one place and documented in a generated table.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Protocol
from uuid import UUID, uuid5

from broker.errors import Problem
from broker.formats.problems import Reading
from broker.model import Declaration

MIB: Final = 1024 * 1024

# Namespace of message ids derived from document bytes, for formats that cannot carry one.
_DERIVED_ID_NAMESPACE: Final = UUID("2b9d4f0e-7a61-4c3b-8e25-5d9f6c1a0b47")


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """Bounds on untrusted input, so a hostile document fails fast instead of exhausting memory."""

    max_bytes: int = 10 * MIB
    max_xml_depth: int = 32
    max_xml_elements: int = 500_000
    max_segments: int = 200_000
    max_segment_chars: int = 20_000
    max_elements_per_segment: int = 99
    max_components_per_element: int = 99


@dataclass(frozen=True, slots=True)
class Loss:
    """One canonical field (concrete path, e.g. `goods_items.3.net_mass_kg`) not carried as is."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class LossReport:
    """Canonical fields the target format dropped or could only approximate."""

    format_id: str
    entries: tuple[Loss, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.entries)

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(entry.path for entry in self.entries)

    def summary(self) -> list[str]:
        """One line per field pattern and reason, goods lines folded (`goods_items.*.x (20x)`)."""
        grouped: dict[tuple[str, str], int] = defaultdict(int)
        for entry in self.entries:
            grouped[(pattern_of(entry.path), entry.reason)] += 1
        return [
            f"{pattern}{f' ({count}x)' if count > 1 else ''}: {reason}"
            for (pattern, reason), count in grouped.items()
        ]


@dataclass(frozen=True, slots=True)
class RenderResult:
    data: bytes
    loss: LossReport
    # Mandatory items the document lacks, when rendering was asked to go on without them.
    warnings: tuple[Problem, ...] = ()


class FormatAdapter(Protocol):
    """A national or regional declaration format: parse, render, and what it can carry."""

    @property
    def id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def capabilities(self) -> frozenset[str]: ...

    @property
    def file_extension(self) -> str: ...

    def read(self, data: bytes, *, source: str = "") -> Reading:
        """Every declaration in the document and the warnings on them; `FormatError` if none."""
        ...

    def parse(self, data: bytes, *, source: str = "") -> Declaration:
        """The document's one declaration (`read`, then `Reading.only`)."""
        ...

    def render(
        self, declaration: Declaration, *, require_mandatory: bool = True
    ) -> RenderResult: ...


def pattern_of(path: str) -> str:
    """The capability pattern of a concrete path: `goods_items.3.hs6` -> `goods_items.*.hs6`.

    Every extension key falls under `extensions`; keys may contain dots of their own.
    """
    if path == "extensions" or path.startswith("extensions."):
        return "extensions"
    return ".".join("*" if part.isdigit() else part for part in path.split("."))


def derived_message_id(format_id: str, data: bytes) -> UUID:
    """A stable message id for a document whose format has no place for one.

    The same bytes always give the same id, so a resent document is still recognised as a
    duplicate downstream.
    """
    return uuid5(_DERIVED_ID_NAMESPACE, f"{format_id}:{hashlib.sha256(data).hexdigest()}")


def loss_report(format_id: str, entries: Iterable[Loss]) -> LossReport:
    """Entries de-duplicated in first-seen order."""
    return LossReport(format_id, tuple(dict.fromkeys(entries)))
