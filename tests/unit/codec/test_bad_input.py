"""Hostile or broken bytes: each is a `CodecError` saying why, fast, in bounded memory."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.codec import Codec, CompiledSchema, SchemaKind
from broker.codec.avro import write_body
from broker.codec.framing import frame_single_object
from broker.codec.limits import LimitChecker, Limits
from broker.errors import CodecError
from broker.model.samples import sample_declaration

CODEC = Codec()
LATEST = CODEC.schemas.latest(SchemaKind.DECLARATION)
RECORD = sample_declaration(lines=2).model_dump()
VALID = CODEC.encode_declaration(sample_declaration(lines=2))


def varint(value: int) -> bytes:
    """Avro long: zig-zag, then 7 bits a byte, low first."""
    value = (value << 1) ^ (value >> 63)
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def fields_body(record: dict[str, Any], names: list[str]) -> bytes:
    """The Avro encoding of only the fields `names` of the latest declaration schema."""
    definition = dict(LATEST.schema.definition)
    definition["fields"] = [f for f in definition["fields"] if f["name"] in names]
    return write_body(CompiledSchema.from_definition(definition), record)


def splice(field: str, encoded_value: bytes) -> bytes:
    """A framed declaration whose `field` is replaced by raw `encoded_value` bytes."""
    names = [f["name"] for f in LATEST.schema.definition["fields"]]
    at = names.index(field)
    body = fields_body(RECORD, names[:at]) + encoded_value
    if at + 1 < len(names):
        body += fields_body(RECORD, names[at + 1 :])
    return frame_single_object(LATEST.fingerprint, body)


@contextmanager
def fast_and_small(seconds: float = 0.5, megabytes: float = 8) -> Iterator[None]:
    """The block must finish in `seconds` and allocate at most `megabytes` at its peak."""
    tracemalloc.start()
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    assert elapsed < seconds, f"took {elapsed:.3f}s"
    assert peak < megabytes * 2**20, f"peak {peak / 2**20:.1f} MiB"


def test_splicing_the_original_value_gives_the_original_bytes() -> None:
    assert splice("functional_reference", varint(15) + b"CQ2025TH0915001") == VALID


def test_every_truncation_is_a_codec_error() -> None:
    for end in range(len(VALID)):
        with pytest.raises(CodecError):
            CODEC.decode_declaration(VALID[:end])


def test_trailing_bytes_are_refused() -> None:
    with pytest.raises(CodecError, match="1 bytes left over"):
        CODEC.decode_declaration(VALID + b"\x00")


def test_wrong_magic_and_unknown_fingerprint() -> None:
    with pytest.raises(CodecError, match="unknown framing"):
        CODEC.decode_declaration(b"\xc3\x02" + VALID[2:])
    with pytest.raises(CodecError, match="unknown writer schema fingerprint"):
        CODEC.decode_declaration(b"\xc3\x01" + bytes(8) + VALID[10:])


@pytest.mark.parametrize(
    ("field", "encoded", "reason"),
    [
        ("functional_reference", varint(2**40) + b"abc", "functional_reference: a 10995116"),
        ("functional_reference", varint(-5) + b"abc", "negative length"),
        ("goods_items", varint(2**40) + b"\x02", "goods_items: 1099511627776\\+ items"),
        ("itinerary", varint(-(2**40)) + varint(2**40), "invalid"),
        ("extensions", varint(2**62), "invalid"),
        ("kind", varint(7), "invalid"),
        ("declaration_number", varint(5), "invalid"),
        ("issue_time", varint(2**62), "invalid"),
        ("functional_reference", varint(2) + b"\xff\xfe", "invalid"),
        ("functional_reference", b"\xff" * 11, "invalid"),
    ],
    ids=[
        "string-2^40",
        "negative-length",
        "array-2^40",
        "array-negative-block",
        "map-2^62",
        "enum-index",
        "union-index",
        "timestamp-overflow",
        "bad-utf8",
        "varint-too-long",
    ],
)
def test_absurd_values_inside_the_body(field: str, encoded: bytes, reason: str) -> None:
    data = splice(field, encoded)
    with fast_and_small(), pytest.raises(CodecError, match=reason):
        CODEC.decode_declaration(data)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"\x7f" * 100_000, "value_too_large"),  # read as a number, this one takes seconds
        (b"\x7f" * 13, "decimal_bytes"),
        (b"\x7f" * 12, "decimal_range"),  # 12 bytes may hold 29 digits: above decimal(28)
        (b"", "decimal_bytes"),
        (b"\xff", "decimal_bound"),  # -0.000001 kg
    ],
    ids=["100kB", "13-bytes", "29-digits", "empty", "negative"],
)
def test_decimal_bytes_are_bounded_before_any_arithmetic(raw: bytes, code: str) -> None:
    data = splice("total_gross_mass_kg", varint(1) + varint(len(raw)) + raw)
    with fast_and_small(), pytest.raises(CodecError) as caught:
        CODEC.decode_declaration(data)
    assert [(p.field, p.code) for p in caught.value.problems] == [("total_gross_mass_kg", code)]


def test_a_message_over_the_cap_is_refused_before_decoding() -> None:
    data = VALID + bytes(2**20)
    with fast_and_small(megabytes=1), pytest.raises(CodecError, match="over the 1048576 limit"):
        CODEC.decode_declaration(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_are_a_codec_error(garbage: bytes) -> None:
    with pytest.raises(CodecError):
        CODEC.decode_declaration(garbage)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600))
def test_random_bodies_behind_a_valid_header_are_a_codec_error(garbage: bytes) -> None:
    with pytest.raises(CodecError):
        CODEC.decode_declaration(frame_single_object(LATEST.fingerprint, garbage))


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_corrupted_valid_messages_never_raise_anything_else(data: st.DataObject) -> None:
    corrupted = bytearray(VALID)
    for _ in range(data.draw(st.integers(1, 4))):
        corrupted[data.draw(st.integers(10, len(VALID) - 1))] = data.draw(st.integers(0, 255))
    # A changed byte inside a description may still decode to a valid declaration: fine.
    with suppress(CodecError):
        CODEC.decode_declaration(bytes(corrupted))


def test_a_million_empty_strings_are_refused_before_decoding() -> None:
    # 1 MB of Avro that fastavro would turn into a million objects (18 s and 2 GB through the
    # model, and an 85 MB receipt listing every problem): refused by counting, in one pass.
    data = splice("itinerary", varint(1_000_000) + b"\x00" * 1_000_000 + varint(0))
    with fast_and_small(), pytest.raises(CodecError) as caught:
        CODEC.decode_declaration(data)
    assert [(p.field, p.code) for p in caught.value.problems] == [("itinerary", "too_many_items")]


def test_many_collections_under_the_per_collection_cap_still_meet_the_total_cap() -> None:
    limits = Limits(items_per_collection=10, total_items=25)
    schema = {"type": "record", "name": "r", "fields": [
        {"name": f"a{i}", "type": {"type": "array", "items": "null"}} for i in range(3)
    ]}  # fmt: skip
    body = (varint(9) + varint(0)) * 3  # 27 items, none more than 10 in one array
    with pytest.raises(CodecError) as caught:
        LimitChecker(schema, limits).check(body)
    assert [(p.field, p.code) for p in caught.value.problems] == [("a2", "too_many_items")]
    LimitChecker(schema, limits).check((varint(8) + varint(0)) * 3)  # 24: within both caps


@pytest.mark.parametrize("cap", [0, 1, 10, 62, 63, 64, 200])
@pytest.mark.parametrize("size", [0, 1, 10, 11, 62, 63, 64, 65, 200, 201])
def test_value_caps_hold_on_both_sides_of_the_one_byte_length(cap: int, size: int) -> None:
    # Lengths up to 63 take one varint byte and a faster path: it must refuse exactly as the
    # general one does, for every cap, and find a value cut short.
    schema = {"type": "record", "name": "r", "fields": [
        {"name": "s", "type": ["null", "string"]}, {"name": "n", "type": "long"},
    ]}  # fmt: skip
    checker = LimitChecker(schema, Limits(bytes_per_value=cap))
    body = varint(1) + varint(size) + b"x" * size + varint(-70)
    if size > cap:
        with pytest.raises(CodecError) as caught:
            checker.check(body)
        assert [(p.field, p.code) for p in caught.value.problems] == [("s", "value_too_large")]
    else:
        checker.check(body)
        if size:
            with pytest.raises(CodecError, match="truncated"):
                checker.check(varint(1) + varint(size) + b"x" * (size - 1))
    with pytest.raises(CodecError, match="negative length"):
        checker.check(varint(1) + varint(-size - 1))
    checker.check(varint(0) + varint(-70))  # the optional value absent
    for index in (2, -1, 64):  # past the branches; negative; a two-byte index
        with pytest.raises(CodecError, match=f"union index {index}"):
            checker.check(varint(index) + varint(0))
