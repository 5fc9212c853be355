"""The compiled fast reader returns exactly what the reference path (limits walk, then fastavro,
then nothing left over) returns, or None; it never accepts a body the reference path refuses."""

from __future__ import annotations

import io
import struct
from datetime import UTC, datetime
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from broker.codec import Codec, CompiledSchema, InMemorySchemaRegistry, SchemaKind
from broker.codec import codec as codec_module
from broker.codec.avro import Record, read_body, write_body
from broker.codec.compiled_reader import CompiledReader, compile_reader
from broker.codec.framing import frame_single_object, parse_single_object
from broker.codec.limits import Limits
from broker.errors import CodecError
from broker.model import Declaration
from broker.model.samples import sample_declaration, sample_receipt
from tests.strategies import declarations, receipts
from tests.unit.codec.test_bad_input import splice, varint

CODEC = Codec()
SCHEMAS = {kind: CODEC.schemas.latest(kind).schema for kind in SchemaKind}
READERS = {kind: CompiledReader(schema.parsed_for_reading) for kind, schema in SCHEMAS.items()}
BODY = parse_single_object(CODEC.encode_declaration(sample_declaration(lines=3)))[1]

# Every Avro type the generator handles, named references and a logical type among them.
EVERY_TYPE = CompiledSchema.from_definition({
    "type": "record", "name": "Every", "namespace": "test", "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "single", "type": "float"},
        {"name": "double", "type": "double"},
        {"name": "raw", "type": "bytes"},
        {"name": "four", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "BLUE"]}},
        {"name": "counts", "type": {"type": "map", "values": "long"}},
        {"name": "choice", "type": ["null", "string", "long", "Colour"]},
        {"name": "when", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "inner", "type": {"type": "record", "name": "Inner", "fields": [
            {"name": "name", "type": "string"},
            {"name": "again", "type": ["null", "Four"]},
        ]}},
        {"name": "inners", "type": {"type": "array", "items": "Inner"}},
        {"name": "nothing", "type": "null"},
    ],
})  # fmt: skip
EVERY_READER = CompiledReader(EVERY_TYPE.parsed_for_reading)

_inner = st.fixed_dictionaries(
    {"name": st.text(max_size=5), "again": st.none() | st.binary(min_size=4, max_size=4)}
)
EVERY_RECORD = st.fixed_dictionaries(
    {
        "flag": st.booleans(),
        "small": st.integers(-(2**31), 2**31 - 1),
        "big": st.integers(-(2**63), 2**63 - 1),
        "single": st.floats(width=32, allow_nan=False),
        "double": st.floats(allow_nan=False),
        "raw": st.binary(max_size=80),
        "four": st.binary(min_size=4, max_size=4),
        "colour": st.sampled_from(["RED", "BLUE"]),
        "counts": st.dictionaries(st.text(max_size=4), st.integers(-(2**63), 2**63 - 1)),
        "choice": st.none() | st.text(max_size=70) | st.integers(-(2**63), 2**63 - 1),
        "when": st.datetimes(
            min_value=datetime(1, 1, 2),  # noqa: DTZ001 (hypothesis takes naive bounds)
            timezones=st.just(UTC),
        ),
        "inner": _inner,
        "inners": st.lists(_inner, max_size=4),
        "nothing": st.none(),
    }
)


def reference(body: bytes, schema: CompiledSchema) -> Record | CodecError:
    try:
        return read_body(body, schema, schema)
    except CodecError as exc:
        return exc


def same(left: Any, right: Any) -> bool:
    """Equal values; floats bit for bit (-0.0 is not 0.0, a NaN is itself)."""
    if isinstance(left, float) and isinstance(right, float):
        return struct.pack("<d", left) == struct.pack("<d", right)
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(same(left[k], right[k]) for k in left)
    if isinstance(left, list) and isinstance(right, list):
        return len(left) == len(right) and all(map(same, left, right))
    return type(left) is type(right) and left == right


def assert_never_more_lenient(
    compiled: CompiledReader, body: bytes, schema: CompiledSchema
) -> bool:
    """If the fast path reads `body`, the reference path reads the very same record."""
    fast = compiled.read(body)
    if fast is None:
        return False
    expected = reference(body, schema)
    assert not isinstance(expected, CodecError), f"fast path accepted what {expected} refused"
    assert same(fast, expected)
    return True


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declarations())
def test_valid_declarations_are_read_as_the_reference_reads_them(declaration: Declaration) -> None:
    body = write_body(SCHEMAS[SchemaKind.DECLARATION], declaration.model_dump())
    assert READERS[SchemaKind.DECLARATION].read(body) == reference(
        body, SCHEMAS[SchemaKind.DECLARATION]
    )


@settings(max_examples=40, deadline=None)
@given(receipts())
def test_valid_receipts_are_read_as_the_reference_reads_them(receipt: Any) -> None:
    body = write_body(SCHEMAS[SchemaKind.RECEIPT], receipt.model_dump())
    assert READERS[SchemaKind.RECEIPT].read(body) == reference(body, SCHEMAS[SchemaKind.RECEIPT])


@settings(max_examples=200, deadline=None)
@given(EVERY_RECORD)
def test_every_avro_type_is_read_as_fastavro_reads_it(record: dict[str, Any]) -> None:
    body = write_body(EVERY_TYPE, record)
    fast = EVERY_READER.read(body)
    assert fast is not None
    assert same(fast, fastavro.schemaless_reader(io.BytesIO(body), EVERY_TYPE.parsed_for_reading))


_edits = st.lists(
    st.tuples(st.sampled_from(["set", "insert", "delete"]), st.integers(0), st.integers(0, 255)),
    min_size=1,
    max_size=4,
)


def mutated(body: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    out = bytearray(body)
    for operation, at, byte in edits:
        at %= len(out) + 1
        if operation == "insert":
            out.insert(at, byte)
        elif at < len(out):
            if operation == "set":
                out[at] = byte
            else:
                del out[at]
    return bytes(out)


@settings(max_examples=600, deadline=None)
@given(_edits)
@example([("set", 3, 0xFF)])  # a length turned into a long varint
@example([("insert", len(BODY), 0)])  # one byte left over
def test_mutated_declarations_are_never_read_more_leniently(
    edits: list[tuple[str, int, int]],
) -> None:
    assert_never_more_lenient(
        READERS[SchemaKind.DECLARATION], mutated(BODY, edits), SCHEMAS[SchemaKind.DECLARATION]
    )


@settings(max_examples=400, deadline=None)
@given(EVERY_RECORD, _edits)
def test_mutated_bodies_of_every_type_are_never_read_more_leniently(
    record: dict[str, Any], edits: list[tuple[str, int, int]]
) -> None:
    body = mutated(write_body(EVERY_TYPE, record), edits)
    assert_never_more_lenient(EVERY_READER, body, EVERY_TYPE)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_are_never_read_more_leniently(body: bytes) -> None:
    assert_never_more_lenient(EVERY_READER, body, EVERY_TYPE)
    assert_never_more_lenient(READERS[SchemaKind.RECEIPT], body, SCHEMAS[SchemaKind.RECEIPT])


@pytest.mark.parametrize("cap", [0, 1, 62, 63, 64, 200])
@pytest.mark.parametrize("size", [0, 1, 62, 63, 64, 65, 200, 201])
def test_the_value_cap_is_checked_inline(cap: int, size: int) -> None:
    schema = {"type": "record", "name": "r", "fields": [
        {"name": "s", "type": ["null", "string"]}, {"name": "n", "type": "long"},
    ]}  # fmt: skip
    compiled = CompiledReader(schema, Limits(bytes_per_value=cap))
    body = varint(1) + varint(size) + b"x" * size + varint(-70)
    assert compiled.read(body) == (None if size > cap else {"s": "x" * size, "n": -70})
    assert compiled.read(varint(1) + varint(-size - 1)) is None  # a negative length
    if size:
        assert compiled.read(varint(1) + varint(size) + b"x" * (size - 1)) is None  # cut short


def test_collection_caps_are_charged_before_any_item_is_read() -> None:
    limits = Limits(items_per_collection=10, total_items=25)
    schema = {"type": "record", "name": "r", "fields": [
        {"name": f"a{i}", "type": {"type": "array", "items": "null"}} for i in range(3)
    ]}  # fmt: skip
    compiled = CompiledReader(schema, limits)
    assert compiled.read((varint(9) + varint(0)) * 3) is None  # 27 in all, over 25
    assert compiled.read((varint(8) + varint(0)) * 3) == {f"a{i}": [None] * 8 for i in range(3)}
    assert compiled.read(varint(11) + varint(0) * 3) is None  # 11 in one, over 10
    # Two blocks, the second with its byte size (negative count): 6 + 5 = 11 items.
    two_blocks = varint(6) + varint(-5) + varint(0) + varint(0)
    assert compiled.read(two_blocks + varint(0) * 2) is None
    # A count of 2**62 nulls costs nothing to refuse.
    assert compiled.read(varint(2**62) + varint(0) * 3) is None


def test_a_million_empty_strings_are_left_to_the_reference_path() -> None:
    data = splice("itinerary", varint(1_000_000) + b"\x00" * 1_000_000 + varint(0))
    assert READERS[SchemaKind.DECLARATION].read(parse_single_object(data)[1]) is None


def test_what_fastavro_would_guess_at_is_left_to_the_reference_path() -> None:
    compiled = EVERY_READER
    body = write_body(EVERY_TYPE, {
        "flag": True, "small": 1, "big": 2, "single": 0.5, "double": 0.25, "raw": b"",
        "four": b"abcd", "colour": "RED", "counts": {}, "choice": None,
        "when": datetime(2026, 1, 1, tzinfo=UTC), "inner": {"name": "", "again": None},
        "inners": [], "nothing": None,
    })  # fmt: skip
    assert compiled.read(body) is not None
    assert compiled.read(b"\x02" + body[1:]) is None  # a boolean byte other than 0 or 1
    assert compiled.read(body[:1] + varint(2**31) + body[2:]) is None  # an int past 32 bits
    assert compiled.read(body + b"\x00") is None  # a byte left over
    assert compiled.read(body[:-1]) is None  # cut short
    # Not bytes (a caller ignoring the types): its slices would not be bytes either.
    assert compiled.read(bytearray(body)) is None  # type: ignore[arg-type]


def test_longs_are_read_to_64_bits_and_no_further() -> None:
    compiled = CompiledReader(
        {"type": "record", "name": "r", "fields": [{"name": "a", "type": "long"}]}
    )
    assert compiled.read(varint(2**63 - 1)) == {"a": 2**63 - 1}
    assert compiled.read(varint(-(2**63))) == {"a": -(2**63)}
    assert compiled.read(b"\xff" * 9 + b"\x02") is None  # 10 bytes, past 64 bits
    assert compiled.read(b"\xff" * 10 + b"\x01") is None  # 11 bytes


def test_a_recursive_schema_is_not_compiled() -> None:
    linked = CompiledSchema.from_definition({"type": "record", "name": "Node", "fields": [
        {"name": "next", "type": ["null", "Node"]},
    ]})  # fmt: skip
    assert compile_reader(linked.parsed_for_reading) is None


@pytest.mark.parametrize("depth", [1, 15, 40])
def test_deeply_nested_arrays_are_read_or_left_to_the_reference_path(depth: int) -> None:
    schema: Any = "long"
    for _ in range(depth):
        schema = {"type": "array", "items": schema}
    compiled = compile_reader(
        {"type": "record", "name": "r", "fields": [{"name": "a", "type": schema}]}
    )
    body = varint(1) * depth + varint(5) + varint(0) * depth
    value: Any = 5
    for _ in range(depth):
        value = [value]
    assert compiled is None or compiled.read(body) == {"a": value}
    assert depth < 40 or compiled is None


def test_field_names_cannot_become_code() -> None:
    hostile = "x'}; import os; {'"
    compiled = CompiledReader({"type": "record", "name": "r", "fields": [
        {"name": hostile, "type": "long"},
    ]})  # fmt: skip
    assert compiled.read(varint(7)) == {hostile: 7}
    assert "import os" not in compiled.source.replace(repr(hostile), "")


def test_the_codec_decodes_latest_bodies_without_the_reference_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    declaration = sample_declaration(lines=2)
    framed = CODEC.encode_declaration(declaration)
    receipt = sample_receipt(declaration, framed)
    receipt_framed = CODEC.encode_receipt(receipt)
    capped = splice("itinerary", varint(2001) + b"\x00" * 2001 + varint(0))

    def refuse(*args: object) -> Record:
        raise CodecError("reference path")

    registry = InMemorySchemaRegistry()
    registry_framed = Codec(registry=registry).encode_declaration(declaration)
    monkeypatch.setattr(codec_module, "read_body", refuse)
    codec = Codec()
    assert codec.decode_declaration(framed) == declaration
    # Confluent framing: the registry holds this node's own latest schema text.
    assert Codec(registry=registry).decode_declaration(registry_framed) == declaration
    assert codec.decode_receipt(receipt_framed) == receipt
    with pytest.raises(CodecError, match="reference path"):
        codec.decode_declaration(capped)
    monkeypatch.undo()
    with pytest.raises(CodecError) as caught:
        codec.decode_declaration(capped)
    assert [(p.field, p.code) for p in caught.value.problems] == [("itinerary", "too_many_items")]


# The same codec with the fast path switched off: every body takes the reference path.
REFERENCE_CODEC = Codec()
REFERENCE_CODEC._compiled = dict.fromkeys(SchemaKind)


def decoded(codec: Codec, data: bytes) -> Declaration | tuple[str, tuple[Any, ...]]:
    try:
        return codec.decode_declaration(data)
    except CodecError as exc:
        return str(exc), exc.problems


@settings(max_examples=300, deadline=None)
@given(_edits)
def test_decoding_accepts_refuses_and_explains_as_the_reference_path_does(
    edits: list[tuple[str, int, int]],
) -> None:
    # Same model, or the same error with the same problems (field paths, codes, values).
    data = frame_single_object(SCHEMAS[SchemaKind.DECLARATION].fingerprint, mutated(BODY, edits))
    assert decoded(CODEC, data) == decoded(REFERENCE_CODEC, data)
