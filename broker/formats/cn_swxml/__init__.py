"""`cn-swxml`: China single window customs declaration XML (GACC Announcement 2018 No. 67).

`DecMessage` holds `DecHead` (the declaration), `DecLists/DecList` (one per goods line),
optionally `DecContainers`, `DecSign` and `DecFreeTxt`. China's own code tables are crosswalked
in `broker.codes` (units, transport modes, transaction terms; countries alpha-3); IEDate is China
local time. UTF-8, GB18030, GBK and GB2312 documents are read as their XML declaration says; output
is always UTF-8. National fields with no canonical home travel in `extensions` as
`cn-swxml:DecHead/ManualNo`, `cn-swxml:DecList[GNo=3]/GModel` and so on, and come back out when
rendering to this format.
"""

from __future__ import annotations

from typing import Final

from broker.formats.base import ParseLimits, RenderResult
from broker.formats.cn_swxml.layout import CAPABILITIES, FORMAT_ID
from broker.formats.cn_swxml.parse import read_cn_swxml
from broker.formats.cn_swxml.render import render_cn_swxml
from broker.formats.problems import Reading
from broker.model import Declaration


class CnSwxmlAdapter:
    """China single window declaration XML <-> canonical declaration."""

    id: Final = FORMAT_ID
    title: Final = "China single window customs declaration XML (GACC 2018 No. 67)"
    capabilities: Final = CAPABILITIES
    file_extension: Final = "xml"  # for files in gateway folders

    def __init__(self, limits: ParseLimits | None = None) -> None:
        self._limits = limits or ParseLimits()

    def read(self, data: bytes, *, source: str = "") -> Reading:
        return read_cn_swxml(data, source=source, limits=self._limits)

    def parse(self, data: bytes, *, source: str = "") -> Declaration:
        return self.read(data, source=source).only(source)

    def render(self, declaration: Declaration, *, require_mandatory: bool = True) -> RenderResult:
        # Nothing this format needs can be absent from a valid declaration: the flag is moot.
        return render_cn_swxml(declaration)
