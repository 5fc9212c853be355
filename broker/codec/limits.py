"""Bounded work before decoding: one pass over Avro bytes that counts, allocates nothing.

fastavro builds every item it reads, so a 1 MB body holding a million empty strings becomes a
million Python objects (and pydantic then reports a million problems). `check_limits` walks the
body with the writer schema first, reading only lengths and counts, and refuses it as soon as a
string or bytes value, one array or map, or the whole body holds more than `Limits` allow. The
walk's cost is bounded by the limits, not by the body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

from broker.errors import CodecError, Problem

TOO_LARGE = "value_too_large"
TOO_MANY = "too_many_items"


class Limits(NamedTuple):
    """Defaults: twice what a real declaration needs (999 goods items is the WCO maximum), low
    enough that the largest record they let through costs a node well under a second to decode,
    validate and render (tests/unit/node/test_bounded_cost.py prints it)."""

    bytes_per_value: int = 16 * 1024  # a model string is at most 4 096 characters
    items_per_collection: int = 2_000
    total_items: int = 50_000


DEFAULT_LIMITS: Final = Limits()

# A skipper reads one value at `pos` and returns the position after it.
_Skip = Callable[[bytes, int], int]


class _Refused(Exception):
    """Raised deep in the walk; each record on the way out adds its field name to `path`."""

    def __init__(self, reason: str, code: str) -> None:
        self.reason = reason
        self.code = code
        self.path: list[str] = []


class _Walk:
    """Compiles a parsed (fastavro) schema into skippers sharing one item budget."""

    def __init__(self, schema: dict[str, Any], limits: Limits) -> None:
        self.limits = limits
        self.budget = 0
        self.named: dict[str, _Skip] = {}
        self.root = self.compile(schema)

    def run(self, body: bytes) -> int:
        self.budget = self.limits.total_items
        try:
            return self.root(body, 0)
        except IndexError:
            raise CodecError("invalid Avro body: truncated") from None
        except _Refused as exc:
            where = ".".join(reversed(exc.path))
            raise CodecError(
                f"invalid Avro body: {where}: {exc.reason}",
                [Problem(exc.reason, field=where, code=exc.code)],
            ) from None

    def compile(self, schema: Any) -> _Skip:
        if isinstance(schema, str):
            primitive = _PRIMITIVES.get(schema)
            if primitive is not None:
                return primitive(self)
            named = self.named

            def by_name(body: bytes, pos: int) -> int:
                return named[schema](body, pos)

            return by_name
        if isinstance(schema, list):
            branches = [self.compile(branch) for branch in schema]

            def union(body: bytes, pos: int) -> int:
                byte = body[pos]  # hot path: an index below 64 is one byte
                if byte < 0x80:
                    index, pos = (byte >> 1) ^ -(byte & 1), pos + 1
                else:
                    index, pos = read_long(body, pos)
                if not 0 <= index < len(branches):
                    raise CodecError(f"invalid Avro body: union index {index}")
                return branches[index](body, pos)

            if len(schema) == 2 and schema[0] == "null":  # an optional field: most unions
                present = branches[1]

                def optional(body: bytes, pos: int) -> int:
                    byte = body[pos]
                    if byte == 0:  # index 0: null
                        return pos + 1
                    if byte == 2:  # index 1: the value
                        return present(body, pos + 1)
                    return union(body, pos)  # anything else: the general path says why

                return optional
            return union
        kind = schema["type"]
        if kind == "record":
            fields: list[tuple[str, _Skip]] = []
            skip_record = _record(fields)
            self.named[schema["name"]] = skip_record
            fields.extend((f["name"], self.compile(f["type"])) for f in schema["fields"])
            return skip_record
        if kind == "enum":
            self.named[schema["name"]] = _varint
            return _varint
        if kind == "fixed":
            size = int(schema["size"])
            self.named[schema["name"]] = lambda body, pos: _ahead(body, pos + size)
            return self.named[schema["name"]]
        if kind == "array":
            return self._collection(self.compile(schema["items"]), None)
        if kind == "map":
            return self._collection(self.compile(schema["values"]), self._string())
        return self.compile(kind)  # {"type": "string", "logicalType": ...}

    def _string(self) -> _Skip:
        cap = self.limits.bytes_per_value
        one_byte = 2 * min(cap, 63)  # the largest one-byte zig-zag length within the cap

        def string(body: bytes, pos: int) -> int:
            byte = body[pos]  # hot path: a short length is one byte, even (not negative)
            if byte <= one_byte and not byte & 1:
                end = pos + 1 + (byte >> 1)
            else:
                size, pos = read_long(body, pos)
                if size < 0:
                    raise CodecError(f"invalid Avro body: a negative length ({size})")
                if size > cap:
                    raise _Refused(f"a {size}-byte value, at most {cap} allowed", TOO_LARGE)
                end = pos + size
            if end > len(body):
                raise CodecError("invalid Avro body: truncated")
            return end

        return string

    def _collection(self, item: _Skip, key: _Skip | None) -> _Skip:
        cap = self.limits.items_per_collection

        def collection(body: bytes, pos: int) -> int:
            seen = 0
            while True:
                count, pos = read_long(body, pos)
                if count == 0:
                    return pos
                if count < 0:  # a block with its byte size: the size is read and not trusted
                    count = -count
                    _, pos = read_long(body, pos)
                seen += count
                self.budget -= count
                if seen > cap:
                    raise _Refused(f"{seen}+ items, at most {cap} allowed", TOO_MANY)
                if self.budget < 0:
                    raise _Refused(
                        f"more than {self.limits.total_items} items in the whole body", TOO_MANY
                    )
                for index in range(count):
                    try:
                        if key is not None:
                            pos = key(body, pos)
                        pos = item(body, pos)
                    except _Refused as exc:
                        exc.path.append(str(seen - count + index))
                        raise

        return collection


def _record(fields: list[tuple[str, _Skip]]) -> _Skip:
    def record(body: bytes, pos: int) -> int:
        for name, skip in fields:
            try:
                pos = skip(body, pos)
            except _Refused as exc:
                exc.path.append(name)
                raise
        return pos

    return record


def _ahead(body: bytes, pos: int) -> int:
    if pos > len(body):
        raise CodecError("invalid Avro body: truncated")
    return pos


def read_long(body: bytes, pos: int) -> tuple[int, int]:
    """A zig-zag varint (at most 10 bytes) and the position after it."""
    result = shift = 0
    for _ in range(10):
        byte = body[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return (result >> 1) ^ -(result & 1), pos
        shift += 7
    raise CodecError("invalid Avro body: a varint longer than 10 bytes")


def _varint(body: bytes, pos: int) -> int:
    if body[pos] < 0x80:  # hot path: one byte
        return pos + 1
    return read_long(body, pos)[1]


_PRIMITIVES: Final[dict[str, Callable[[_Walk], _Skip]]] = {
    "null": lambda walk: lambda body, pos: pos,
    "boolean": lambda walk: lambda body, pos: _ahead(body, pos + 1),
    "int": lambda walk: _varint,
    "long": lambda walk: _varint,
    "float": lambda walk: lambda body, pos: _ahead(body, pos + 4),
    "double": lambda walk: lambda body, pos: _ahead(body, pos + 8),
    "string": lambda walk: walk._string(),
    "bytes": lambda walk: walk._string(),
}


class LimitChecker:
    """`check(body)` for one writer schema, compiled once."""

    def __init__(self, schema: dict[str, Any], limits: Limits = DEFAULT_LIMITS) -> None:
        self._walk = _Walk(schema, limits)

    def check(self, body: bytes) -> None:
        self._walk.run(body)
