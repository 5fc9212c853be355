"""National and regional declaration formats <-> the canonical model (pure code, no I/O).

Adapters: `cn-swxml` (China single window XML), `acdd-xml` (ASEAN ACDD data set), `cusdec`
(UN/EDIFACT CUSDEC D.96B) and `canonical-json`. Build them with `default_registry()`, look one up
with `registry.get(format_id)`, then `adapter.parse(data, source=...)` (raises `FormatError` with
every problem) and `adapter.render(declaration)` (returns bytes and a `LossReport`).
"""

from broker.formats.base import FormatAdapter, Loss, LossReport, ParseLimits, RenderResult
from broker.formats.paths import restrict
from broker.formats.registry import (
    FormatRegistry,
    UnknownFormatError,
    capability_table_markdown,
    default_registry,
)

__all__ = [
    "FormatAdapter",
    "FormatRegistry",
    "Loss",
    "LossReport",
    "ParseLimits",
    "RenderResult",
    "UnknownFormatError",
    "capability_table_markdown",
    "default_registry",
    "restrict",
]
