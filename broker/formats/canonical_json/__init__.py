"""`canonical-json`: the canonical model itself as JSON, the lossless reference format.

UTF-8, keys sorted so equal declarations give equal bytes, decimals as strings (a JSON number
would be read as a binary float and could no longer hold 0.1 exactly), times as ISO 8601 in UTC
with the sender's offset in `issue_time_offset_minutes`. Parsing goes through pydantic's own JSON
reader, which is bounded in nesting depth and refuses number fields given as floats.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from typing import Final

from pydantic import ValidationError

from broker.errors import FormatError, Problem
from broker.formats.base import LossReport, ParseLimits, RenderResult
from broker.formats.paths import canonical_field_patterns, unencodable_text
from broker.formats.problems import Reading
from broker.model import Declaration, problems_from

FORMAT_ID: Final = "canonical-json"
CAPABILITIES: Final = frozenset(canonical_field_patterns())

# UTF-8 has no encoding for a lone surrogate; everything else JSON escapes as needed.
_SURROGATE: Final = re.compile("[\ud800-\udfff]")


def render_canonical_json(declaration: Declaration) -> RenderResult:
    problems = unencodable_text(declaration, _SURROGATE)
    if problems:
        raise FormatError.collect(f"cannot render as {FORMAT_ID}", problems)
    document = json.dumps(
        declaration.model_dump(mode="json"), ensure_ascii=False, sort_keys=True, indent=2
    )
    return RenderResult((document + "\n").encode("utf-8"), LossReport(FORMAT_ID))


def parse_canonical_json(
    data: bytes, *, source: str = "", limits: ParseLimits | None = None
) -> Declaration:
    limits = limits or ParseLimits()
    if len(data) > limits.max_bytes:
        too_large = Problem(f"document is larger than {limits.max_bytes} bytes", source, "byte 0")
        raise _error(source, [replace(too_large, code="too_large")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        problem = Problem(f"not valid UTF-8 ({exc.reason})", source, f"byte {exc.start}")
        raise _error(source, [replace(problem, code="bad_encoding")]) from None
    try:
        return Declaration.model_validate_json(text)
    except ValidationError as exc:
        problems = [
            replace(p, location=_pointer(p.field)) for p in problems_from(exc, source=source)
        ]
        raise _error(source, problems) from exc


def _pointer(field: str) -> str:
    """JSON Pointer of a dotted field path: `goods_items.2.hs6` -> `/goods_items/2/hs6`."""
    return "/" + field.replace(".", "/") if field else "/"


def _error(source: str, problems: list[Problem]) -> FormatError:
    return FormatError.collect(
        f"{source or 'input'}: not a valid {FORMAT_ID} declaration", problems
    )


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
