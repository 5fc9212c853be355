"""The formats the broker speaks, registered explicitly when the program starts.

`default_registry()` builds a new `FormatRegistry` holding every adapter; nothing registers
itself on import and there is no module-level registry to reset, so tests and nodes can build
their own (for instance with tighter `ParseLimits`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from broker.errors import ConfigError
from broker.formats.acdd_xml import AcddXmlAdapter
from broker.formats.base import FormatAdapter, ParseLimits
from broker.formats.canonical_json import CanonicalJsonAdapter
from broker.formats.cn_swxml import CnSwxmlAdapter
from broker.formats.cusdec import CusdecAdapter
from broker.formats.paths import canonical_field_patterns


class UnknownFormatError(ConfigError):
    """A format id that no registered adapter has."""


class FormatRegistry:
    """Format adapters by id, in registration order."""

    def __init__(self, adapters: Iterable[FormatAdapter] = ()) -> None:
        self._adapters: dict[str, FormatAdapter] = {}
        for adapter in adapters:
            self.register(adapter)

    def register(self, adapter: FormatAdapter) -> None:
        if adapter.id in self._adapters:
            raise ConfigError(f"format {adapter.id!r} is registered twice")
        self._adapters[adapter.id] = adapter

    def get(self, format_id: str) -> FormatAdapter:
        try:
            return self._adapters[format_id]
        except KeyError:
            known = ", ".join(self._adapters)
            raise UnknownFormatError(f"unknown format {format_id!r} (known: {known})") from None

    def ids(self) -> tuple[str, ...]:
        return tuple(self._adapters)

    def __iter__(self) -> Iterator[FormatAdapter]:
        return iter(self._adapters.values())


def default_registry(limits: ParseLimits | None = None) -> FormatRegistry:
    """Every format the broker supports, each bounded by `limits` when parsing."""
    return FormatRegistry(
        [
            CnSwxmlAdapter(limits),
            AcddXmlAdapter(limits),
            CusdecAdapter(limits),
            CanonicalJsonAdapter(limits),
        ]
    )


def capability_table_markdown(registry: FormatRegistry | None = None) -> str:
    """Markdown table: one row per canonical field, one column per format, "yes" if carried."""
    adapters = list(registry or default_registry())
    lines = [
        "| canonical field | " + " | ".join(f"`{a.id}`" for a in adapters) + " |",
        "|---|" + "---|" * len(adapters),
    ]
    for pattern in canonical_field_patterns():
        cells = ["yes" if pattern in a.capabilities else "—" for a in adapters]
        lines.append(f"| `{pattern}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
