"""A fast path for writing Avro bodies: one generated function per writer schema.

fastavro writes a union by first validating the value against its branches (an optional record is
checked field by field, then written), and looks each value's schema up as it goes: with logical
types, about 1 µs per optional field. `CompiledWriter` turns a parsed schema into the Python source
of one straight-line function that writes a record dict field by field, each optional value's
branch chosen by its type.

It is only a fast path, never a judge: what it returns is the bytes fastavro writes for the same
record (tests/unit/codec/test_compiled_writer.py checks this with hypothesis), and it returns
`None` whenever it is not certain ("unsure"): a value whose type is not exactly the one expected
(a `str` subclass where a string goes, a `bytearray`, a `list` where a record goes), an int out of
its type's range, a decimal not held at exactly its schema's scale or with more digits than its
precision, a missing field, a string that cannot be UTF-8, any error. The caller then writes with
fastavro, which decides and raises what it raises.

Logical types are applied with fastavro's own `prepare` functions, except `decimal` on `bytes`
(every amount of every declaration): written here as fastavro writes it, from `str()`, which for a
finite `Decimal` with exponent `-scale` is plain notation with exactly `scale` digits after the
point (General Decimal Arithmetic, to-scientific-string); anything else makes `int()` fail.

Handled: null, boolean, int, long, string, bytes, fixed, enum, array, map, record, named
references, unions of null and one other type. Anything else (float, double, other unions,
recursive types) makes `compile_writer` return None: those schemas are written by fastavro alone.
The generated source holds no text from the schema except as `repr()` literals (field names) and
constants bound by name (symbol tables, fastavro's functions), so a schema cannot inject code.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from fastavro._logical_writers import LOGICAL_WRITERS

from broker.codec.codegen import SourceBuilder

_INT_MIN: Final = -(2**31)
_INT_MAX: Final = 2**31 - 1
_LONG_MIN: Final = -(2**63)
_LONG_MAX: Final = 2**63 - 1
_SMALL: Final = 64  # lengths and counts below this are one varint byte


class _Unsure(Exception):
    """The fast path does not write this record: fastavro will."""


class _Unsupported(Exception):
    """A schema feature this generator does not write (fastavro writes the whole schema)."""


# What a generated writer (or a fastavro `prepare` it calls) may raise on a record it cannot write.
_UNSURE: Final = (
    _Unsure,
    LookupError,  # a missing field, an unknown enum symbol
    TypeError,  # an unhashable enum value, a datetime that cannot be subtracted, ...
    ValueError,  # a decimal that is not plain at its scale; UnicodeEncodeError (lone surrogates)
    ArithmeticError,
    AttributeError,
)


def _long(value: int) -> bytes:
    """The zig-zag varint of an int already known to fit 64 bits."""
    n = (value << 1) ^ (value >> 63)
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


# Zig-zag varints of -64..63, indexed by the value itself: a negative index counts from the end,
# so _ONE_BYTE[-1] is the encoding of -1 (0x01).
_ONE_BYTE: Final = tuple(_long(v) for v in range(_SMALL)) + tuple(
    _long(v) for v in range(-_SMALL, 0)
)
# Varints of the lengths 0..63 (always non-negative).
_SIZE: Final = tuple(_long(n) for n in range(_SMALL))


class CompiledWriter:
    """`write(record)` for one parsed (fastavro) schema, built once."""

    def __init__(self, schema: dict[str, Any]) -> None:
        source, constants = _Generator(schema).function()
        self.source = source  # kept for reading and for tests
        namespace: dict[str, Any] = {
            "_long": _long,
            "_Unsure": _Unsure,
            "_ONE_BYTE": _ONE_BYTE,
            "_SIZE": _SIZE,
            "_Decimal": Decimal,
            **constants,
        }
        # The source is generated from the schema's structure only (see the module doc).
        exec(compile(source, "<compiled avro writer>", "exec"), namespace)  # noqa: S102
        self._write: Callable[[object], bytes] = namespace["write"]

    def write(self, record: object) -> bytes | None:
        """The Avro body of `record`, or None when fastavro must write it."""
        try:
            return self._write(record)
        except _UNSURE:
            return None


def compile_writer(schema: dict[str, Any]) -> CompiledWriter | None:
    """A `CompiledWriter`, or None for a schema it does not handle (see the module doc), or one
    nested deeper than Python's compiler takes."""
    try:
        return CompiledWriter(schema)
    except (_Unsupported, SyntaxError, RecursionError):
        return None


class _Generator(SourceBuilder):
    """Emits the statements writing one value held in a local variable to `o`, depth first."""

    def __init__(self, schema: dict[str, Any]) -> None:
        super().__init__()
        self.schema = schema
        self.named.update(schema.get("__named_schemas", {}))

    def function(self) -> tuple[str, dict[str, Any]]:
        self.lines = ["def write(r):", "    o = bytearray()"]
        self.put(self.schema, "r", 1)
        self.lines.append("    return bytes(o)")
        return self.source(), self.constants

    def put(self, schema: Any, value: str, depth: int) -> None:
        """Emit code writing the value in variable `value` as `schema`."""
        if isinstance(schema, str):
            self.primitive_or_named(schema, value, depth)
        elif isinstance(schema, list):
            self.union(schema, value, depth)
        elif isinstance(schema, dict):
            self.complex(schema, value, depth)
        else:
            raise _Unsupported(type(schema).__name__)

    def primitive_or_named(self, name: str, value: str, depth: int) -> None:
        if name == "null":
            self.emit(depth, f"if {value} is not None:", "    raise _Unsure")
        elif name == "boolean":
            self.emit(
                depth,
                f"if {value} is True:",
                "    o += b'\\x01'",
                f"elif {value} is False:",
                "    o += b'\\x00'",
                "else:",
                "    raise _Unsure",
            )
        elif name in ("int", "long"):
            low, high = (_INT_MIN, _INT_MAX) if name == "int" else (_LONG_MIN, _LONG_MAX)
            self.emit(
                depth,
                f"if type({value}) is not int or not {low} <= {value} <= {high}:",
                "    raise _Unsure",
                f"o += _ONE_BYTE[{value}] if -{_SMALL} <= {value} < {_SMALL} else _long({value})",
            )
        elif name == "string":
            encoded = self.fresh("e")
            self.emit(
                depth,
                f"if type({value}) is not str:",
                "    raise _Unsure",
                f"{encoded} = {value}.encode()",
            )
            self.sized(encoded, depth)
        elif name == "bytes":
            self.emit(depth, f"if type({value}) is not bytes:", "    raise _Unsure")
            self.sized(value, depth)
        elif name in self.named:
            if name in self.inside:
                raise _Unsupported(f"recursive type {name}")
            self.complex(self.named[name], value, depth)
        else:  # float, double, or a name fastavro would resolve some other way
            raise _Unsupported(name)

    def sized(self, data: str, depth: int) -> None:
        """Length then bytes of a `bytes` value."""
        size = self.fresh("n")
        self.emit(
            depth,
            f"{size} = len({data})",
            f"o += _SIZE[{size}] if {size} < {_SMALL} else _long({size})",
            f"o += {data}",
        )

    def union(self, branches: list[Any], value: str, depth: int) -> None:
        """A value or null: fastavro picks the first branch the value validates as, and null
        validates only None, which no other branch takes."""
        if len(branches) != 2 or branches.count("null") != 1:
            raise _Unsupported("a union other than null and one type")
        null_index = branches.index("null")
        other = branches[1 - null_index]
        self.emit(
            depth,
            f"if {value} is None:",
            f"    o += {_long(null_index)!r}",
            "else:",
            f"    o += {_long(1 - null_index)!r}",
        )
        self.put(other, value, depth + 1)

    def complex(self, schema: dict[str, Any], value: str, depth: int) -> None:
        kind = schema["type"]
        logical = schema.get("logicalType")
        if logical and f"{kind}-{logical}" in LOGICAL_WRITERS:  # what fastavro converts
            self.logical(f"{kind}-{logical}", schema, value, depth)
            return
        if kind == "record":
            self.record(schema, value, depth)
        elif kind == "enum":
            self.named[schema["name"]] = schema
            symbols = self.constant(
                "symbols", {symbol: _long(i) for i, symbol in enumerate(schema["symbols"])}
            )
            self.emit(
                depth,
                f"if not isinstance({value}, str):",
                "    raise _Unsure",
                f"o += {symbols}[{value}]",  # a str-valued enum member hashes as its value
            )
        elif kind == "fixed":
            self.named[schema["name"]] = schema
            size = int(schema["size"])
            self.emit(
                depth,
                f"if type({value}) is not bytes or len({value}) != {size}:",
                "    raise _Unsure",
                f"o += {value}",
            )
        elif kind in ("array", "map"):
            self.collection(schema, value, depth)
        else:  # a primitive with attributes, e.g. {"type": "string", "doc": ...}
            self.put(kind, value, depth)

    def logical(self, key: str, schema: dict[str, Any], value: str, depth: int) -> None:
        if key == "bytes-decimal":
            self.decimal(schema, value, depth)
            return
        prepare = self.constant("prepare", LOGICAL_WRITERS[key])
        node = self.constant("schema", schema)
        prepared = self.fresh("w")
        self.emit(depth, f"{prepared} = {prepare}({value}, {node})")
        self.put(schema["type"], prepared, depth)

    def decimal(self, schema: dict[str, Any], value: str, depth: int) -> None:
        """The unscaled integer as big-endian two's complement in as many bytes as fastavro
        takes: (magnitude bits + 8) // 8, so 128 is `00 80` and -128 is `ff 80`."""
        precision, scale = schema.get("precision"), schema.get("scale", 0)
        if not (type(precision) is int and type(scale) is int and 0 <= scale <= precision):
            raise _Unsupported("decimal precision and scale")
        text, unscaled = self.fresh("s"), self.fresh("u")
        self.emit(
            depth,
            f"if type({value}) is not _Decimal:",
            "    raise _Unsure",
            f"{text} = str({value})",
        )
        if scale:
            self.emit(
                depth,
                f"if {text}[-{scale + 1}:-{scale}] != '.':",
                "    raise _Unsure",
                f"{unscaled} = int({text}[:-{scale + 1}] + {text}[-{scale}:])",
            )
        else:
            self.emit(depth, f"{unscaled} = int({text})")
        limit = 10**precision
        self.emit(
            depth,
            f"if not -{limit} < {unscaled} < {limit}:",  # more digits than the precision
            "    raise _Unsure",
            f"{text} = {unscaled}.to_bytes((({unscaled} if {unscaled} >= 0 else -{unscaled})"
            ".bit_length() + 8) // 8, 'big', signed=True)",
        )
        self.sized(text, depth)

    def record(self, schema: dict[str, Any], value: str, depth: int) -> None:
        name = schema["name"]
        self.named[name] = schema
        self.inside.append(name)
        # fastavro's union check refuses a record dict naming another type in "-type".
        self.emit(
            depth, f"if type({value}) is not dict or '-type' in {value}:", "    raise _Unsure"
        )
        for field in schema["fields"]:
            item = self.fresh("v")
            self.emit(depth, f"{item} = {value}[{field['name']!r}]")
            self.put(field["type"], item, depth)
        self.inside.pop()

    def collection(self, schema: dict[str, Any], value: str, depth: int) -> None:
        """One block of every item, then the zero count, as fastavro writes (empty: zero only)."""
        is_map = schema["type"] == "map"
        size = self.fresh("n")
        self.emit(
            depth,
            f"if type({value}) is not {'dict' if is_map else 'list'}"
            + ("" if is_map else f" and type({value}) is not tuple")
            + ":",
            "    raise _Unsure",
            f"{size} = len({value})",
            f"if {size}:",
            f"    o += _SIZE[{size}] if {size} < {_SMALL} else _long({size})",
        )
        if is_map:
            key, item = self.fresh("k"), self.fresh("v")
            self.emit(depth + 1, f"for {key}, {item} in {value}.items():")
            self.put("string", key, depth + 2)
            self.put(schema["values"], item, depth + 2)
        else:
            item = self.fresh("v")
            self.emit(depth + 1, f"for {item} in {value}:")
            self.put(schema["items"], item, depth + 2)
        self.emit(depth, "o += b'\\x00'")
