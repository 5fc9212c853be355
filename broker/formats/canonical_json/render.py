"""Render a canonical declaration as `canonical-json`: sorted keys, decimals as strings."""

from __future__ import annotations

import json

from broker.errors import FormatError
from broker.formats.base import LossReport, RenderResult
from broker.formats.canonical_json.layout import FORMAT_ID, SURROGATE
from broker.formats.paths import field_values, unencodable_text
from broker.model import Declaration


def render_canonical_json(declaration: Declaration) -> RenderResult:
    problems = unencodable_text(field_values(declaration), SURROGATE)
    if problems:
        raise FormatError.collect(f"cannot render as {FORMAT_ID}", problems)
    document = json.dumps(
        declaration.model_dump(mode="json"), ensure_ascii=False, sort_keys=True, indent=2
    )
    return RenderResult((document + "\n").encode("utf-8"), LossReport(FORMAT_ID))
