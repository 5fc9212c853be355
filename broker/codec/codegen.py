"""What the compiled reader and writer share: building the source of one generated function.

Names are fresh (`v1`, `e2` ...), values reach the code as constants bound by name, never as text
of the schema, and lines are indented by nesting depth.
"""

from __future__ import annotations

from typing import Any


class SourceBuilder:
    """Lines of Python source being generated, with the constants they refer to."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}
        self.named: dict[str, Any] = {}  # named Avro types met so far, by full name
        self.inside: list[str] = []  # named types being emitted, to detect recursion
        self.counter = 0

    def source(self) -> str:
        return "\n".join(self.lines) + "\n"

    def fresh(self, stem: str) -> str:
        self.counter += 1
        return f"{stem}{self.counter}"

    def constant(self, stem: str, value: Any) -> str:
        name = self.fresh(stem.upper())
        self.constants[name] = value
        return name

    def emit(self, depth: int, *lines: str) -> None:
        pad = "    " * depth
        self.lines.extend(pad + line for line in lines)
