"""A fast path for reading Avro bodies: one generated function per writer schema, limits inline.

Reading a body the reference way costs two passes: `limits` walks it (sizes and counts only) and
then fastavro decodes it, about 0.6 µs for every optional field. `CompiledReader` turns a parsed
schema into the Python source of one straight-line function that decodes the body and checks
every cap of `Limits` on the way (per-value bytes, items per collection, items in the body), so a
hostile count or length stops it before anything is built.

It is only a fast path, never a judge: it returns `None` whenever it is not certain ("unsure":
any cap reached, a truncated or malformed body, a union or enum index out of range, bad UTF-8,
an `int` beyond 32 bits, a boolean byte other than 0 or 1, bytes left over, any error). The
caller then runs the reference path, which decides and says why. What it does return is what the
reference path returns for the same body: the same dict, fastavro's own logical-type readers
(tests/unit/codec/test_compiled_reader.py checks this with hypothesis on valid, mutated and
random bodies).

The generated source holds no text from the schema except as `repr()` literals (field names) and
constants bound by name (enum symbols, logical readers), so a schema cannot inject code.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any, Final

from fastavro.read import LOGICAL_READERS

from broker.codec.avro import Record
from broker.codec.codegen import SourceBuilder
from broker.codec.limits import DEFAULT_LIMITS, Limits, read_long
from broker.errors import CodecError

_INT_MIN: Final = -(2**31)
_INT_MAX: Final = 2**31 - 1


class _Unsure(Exception):
    """The fast path does not decide this body: the reference path will."""


# What a generated reader may raise on a body it cannot read (short body: IndexError or
# struct.error; bad UTF-8: UnicodeDecodeError, a ValueError; a logical reader's own failures).
_UNSURE: Final = (
    _Unsure,
    CodecError,  # from `read_long`: a varint longer than 10 bytes
    IndexError,
    ValueError,
    OverflowError,
    TypeError,
    KeyError,
    struct.error,
)


def _long(body: bytes, pos: int) -> tuple[int, int]:
    """A varint of more than one byte (see `limits.read_long`) that fits 64 bits."""
    value, pos = read_long(body, pos)
    if not -(2**63) <= value < 2**63:  # fastavro's C reader would wrap it: not ours to guess
        raise _Unsure
    return value, pos


class CompiledReader:
    """`read(body)` for one parsed (fastavro) writer schema read as itself, built once."""

    def __init__(self, schema: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> None:
        source, constants = _Generator(limits).function(schema)
        self.source = source  # kept for reading and for tests
        namespace: dict[str, Any] = {"_long": _long, "_Unsure": _Unsure, **constants}
        # The source is generated from the schema's structure only (see the module doc).
        exec(compile(source, "<compiled avro reader>", "exec"), namespace)  # noqa: S102
        self._read: Callable[[bytes], Record] = namespace["read"]

    def read(self, body: bytes) -> Record | None:
        """The record in `body`, or None when the reference path must decide."""
        if type(body) is not bytes:  # slices of a bytearray or memoryview are not bytes values
            return None
        try:
            return self._read(body)
        except _UNSURE:
            return None


def compile_reader(
    schema: dict[str, Any], limits: Limits = DEFAULT_LIMITS
) -> CompiledReader | None:
    """A `CompiledReader`, or None for a schema it does not handle: a recursive type, or one
    nested deeper than Python's compiler takes (about 10 arrays or maps within each other)."""
    try:
        return CompiledReader(schema, limits)
    except (_Recursive, SyntaxError, RecursionError):
        return None


class _Recursive(Exception):
    """A named type contains itself: straight-line code cannot inline it."""


class _Generator(SourceBuilder):
    """Emits the statements reading one value into a local variable, depth first."""

    def __init__(self, limits: Limits) -> None:
        super().__init__()
        self.limits = limits

    def function(self, schema: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        self.lines = [
            "def read(b):",
            "    L = len(b)",
            "    p = 0",
            f"    budget = {int(self.limits.total_items)}",
        ]
        top = self.value(schema, 1)
        self.lines += [
            "    if p != L:",
            "        raise _Unsure",
            f"    return {top}",
        ]
        return self.source(), self.constants

    def value(self, schema: Any, depth: int) -> str:
        """Emit code reading one `schema` value at `p`; return the variable holding it."""
        target = self.fresh("v")
        self.into(schema, target, depth)
        return target

    def into(self, schema: Any, target: str, depth: int) -> None:
        if isinstance(schema, str):
            self.primitive_or_named(schema, target, depth)
        elif isinstance(schema, list):
            self.union(schema, target, depth)
        else:
            self.complex(schema, target, depth)

    def primitive_or_named(self, name: str, target: str, depth: int) -> None:
        if name == "null":
            self.emit(depth, f"{target} = None")
        elif name == "boolean":
            flag = self.fresh("c")
            self.emit(
                depth,
                f"{flag} = b[p]",
                f"if {flag} > 1:",
                "    raise _Unsure",
                f"{target} = {flag} == 1",
                "p += 1",
            )
        elif name in ("int", "long"):
            self.varint(target, depth)
            if name == "int":
                self.emit(
                    depth,
                    f"if not {_INT_MIN} <= {target} <= {_INT_MAX}:",
                    "    raise _Unsure",
                )
        elif name in ("float", "double"):
            fmt = self.constant("fmt", struct.Struct("<f" if name == "float" else "<d"))
            self.emit(depth, f"({target},) = {fmt}.unpack_from(b, p)", f"p += {fmt}.size")
        elif name in ("string", "bytes"):
            self.sized(target, depth, text=name == "string")
        else:
            if name in self.inside:
                raise _Recursive(name)
            self.complex(self.named[name], target, depth)

    def varint(self, target: str, depth: int) -> None:
        byte = self.fresh("c")
        self.emit(
            depth,
            f"{byte} = b[p]",
            f"if {byte} < 0x80:",  # hot path: one byte
            f"    {target} = ({byte} >> 1) ^ -({byte} & 1)",
            "    p += 1",
            "else:",
            f"    {target}, p = _long(b, p)",
        )

    def sized(self, target: str, depth: int, *, text: bool) -> None:
        """A string or bytes value: a length within the per-value cap, then that many bytes."""
        cap = int(self.limits.bytes_per_value)
        one_byte = 2 * min(cap, 63)  # the largest one-byte zig-zag length within the cap
        byte, end, size = self.fresh("c"), self.fresh("e"), self.fresh("n")
        self.emit(
            depth,
            f"{byte} = b[p]",
            f"if {byte} <= {one_byte} and not {byte} & 1:",
            f"    {end} = p + 1 + ({byte} >> 1)",
            "    p += 1",
            "else:",
            f"    {size}, p = _long(b, p)",
            f"    if not 0 <= {size} <= {cap}:",
            "        raise _Unsure",
            f"    {end} = p + {size}",
            f"if {end} > L:",
            "    raise _Unsure",
            f"{target} = b[p:{end}]" + (".decode()" if text else ""),
            f"p = {end}",
        )

    def union(self, branches: list[Any], target: str, depth: int) -> None:
        if len(branches) == 2 and branches[0] == "null":  # an optional value: most unions
            byte = self.fresh("c")
            self.emit(
                depth,
                f"{byte} = b[p]",
                f"if {byte} == 0:",
                f"    {target} = None",
                "    p += 1",
                f"elif {byte} == 2:",
                "    p += 1",
            )
            self.into(branches[1], target, depth + 1)
            self.emit(depth, "else:", "    raise _Unsure")
            return
        index = self.fresh("i")
        self.varint(index, depth)
        for number, branch in enumerate(branches):
            self.emit(depth, f"{'if' if number == 0 else 'elif'} {index} == {number}:")
            self.into(branch, target, depth + 1)
        self.emit(depth, "else:", "    raise _Unsure")

    def complex(self, schema: dict[str, Any], target: str, depth: int) -> None:
        kind = schema["type"]
        if kind == "record":
            self.record(schema, target, depth)
        elif kind == "enum":
            self.named[schema["name"]] = schema
            symbols = self.constant("symbols", tuple(schema["symbols"]))
            index = self.fresh("i")
            self.varint(index, depth)
            self.emit(
                depth,
                f"if not 0 <= {index} < {len(schema['symbols'])}:",
                "    raise _Unsure",
                f"{target} = {symbols}[{index}]",
            )
        elif kind == "fixed":
            self.named[schema["name"]] = schema
            end = self.fresh("e")
            self.emit(
                depth,
                f"{end} = p + {int(schema['size'])}",
                f"if {end} > L:",
                "    raise _Unsure",
                f"{target} = b[p:{end}]",
                f"p = {end}",
            )
        elif kind in ("array", "map"):
            self.collection(schema, target, depth)
        else:  # a primitive with attributes, e.g. {"type": "long", "logicalType": ...}
            self.into(kind, target, depth)
        logical = schema.get("logicalType")
        reader = LOGICAL_READERS.get(f"{kind}-{logical}") if logical else None
        if reader is not None:  # what fastavro applies, with what it passes
            function = self.constant("logical", reader)
            node = self.constant("schema", schema)
            self.emit(depth, f"{target} = {function}({target}, {node}, None)")

    def record(self, schema: dict[str, Any], target: str, depth: int) -> None:
        name = schema["name"]
        self.named[name] = schema
        self.inside.append(name)
        fields = [(field["name"], self.value(field["type"], depth)) for field in schema["fields"]]
        self.inside.pop()
        items = ", ".join(f"{field!r}: {variable}" for field, variable in fields)
        self.emit(depth, f"{target} = {{{items}}}")

    def collection(self, schema: dict[str, Any], target: str, depth: int) -> None:
        """Blocks of items until a zero count; every count is charged before its items are read."""
        is_map = schema["type"] == "map"
        cap = int(self.limits.items_per_collection)
        count, seen, ignored = self.fresh("n"), self.fresh("seen"), self.fresh("skip")
        self.emit(
            depth,
            f"{target} = {{}}" if is_map else f"{target} = []",
            f"{seen} = 0",
            "while True:",
        )
        self.varint(count, depth + 1)
        self.emit(
            depth + 1,
            f"if {count} == 0:",
            "    break",
            f"if {count} < 0:",  # a block with its byte size: read, not trusted
            f"    {count} = -{count}",
            f"    {ignored}, p = _long(b, p)",
            f"{seen} += {count}",
            f"budget -= {count}",
            f"if {seen} > {cap} or budget < 0:",
            "    raise _Unsure",
            f"for _ in range({count}):",
        )
        if is_map:
            key = self.fresh("k")
            self.sized(key, depth + 2, text=True)
            item = self.value(schema["values"], depth + 2)
            self.emit(depth + 2, f"{target}[{key}] = {item}")
        else:
            item = self.value(schema["items"], depth + 2)
            self.emit(depth + 2, f"{target}.append({item})")
