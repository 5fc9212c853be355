"""Avro bodies: canonical model <-> record dict <-> bytes, with fastavro, safe on untrusted input.

Writing: the model's `model_dump()` (done by pydantic-core in Rust) is already the record dict:
field names are the schema's, enums are str, decimals are held at the schema scale, sequences are
tuples. fastavro writes it with the schema's logical types (`write_body`, the reference path);
records of the latest schema are first offered to `compiled_writer`, a fast path that gives the
same bytes or leaves the record to this one.

Reading (`read_body`, the reference path): the body is first walked by `broker.codec.limits`
(sizes and counts only, bounded work), then fastavro reads with decimals and UUIDs as their base
types (see `schemas.py`), and the model validates the record like any other untrusted input,
taking each decimal's unscaled bytes under the `DecimalInput.UNSCALED_BYTES` context
(length-checked before any arithmetic). Every fastavro failure becomes a `CodecError` with the
reason. Bodies of the latest schema are first offered to `compiled_reader`, a fast path that
gives the same record or leaves the body to this one.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import fastavro
from fastavro.read import SchemaResolutionError

from broker.codec.limits import DEFAULT_LIMITS, LimitChecker, Limits
from broker.codec.schemas import CompiledSchema
from broker.errors import CodecError

# What fastavro raises on malformed bodies: short reads (EOFError), bad varints and enum or union
# indexes (IndexError), invalid UTF-8 (UnicodeDecodeError, a ValueError), dates out of range
# (OverflowError, ValueError), a reader schema that cannot read the writer's data.
_READ_FAILURES = (
    EOFError,
    IndexError,
    ValueError,
    OverflowError,
    TypeError,
    KeyError,
    SchemaResolutionError,
)
_WRITE_FAILURES = (ValueError, TypeError, KeyError, OverflowError, AttributeError)

Record = dict[str, Any]


def write_body(schema: CompiledSchema, record: Mapping[str, Any]) -> bytes:
    """The Avro binary encoding of `record` (no framing)."""
    out = io.BytesIO()
    try:
        # Tuple notation would read a 2-tuple in a union as (type name, value): ours are arrays.
        fastavro.schemaless_writer(out, schema.parsed, record, disable_tuple_notation=True)
    except _WRITE_FAILURES as exc:
        raise CodecError(f"cannot write {schema.full_name} as Avro: {exc}") from exc
    return out.getvalue()


# By fingerprint: the same Parsing Canonical Form means the same encoding.
_CHECKERS: dict[tuple[bytes, Limits], LimitChecker] = {}


def check_limits(body: bytes, writer: CompiledSchema, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse `body` before decoding when it holds more than `limits` allow."""
    key = (writer.fingerprint, limits)
    checker = _CHECKERS.get(key)
    if checker is None:
        checker = _CHECKERS[key] = LimitChecker(writer.parsed_for_reading, limits)
    checker.check(body)


def read_body(body: bytes, writer: CompiledSchema, reader: CompiledSchema) -> Record:
    """The record in `body`, written with `writer`, resolved into `reader` (decimals as bytes).

    Every byte must be used: trailing bytes mean the writer schema is not the one named.
    """
    check_limits(body, writer)
    stream = io.BytesIO(body)
    try:
        record = fastavro.schemaless_reader(
            stream,
            writer.parsed_for_reading,
            None if reader is writer else reader.parsed_for_reading,
        )
    except _READ_FAILURES as exc:
        reason = str(exc) or type(exc).__name__
        raise CodecError(f"invalid {writer.full_name} Avro body: {reason}") from exc
    if stream.tell() != len(body):
        raise CodecError(
            f"invalid {writer.full_name} Avro body: {len(body) - stream.tell()} bytes left over"
        )
    if not isinstance(record, dict):
        raise CodecError(f"invalid {writer.full_name} Avro body: not a record")
    return record
