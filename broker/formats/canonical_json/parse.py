"""Read `canonical-json` through pydantic's own JSON reader (bounded depth, no floats)."""

from __future__ import annotations

from dataclasses import replace

from pydantic import ValidationError

from broker.errors import FormatError, Problem
from broker.formats.base import ParseLimits
from broker.formats.canonical_json.layout import FORMAT_ID
from broker.model import Declaration, problems_from


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
