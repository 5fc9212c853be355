"""`canonical-json`: the canonical model itself as JSON, the lossless reference format.

UTF-8, keys sorted so equal declarations give equal bytes, decimals as strings (a JSON number
would be read as a binary float and could no longer hold 0.1 exactly), times as ISO 8601 in UTC
with the sender's offset in `issue_time_offset_minutes`. Parsing goes through pydantic's own JSON
reader, which is bounded in nesting depth and refuses number fields given as floats.
"""

from __future__ import annotations

from typing import Final

from broker.formats.base import ParseLimits, RenderResult
from broker.formats.canonical_json.layout import CAPABILITIES, FORMAT_ID
from broker.formats.canonical_json.parse import parse_canonical_json
from broker.formats.canonical_json.render import render_canonical_json
from broker.formats.problems import Reading
from broker.model import Declaration

__all__ = [
    "CAPABILITIES",
    "FORMAT_ID",
    "CanonicalJsonAdapter",
    "parse_canonical_json",
    "render_canonical_json",
]


class CanonicalJsonAdapter:
    """The canonical model as JSON: carries every field, loses nothing."""

    id: Final = FORMAT_ID
    title: Final = "Canonical declaration as JSON (the broker's own reference format)"
    capabilities: Final = CAPABILITIES
    file_extension: Final = "json"  # for files in gateway folders

    def __init__(self, limits: ParseLimits | None = None) -> None:
        self._limits = limits or ParseLimits()

    def read(self, data: bytes, *, source: str = "") -> Reading:
        return Reading((parse_canonical_json(data, source=source, limits=self._limits),))

    def parse(self, data: bytes, *, source: str = "") -> Declaration:
        return parse_canonical_json(data, source=source, limits=self._limits)

    def render(self, declaration: Declaration, *, require_mandatory: bool = True) -> RenderResult:
        # Nothing this format needs can be absent from a valid declaration: the flag is moot.
        return render_canonical_json(declaration)
