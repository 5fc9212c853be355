"""`acdd-xml`: the ASEAN Customs Declaration Document data set as XML with WCO Data Model names.

The ACDD has been exchanged over the ASEAN Single Window since 2020 (an export declaration sent to
the importing country for its risk management). Its official XML schema (implementation guide
v1.08) is not public, so this format is the broker's own rendering of the published data set: the
fifteen mandatory items (Singapore's list) plus every optional field the canonical model carries,
named after the WCO Data Model. It is exact for the canonical model, but it is not the ASW wire
format; a national single window would map it to the official schema.
"""

from __future__ import annotations

from typing import Final

from broker.formats.acdd_xml.layout import CAPABILITIES, FORMAT_ID
from broker.formats.acdd_xml.parse import read_acdd_xml
from broker.formats.acdd_xml.render import render_acdd_xml
from broker.formats.base import ParseLimits, RenderResult
from broker.formats.problems import Reading
from broker.model import Declaration


class AcddXmlAdapter:
    """ACDD data set XML <-> canonical declaration."""

    id: Final = FORMAT_ID
    title: Final = "ASEAN Customs Declaration Document data set (broker XML, WCO DM names)"
    capabilities: Final = CAPABILITIES
    file_extension: Final = "xml"  # for files in gateway folders

    def __init__(self, limits: ParseLimits | None = None) -> None:
        self._limits = limits or ParseLimits()

    def read(self, data: bytes, *, source: str = "") -> Reading:
        return read_acdd_xml(data, source=source, limits=self._limits)

    def parse(self, data: bytes, *, source: str = "") -> Declaration:
        return self.read(data, source=source).only(source)

    def render(self, declaration: Declaration, *, require_mandatory: bool = True) -> RenderResult:
        return render_acdd_xml(declaration, require_mandatory=require_mandatory)
