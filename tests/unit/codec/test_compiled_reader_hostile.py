"""The compiled fast reader attacked with hand-made hostile bodies: extreme and non-canonical
varints where counts, lengths, indexes and sizes go, nested unions, duplicate map keys, values at
the cap and one past it. It must never read a body the reference path (limits walk + fastavro)
refuses, never give another record, never raise, and never cost more than the caps allow."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.codec import Codec, CompiledSchema, InMemorySchemaRegistry, SchemaKind
from broker.codec.avro import write_body
from broker.codec.compiled_reader import CompiledReader
from broker.codec.framing import frame_confluent, frame_single_object, parse_single_object
from broker.codec.limits import DEFAULT_LIMITS, Limits
from broker.errors import CodecError
from broker.model.samples import sample_declaration, sample_receipt
from tests.unit.codec.test_bad_input import varint
from tests.unit.codec.test_compiled_reader import (
    EVERY_READER,
    EVERY_TYPE,
    READERS,
    REFERENCE_CODEC,
    SCHEMAS,
    assert_never_more_lenient,
    decoded,
    reference,
    same,
)

CODEC = Codec()
_DECLARATION = sample_declaration(lines=4)
_FRAMED = CODEC.encode_declaration(_DECLARATION)
BODIES = {
    SchemaKind.DECLARATION: parse_single_object(_FRAMED)[1],
    SchemaKind.RECEIPT: parse_single_object(
        CODEC.encode_receipt(sample_receipt(_DECLARATION, _FRAMED))
    )[1],
}
CAP = DEFAULT_LIMITS.bytes_per_value
ITEMS = DEFAULT_LIMITS.items_per_collection
# Values an attacker puts where a count, length, index or block size is read.
HOSTILE_LONGS = [
    *(2**62, -(2**62), 2**63 - 1, -(2**63), 2**31, -(2**31) - 1, -1, -2, 0, 1, 2, 63, 64, -64, -65),
    *(CAP - 1, CAP, CAP + 1, ITEMS, ITEMS + 1, -ITEMS, -ITEMS - 1),
    *(DEFAULT_LIMITS.total_items, DEFAULT_LIMITS.total_items + 1),
]
# Non-canonical varints (zero in two bytes, -1 in two, 2**64 - 1 in ten, zero in ten and eleven)
# and ten-byte ones past 64 bits.
ODD_VARINTS = [b"\x80\x00", b"\x81\x00", b"\xff" * 9 + b"\x01", b"\x80" * 9 + b"\x00"]
ODD_VARINTS += [
    b"\x80" * 10 + b"\x00",
    b"\x80" * 9 + b"\x02",
    b"\xff" * 9 + b"\x7f",
]  # 2**64, 2**70-1

_splices = st.lists(
    st.tuples(
        st.integers(0),
        st.integers(0, 3),  # bytes replaced (0: inserted)
        st.sampled_from([varint(v) for v in HOSTILE_LONGS] + ODD_VARINTS),
    ),
    min_size=1,
    max_size=3,
)


def spliced(body: bytes, splices: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray(body)
    for at, width, encoded in splices:
        at %= len(out) + 1
        out[at : at + width] = encoded
    return bytes(out)


def never_raises_nor_leniency(reader: CompiledReader, body: bytes, schema: CompiledSchema) -> None:
    """Anything escaping `read` fails the test too: it would be a poison record."""
    assert_never_more_lenient(reader, body, schema)


@settings(max_examples=1500, deadline=None)
@given(st.sampled_from(list(SchemaKind)), _splices)
def test_hostile_varints_in_real_bodies_are_never_read_more_leniently(
    kind: SchemaKind, splices: list[tuple[int, int, bytes]]
) -> None:
    never_raises_nor_leniency(READERS[kind], spliced(BODIES[kind], splices), SCHEMAS[kind])


_EVERY_BODY = write_body(EVERY_TYPE, {
    "flag": True, "small": -3, "big": 2**40, "single": 1.5, "double": -2.25, "raw": b"r" * 70,
    "four": b"abcd", "colour": "BLUE", "counts": {"a": 1, "bb": -2}, "choice": "c" * 65,
    "when": datetime(2026, 11, 29, 8, tzinfo=UTC),
    "inner": {"name": "n", "again": b"wxyz"},
    "inners": [{"name": "x", "again": None}, {"name": "", "again": b"1234"}], "nothing": None,
})  # fmt: skip


@settings(max_examples=1500, deadline=None)
@given(_splices)
def test_hostile_varints_in_every_avro_type_are_never_read_more_leniently(
    splices: list[tuple[int, int, bytes]],
) -> None:
    never_raises_nor_leniency(EVERY_READER, spliced(_EVERY_BODY, splices), EVERY_TYPE)


@settings(max_examples=200, deadline=None)
@given(_splices)
def test_hostile_declarations_decode_to_the_reference_outcome(
    splices: list[tuple[int, int, bytes]],
) -> None:
    """Through the codec (validation included): the same declaration or the same problems."""
    body = spliced(BODIES[SchemaKind.DECLARATION], splices)
    data = frame_single_object(SCHEMAS[SchemaKind.DECLARATION].fingerprint, body)
    assert decoded(CODEC, data) == decoded(REFERENCE_CODEC, data)


# ------------------------------------------------------------------ collections
ARRAYS = CompiledSchema.from_definition({
    "type": "record", "name": "Arrays", "namespace": "hostile", "fields": [
        {"name": "nulls", "type": {"type": "array", "items": "null"}},
        {"name": "names", "type": {"type": "map", "values": "long"}},
    ],
})  # fmt: skip
ARRAYS_READER = CompiledReader(ARRAYS.parsed_for_reading)


@pytest.mark.parametrize(
    "body",
    [
        varint(-(2**63)) + varint(2**63 - 1) + varint(0) * 2,  # the most negative block count
        varint(-1) + varint(-(2**63)) + varint(0) * 2,  # a negative byte size
        varint(-1) + b"\xff" * 10 + b"\x01" + varint(0) * 2,  # an 11-byte byte size
        varint(-2) + varint(2**62) + varint(0) * 2,  # a byte size past the body: not trusted
        varint(2**62) + varint(0) * 2,
        varint(ITEMS) + varint(1) + varint(0) * 2,  # ITEMS, then one more block of 1
        varint(-ITEMS - 1) + varint(0) + varint(0) * 2,
        varint(0) + varint(2**62) + varint(1) + b"a" + varint(1) + varint(0),
    ],
)
def test_block_counts_and_sizes_at_the_extremes(body: bytes) -> None:
    never_raises_nor_leniency(ARRAYS_READER, body, ARRAYS)


def test_a_block_with_a_byte_size_reads_as_fastavro_does() -> None:
    body = varint(-3) + varint(999) + varint(2) + varint(0) + varint(0)
    assert ARRAYS_READER.read(body) == {"nulls": [None] * 5, "names": {}}
    assert reference(body, ARRAYS) == {"nulls": [None] * 5, "names": {}}


def test_duplicate_map_keys_read_as_the_reference_reads_them() -> None:
    """The last value wins, in the place of the first key, in both paths: no path shows
    another record to the validator than the other."""
    pairs = [(b"k", 1), (b"j", 2), (b"k", 3), (b"k", 4)]
    block = b"".join(varint(len(k)) + k + varint(v) for k, v in pairs)
    body = varint(0) + varint(len(pairs)) + block + varint(0)
    fast = ARRAYS_READER.read(body)
    assert fast == {"nulls": [], "names": {"k": 4, "j": 2}}
    assert same(fast, reference(body, ARRAYS))
    assert list(fast["names"]) == list(reference(body, ARRAYS)["names"])  # type: ignore[index]


def test_the_item_budget_is_shared_by_nested_collections() -> None:
    """50 arrays of 1 000 empty arrays: under the per-collection cap everywhere, 51 000 items in
    the body, over the body's budget: both paths refuse, before reading them all."""
    nested = CompiledSchema.from_definition({
        "type": "record", "name": "Nested", "namespace": "hostile", "fields": [
            {"name": "a", "type": {"type": "array", "items": {"type": "array", "items": "null"}}},
        ],
    })  # fmt: skip
    inner = varint(1000) + varint(0)
    body = varint(50) + inner * 50 + varint(0)
    assert CompiledReader(nested.parsed_for_reading).read(body) is None
    assert isinstance(reference(body, nested), CodecError)
    fits = varint(49) + inner * 49 + varint(0)
    assert CompiledReader(nested.parsed_for_reading).read(fits) == {"a": [[None] * 1000] * 49}


# ------------------------------------------------------------------ values and unions
@pytest.mark.parametrize("size", [CAP - 1, CAP, CAP + 1])
@pytest.mark.parametrize("where", ["key", "value"])
def test_strings_at_the_cap_and_one_past_it(size: int, where: str) -> None:
    text = b"\xe0\xb8\x81" * (size // 3) + b"a" * (size % 3)  # Thai, then ASCII: `size` bytes
    schema = CompiledSchema.from_definition({
        "type": "record", "name": "Strings", "namespace": "hostile", "fields": [
            {"name": "m", "type": {"type": "map", "values": "string"}},
        ],
    })  # fmt: skip
    key, value = (text, b"v") if where == "key" else (b"k", text)
    body = varint(1) + varint(len(key)) + key + varint(len(value)) + value + varint(0)
    fast = CompiledReader(schema.parsed_for_reading).read(body)
    expected = reference(body, schema)
    if size > CAP:
        assert fast is None
        assert isinstance(expected, CodecError)
    else:
        assert fast == expected == {"m": {key.decode(): value.decode()}}


NESTED_UNIONS = CompiledSchema.from_definition({
    "type": "record", "name": "Unions", "namespace": "hostile", "fields": [
        {"name": "u", "type": ["null", "long", {"type": "array", "items": [
            "null", "string", {"type": "map", "values": ["null", "long", {
                "type": "enum", "name": "E", "symbols": ["A", "B"]}]},
        ]}]},
        {"name": "t", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}]},
    ],
})  # fmt: skip
NESTED_READER = CompiledReader(NESTED_UNIONS.parsed_for_reading)


@pytest.mark.parametrize(
    "body",
    [
        varint(2)
        + varint(1)
        + varint(2)
        + varint(1)
        + varint(1)
        + b"k"
        + varint(2)
        + varint(1)
        + varint(0)
        + varint(0)
        + varint(0),  # u: [{"k": "B"}], t: null
        varint(2)
        + varint(1)
        + varint(2)
        + varint(1)
        + varint(1)
        + b"k"
        + varint(2)
        + varint(2)
        + varint(0)
        + varint(0)
        + varint(0),  # enum index 2 of 2 symbols
        varint(2) + varint(1) + varint(3) + varint(0) + varint(0),  # union index 3 of 3
        varint(2**62) + varint(0),  # union index 2**62
        varint(-1) + varint(0),  # union index -1
        b"\x80\x00" + b"\x80\x00",  # null and null as two-byte indexes
        varint(0) + varint(1) + varint(2**63 - 1),  # a timestamp past year 9999
        varint(0) + varint(1) + varint(-(2**63)),
        varint(0) + varint(1) + varint(253402300799999999),  # 9999-12-31T23:59:59.999999
    ],
)
def test_nested_unions_enums_and_timestamps(body: bytes) -> None:
    never_raises_nor_leniency(NESTED_READER, body, NESTED_UNIONS)


def test_a_boolean_byte_or_an_int_past_32_bits_is_never_guessed() -> None:
    schema = CompiledSchema.from_definition({
        "type": "record", "name": "Small", "namespace": "hostile", "fields": [
            {"name": "b", "type": "boolean"}, {"name": "i", "type": "int"},
        ],
    })  # fmt: skip
    reader = CompiledReader(schema.parsed_for_reading)
    for flag in (2, 0x80, 0xFF):
        assert reader.read(bytes([flag]) + varint(1)) is None
    for value in (2**31, -(2**31) - 1, 2**62):
        assert reader.read(b"\x01" + varint(value)) is None
    assert reader.read(b"\x01" + varint(2**31 - 1)) == {"b": True, "i": 2**31 - 1}


# ------------------------------------------------------------------ cost
def test_a_largest_body_declined_at_its_last_byte_costs_one_fast_read_more_at_most() -> None:
    """The worst case for the fast path: it reads a body at the item cap to the end and then
    leaves it (one byte over) to the reference path, which refuses it with the same reason.
    The extra cost is one fast read (about a third of the reference read); printed, not timed."""
    record = sample_declaration(lines=1).model_dump()
    item = record["goods_items"][0]
    record["goods_items"] = [dict(item, sequence=n + 1) for n in range(ITEMS)]
    body = write_body(SCHEMAS[SchemaKind.DECLARATION], record) + b"\x00"
    data = frame_single_object(SCHEMAS[SchemaKind.DECLARATION].fingerprint, body)
    assert READERS[SchemaKind.DECLARATION].read(body) is None
    fast_side, reference_side = decoded(CODEC, data), decoded(REFERENCE_CODEC, data)
    assert fast_side == reference_side
    assert isinstance(fast_side, tuple)
    assert "left over" in fast_side[0]
    costs = {}
    for name, codec in (("with fast path", CODEC), ("reference only", REFERENCE_CODEC)):
        started = time.process_time()
        for _ in range(3):
            decoded(codec, data)
        costs[name] = (time.process_time() - started) / 3 * 1e3
    print(f"\n{len(body)}-byte body declined at its last byte: "
          + ", ".join(f"{k} {v:.1f} ms CPU" for k, v in costs.items()))  # fmt: skip


def test_the_limits_of_the_fast_path_are_the_reference_limits() -> None:
    """A reader built with smaller limits declines what they refuse (same caps both ways)."""
    limits = Limits(bytes_per_value=8, items_per_collection=3, total_items=5)
    reader = CompiledReader(ARRAYS.parsed_for_reading, limits)
    assert reader.read(varint(3) + varint(0) + varint(0)) == {"nulls": [None] * 3, "names": {}}
    assert reader.read(varint(4) + varint(0) + varint(0)) is None
    long_key = varint(1) + varint(9) + b"k" * 9 + varint(1) + varint(0)
    assert reader.read(varint(0) + long_key) is None
    assert reader.read(varint(3) + varint(0) + varint(3) + (varint(1) + b"k" + varint(1)) * 3
                       + varint(0)) is None  # fmt: skip  # 6 items in the body, over 5


# ------------------------------------------------------------------ hostile registry schemas
@pytest.mark.parametrize("depth", [600, 900, 5_000, 50_000])
def test_a_registry_schema_nested_too_deep_is_a_codec_error_each_time(depth: int) -> None:
    """An operator who can write the schema registry registers a Declaration nested `depth`
    arrays deep; a record framed with its id is refused with a CodecError (a precise dead
    letter, no traceback), the second time too."""
    registry = InMemorySchemaRegistry()
    codec = Codec(registry=registry)
    name = codec.schemas.latest(SchemaKind.DECLARATION).schema.full_name
    text = (
        f'{{"type": "record", "name": "{name}", "fields": [{{"name": "a", "type": '
        + '{"type": "array", "items": ' * depth
        + '"long"'
        + "}" * depth
        + "}]}"
    )
    schema_id = registry.register("hostile-value", text)
    for _ in range(2):
        with pytest.raises(CodecError, match=f"schema id {schema_id} is nested too deep"):
            codec.decode_declaration(frame_confluent(schema_id, b"\x00"))
