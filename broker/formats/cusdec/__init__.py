"""`cusdec`: UN/EDIFACT CUSDEC D.96B, the customs declaration message between administrations.

See `cusdec.layout` for where each canonical field sits, `edifact` for the syntax (UNA, release
character, UNOC/UNOW). CUSDEC has no place for the broker's message id or for national
extensions: parsing derives a stable id from the bytes, rendering reports extensions as lost.
"""

from __future__ import annotations

from typing import Final

from broker.formats.base import ParseLimits, RenderResult
from broker.formats.cusdec.layout import CAPABILITIES, FORMAT_ID
from broker.formats.cusdec.parse import read_cusdec
from broker.formats.cusdec.render import Syntax, render_cusdec
from broker.formats.problems import Reading
from broker.model import Declaration


class CusdecAdapter:
    """UN/EDIFACT CUSDEC <-> canonical declaration; `syntax` forces UNOC or UNOW on render."""

    id: Final = FORMAT_ID
    title: Final = "UN/EDIFACT CUSDEC D.96B customs declaration"
    capabilities: Final = CAPABILITIES
    file_extension: Final = "edi"  # for files in gateway folders

    def __init__(self, limits: ParseLimits | None = None, *, syntax: Syntax = "auto") -> None:
        self._limits = limits or ParseLimits()
        self._syntax: Syntax = syntax

    def read(self, data: bytes, *, source: str = "") -> Reading:
        return read_cusdec(data, source=source, limits=self._limits)

    def parse(self, data: bytes, *, source: str = "") -> Declaration:
        return self.read(data, source=source).only(source)

    def render(self, declaration: Declaration, *, require_mandatory: bool = True) -> RenderResult:
        # Nothing this format needs can be absent from a valid declaration: the flag is moot.
        return render_cusdec(declaration, syntax=self._syntax)
