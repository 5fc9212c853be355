"""Avro schema compatibility, by the specification's schema resolution rules.

`reader_problems(reader, writer)` says why data written with `writer` cannot be read with
`reader` (empty: it can). `full_transitive_problems(schemas)` checks every ordered pair of the
versions kept, which is Confluent's FULL_TRANSITIVE: any version reads any other's data. The
project's evolution policy (docs/schemas.md) is that `schemas/` always passes it.

Works on fastavro-parsed schemas: names are full names, a named type is defined where first used
and referred to by name afterwards. Logical types do not change resolution (the specification
resolves base types), except that a decimal's precision and scale must agree: the bytes would read
but mean another number.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

_PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
# Writer type -> reader types it may be read as (specification, "Schema Resolution").
_PROMOTIONS: Mapping[str, frozenset[str]] = {
    "int": frozenset({"long", "float", "double"}),
    "long": frozenset({"float", "double"}),
    "float": frozenset({"double"}),
    "string": frozenset({"bytes"}),
    "bytes": frozenset({"string"}),
}

Schema = Any  # a fastavro-parsed schema node: str, list (union) or dict


def reader_problems(reader: Schema, writer: Schema) -> list[str]:
    """Why `reader` cannot read data written with `writer`; empty when it can."""
    return _Resolution(reader, writer).problems(reader, writer, _name_of(reader))


def full_transitive_problems(schemas: Sequence[tuple[str, Schema]]) -> list[str]:
    """Problems of every ordered pair of `(label, schema)`: each must read every other's data."""
    found: list[str] = []
    for reader_label, reader in schemas:
        for writer_label, writer in schemas:
            if reader_label != writer_label:
                found.extend(
                    f"{reader_label} reading {writer_label}: {problem}"
                    for problem in reader_problems(reader, writer)
                )
    return found


class _Resolution:
    def __init__(self, reader_root: Schema, writer_root: Schema) -> None:
        self._reader_types = dict(_named_types(reader_root))
        self._writer_types = dict(_named_types(writer_root))
        # Record pairs being compared, assumed compatible meanwhile: ends recursive types.
        self._assumed: set[tuple[str, str]] = set()

    def problems(self, reader: Schema, writer: Schema, path: str) -> list[str]:
        reader = self._resolve(reader, self._reader_types)
        writer = self._resolve(writer, self._writer_types)
        if isinstance(writer, list):  # every branch the writer may have used must be readable
            return [p for branch in writer for p in self.problems(reader, branch, path)]
        if isinstance(reader, list):
            tried = [(branch, self.problems(branch, writer, path)) for branch in reader]
            if any(not problems for _, problems in tried):
                return []
            # A branch of the writer's own type explains best why it does not fit.
            for branch, problems in tried:
                if _type_of(self._resolve(branch, self._reader_types)) == _type_of(writer):
                    return problems
            return [f"{path}: no branch of the reader union reads writer {_type_of(writer)}"]
        reader_type, writer_type = _type_of(reader), _type_of(writer)
        if reader_type != writer_type:
            if reader_type in _PROMOTIONS.get(writer_type, ()):
                return []
            return [f"{path}: writer {writer_type} cannot be read as {reader_type}"]
        if reader_type in _PRIMITIVES:
            return _decimal_problems(reader, writer, path)
        if reader_type == "array":
            return self.problems(reader["items"], writer["items"], path + "[]")
        if reader_type == "map":
            return self.problems(reader["values"], writer["values"], path + "{}")
        if _short_name(reader["name"]) != _short_name(writer["name"]):  # record, enum, fixed
            return [f"{path}: writer {writer['name']} cannot be read as {reader['name']}"]
        if reader_type == "record":
            return self._record_problems(reader, writer, path)
        if reader_type == "enum":
            return _enum_problems(reader, writer, path)
        if reader["size"] != writer["size"]:  # fixed
            return [f"{path}: fixed size {writer['size']} cannot be read as {reader['size']}"]
        return []

    def _record_problems(self, reader: Schema, writer: Schema, path: str) -> list[str]:
        pair = (reader["name"], writer["name"])
        if pair in self._assumed:
            return []
        self._assumed.add(pair)
        written = {field["name"]: field for field in writer["fields"]}
        found: list[str] = []
        for field in reader["fields"]:
            names = [field["name"], *field.get("aliases", ())]
            source = next((written[name] for name in names if name in written), None)
            field_path = f"{path}.{field['name']}"
            if source is not None:
                found.extend(self.problems(field["type"], source["type"], field_path))
            elif "default" not in field:
                found.append(f"{field_path}: missing in the writer and has no default")
        return found

    @staticmethod
    def _resolve(node: Schema, named: Mapping[str, Schema]) -> Schema:
        if isinstance(node, str) and node not in _PRIMITIVES:
            return named[node]
        return node


def _enum_problems(reader: Schema, writer: Schema, path: str) -> list[str]:
    unknown = [symbol for symbol in writer["symbols"] if symbol not in reader["symbols"]]
    if unknown and "default" not in reader:
        return [f"{path}: symbols {unknown} unknown to the reader, which has no default"]
    return []


def _decimal_problems(reader: Schema, writer: Schema, path: str) -> list[str]:
    if not (isinstance(reader, dict) and isinstance(writer, dict)):
        return []
    if reader.get("logicalType") == writer.get("logicalType") == "decimal":
        shapes = [(s.get("precision"), s.get("scale", 0)) for s in (writer, reader)]
        if shapes[0] != shapes[1]:
            return [f"{path}: decimal{shapes[0]} cannot be read as decimal{shapes[1]}"]
    return []


def _type_of(node: Schema) -> str:
    if isinstance(node, str):
        return node
    kind = node["type"]
    return kind if isinstance(kind, str) else _type_of(kind)


def _name_of(node: Schema) -> str:
    return _short_name(node["name"]) if isinstance(node, dict) and "name" in node else "<root>"


def _short_name(full_name: str) -> str:
    return full_name.rsplit(".", 1)[-1]


def _named_types(node: Schema) -> Iterator[tuple[str, Schema]]:
    """Every named type defined in `node`, by full name."""
    if isinstance(node, list):
        for branch in node:
            yield from _named_types(branch)
    elif isinstance(node, dict):
        kind = node.get("type")
        if kind in ("record", "enum", "fixed"):
            yield node["name"], node
        if kind == "record":
            for field in node["fields"]:
                yield from _named_types(field["type"])
        elif kind == "array":
            yield from _named_types(node["items"])
        elif kind == "map":
            yield from _named_types(node["values"])
        elif isinstance(kind, dict | list):
            yield from _named_types(kind)
