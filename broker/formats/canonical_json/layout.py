"""`canonical-json` layout: the canonical model's own field names, every field carried."""

from __future__ import annotations

import re
from typing import Final

from broker.formats.paths import canonical_field_patterns

FORMAT_ID: Final = "canonical-json"
CAPABILITIES: Final = frozenset(canonical_field_patterns())

# UTF-8 has no encoding for a lone surrogate; everything else JSON escapes as needed.
SURROGATE: Final = re.compile("[\ud800-\udfff]")
