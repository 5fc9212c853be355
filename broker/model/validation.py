"""Turn pydantic's `ValidationError` into the broker's `Problem`s, every one at once.

Format adapters build a plain dict from a national document and call `validate_declaration`; a
failure is a `FormatError` whose problems carry the dotted canonical field path
(`goods_items.3.hs6`), the reason, the offending value and pydantic's error type as `code`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from broker.errors import FormatError, Problem
from broker.model.declaration import Declaration
from broker.model.receipt import Receipt

# Long inputs (a whole goods list, a 2 kB description) are cut; Problem shortens further on display.
_MAX_VALUE_CHARS = 200


def dotted_path(location: tuple[str | int, ...]) -> str:
    """`('goods_items', 3, 'hs6')` -> `goods_items.3.hs6`."""
    return ".".join(str(part) for part in location)


def problems_from(error: ValidationError, *, source: str = "") -> tuple[Problem, ...]:
    """One `Problem` per pydantic error, in pydantic's order."""
    return tuple(
        Problem(
            reason=detail["msg"],
            source=source,
            field=dotted_path(detail["loc"]),
            value=_shown(detail.get("input")),
            code=detail["type"],
        )
        for detail in error.errors(include_url=False)
    )


def _shown(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text[:_MAX_VALUE_CHARS]


def validate_declaration(data: Mapping[str, Any], *, source: str = "") -> Declaration:
    """A `Declaration` from canonical field values, or `FormatError` listing every problem."""
    try:
        return Declaration.model_validate(data)
    except ValidationError as exc:
        raise FormatError.collect("invalid declaration", problems_from(exc, source=source)) from exc


def validate_receipt(data: Mapping[str, Any], *, source: str = "") -> Receipt:
    """A `Receipt` from canonical field values, or `FormatError` listing every problem."""
    try:
        return Receipt.model_validate(data)
    except ValidationError as exc:
        raise FormatError.collect("invalid receipt", problems_from(exc, source=source)) from exc
