"""The compiled fast writer returns exactly the bytes fastavro writes for a record, or None; when
fastavro refuses a record, it returns None (so the codec refuses it as before, with fastavro's
reason)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

import fastavro
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from broker.codec import Codec, CompiledSchema, InMemorySchemaRegistry, SchemaKind, SchemaSet
from broker.codec import codec as codec_module
from broker.codec.avro import write_body
from broker.codec.compiled_writer import CompiledWriter, compile_writer
from broker.codec.framing import frame_single_object
from broker.errors import CodecError
from broker.model import Declaration, GoodsItem, Receipt
from broker.model.samples import sample_declaration, sample_receipt
from broker.model.types import MONEY_PRECISION, MONEY_SCALE, QUANTITY_PRECISION, QUANTITY_SCALE
from tests.strategies import MAX_MONEY, MAX_QUANTITY, declarations, receipts
from tests.unit.codec.test_golden import GOLDEN, golden_model

CODEC = Codec()
SCHEMAS = {kind: CODEC.schemas.latest(kind).schema for kind in SchemaKind}
WRITERS = {kind: CompiledWriter(schema.parsed) for kind, schema in SCHEMAS.items()}

# The same codec with the fast path switched off: every model is written by fastavro.
REFERENCE_CODEC = Codec()
REFERENCE_CODEC._writers = dict.fromkeys(SchemaKind)


def fastavro_body(schema: CompiledSchema, record: Any) -> bytes | str:
    """What the codec wrote before the fast writer: the body, or the reason it refused."""
    try:
        return write_body(schema, record)
    except CodecError as exc:
        return str(exc)


def assert_fastavro_bytes_or_none(
    writer: CompiledWriter, schema: CompiledSchema, record: Any
) -> bool:
    """The fast path writes fastavro's bytes or nothing, and nothing when fastavro refuses."""
    fast = writer.write(record)
    if fast is None:
        return False
    expected = fastavro_body(schema, record)
    assert isinstance(expected, bytes), f"fast path wrote what fastavro refused: {expected}"
    assert fast == expected
    return True


def encoded(codec: Codec, model: Declaration | Receipt) -> bytes | str:
    try:
        if isinstance(model, Declaration):
            return codec.encode_declaration(model)
        return codec.encode_receipt(model)
    except CodecError as exc:
        return str(exc)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declarations(max_items=6))
def test_valid_declarations_are_written_as_fastavro_writes_them(declaration: Declaration) -> None:
    record = declaration.model_dump()
    assert WRITERS[SchemaKind.DECLARATION].write(record) == write_body(
        SCHEMAS[SchemaKind.DECLARATION], record
    )
    assert encoded(CODEC, declaration) == encoded(REFERENCE_CODEC, declaration)


@settings(max_examples=60, deadline=None)
@given(receipts())
def test_valid_receipts_are_written_as_fastavro_writes_them(receipt: Receipt) -> None:
    record = receipt.model_dump()
    assert WRITERS[SchemaKind.RECEIPT].write(record) == write_body(
        SCHEMAS[SchemaKind.RECEIPT], record
    )
    assert encoded(CODEC, receipt) == encoded(REFERENCE_CODEC, receipt)


@pytest.mark.parametrize("version", SchemaSet().all(), ids=lambda v: f"{v.kind}.v{v.version}")
def test_every_version_writes_its_golden_bytes(version: Any) -> None:
    """Older versions too (their records ignore the fields they lack, as fastavro does)."""
    hex_text = (GOLDEN / f"{version.kind}.v{version.version}.hex").read_text(encoding="ascii")
    golden = bytes.fromhex(hex_text)
    body = CompiledWriter(version.schema.parsed).write(golden_model(version).model_dump())
    assert body is not None
    assert frame_single_object(version.fingerprint, body) == golden


def test_the_largest_declaration_is_written_as_fastavro_writes_it() -> None:
    """Collections at the decoder's cap (2 000 items), a text at the model's longest in a 3-byte
    script, so counts and lengths take multi-byte varints; still under the 1 MB message cap."""
    base = sample_declaration(lines=1)
    item = base.goods_items[0]
    items = [
        item.model_copy(update={"line_number": n, "description": "ก" * (n % 70 + 1)})
        for n in range(1, 2000)
    ]
    items.append(item.model_copy(update={"line_number": 2000, "specification": "ก" * 1024}))
    declaration = Declaration.model_validate(
        {
            **base.model_dump(),
            "goods_items": tuple(items),
            "total_gross_mass_kg": None,
            "total_package_count": None,
            "total_value": None,
            "total_value_currency": None,
            "itinerary": ("CN", "LA", "TH") * 666,
            "extensions": {f"cn-swxml:Dec/Field{n}": "ລາວ" * (n % 30) for n in range(2000)},
        }
    )
    record = declaration.model_dump()
    body = WRITERS[SchemaKind.DECLARATION].write(record)
    assert body is not None
    assert body == write_body(SCHEMAS[SchemaKind.DECLARATION], record)
    assert CODEC.decode_declaration(CODEC.encode_declaration(declaration)) == declaration


def test_empty_optionals_and_collections_are_written_as_fastavro_writes_them() -> None:
    declaration = sample_declaration(lines=1)
    bare = Declaration.model_validate(
        {
            key: value
            for key, value in declaration.model_dump().items()
            if key in {"message_id", "functional_reference", "kind", "issue_time"}
            or key in {"issue_time_offset_minutes", "declaring_office", "transport"}
        }
        | {"goods_items": (), "function": "CANCELLATION", "transport": {"mode": "RAIL"}}
    )
    record = bare.model_dump()
    assert record["exporter"] is None
    assert record["extensions"] == {}
    assert assert_fastavro_bytes_or_none(
        WRITERS[SchemaKind.DECLARATION], SCHEMAS[SchemaKind.DECLARATION], record
    )


# ---------------------------------------------------------------- decimals at their boundaries


def decimal_schema(precision: int, scale: int) -> CompiledSchema:
    decimal = {"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale}
    return CompiledSchema.from_definition({"type": "record", "name": "r", "fields": [
        {"name": "d", "type": decimal}, {"name": "o", "type": ["null", decimal]},
    ]})  # fmt: skip


QUANTITY, MONEY = (QUANTITY_PRECISION, QUANTITY_SCALE), (MONEY_PRECISION, MONEY_SCALE)
DECIMAL_TYPES = [QUANTITY, MONEY, (5, 0), (3, 3)]
DECIMAL_SCHEMAS = {spec: decimal_schema(*spec) for spec in DECIMAL_TYPES}


DECIMAL_WRITERS = {spec: CompiledWriter(schema.parsed) for spec, schema in DECIMAL_SCHEMAS.items()}


def decimal_written(spec: tuple[int, int], record: dict[str, Any]) -> bool:
    return assert_fastavro_bytes_or_none(DECIMAL_WRITERS[spec], DECIMAL_SCHEMAS[spec], record)


def at_scale(unscaled: int, scale: int) -> Decimal:
    return Decimal(unscaled).scaleb(-scale)


def boundary_decimals() -> list[Decimal]:
    """Byte-length edges of the two's complement (127/128, 32 767/32 768 ...), the largest
    values of each type, zero with both signs, and values fastavro pads or refuses."""
    values = [MAX_QUANTITY, -MAX_QUANTITY, MAX_MONEY, Decimal("-0.000000"), Decimal("-0")]
    for scale in (0, 3, 4, 6):
        for bits in range(0, 96, 8):
            for unscaled in (2**bits - 1, 2**bits, 2**bits + 1, 2 ** (bits + 7)):
                values += [at_scale(unscaled, scale), at_scale(-unscaled, scale)]
    values += [Decimal(text) for text in (
        "1.5", "1E+3", "1.0000000", "0E-7", "12345678901234567890123.456789", "1E-7",
        "99999", "100000", "0.999", "1.000", "NaN", "-sNaN", "Infinity", "-Infinity",
        "1.2E+100", "1.234567E+7", "-0.0000001",
    )]  # fmt: skip
    return values


@pytest.mark.parametrize("spec", DECIMAL_TYPES, ids=str)
def test_boundary_decimals_are_written_as_fastavro_writes_them(spec: tuple[int, int]) -> None:
    precision, scale = spec
    for value in boundary_decimals():
        record = {"d": value, "o": value}
        written = decimal_written(spec, record)
        digits, exponent = value.as_tuple()[1:]
        held_at_scale = exponent == -scale and len(digits) <= precision
        assert written == held_at_scale, value  # a value the model holds is never left over


@settings(max_examples=500, deadline=None)
@given(
    st.decimals() | st.decimals(places=6) | st.decimals(places=4), st.sampled_from(DECIMAL_TYPES)
)
@example(Decimal("-128.000000"), (28, 6))
def test_any_decimal_is_written_as_fastavro_writes_it_or_left_to_it(
    value: Decimal, spec: tuple[int, int]
) -> None:
    decimal_written(spec, {"d": value, "o": None})
    decimal_written(spec, {"d": Decimal(1).scaleb(-spec[1]), "o": value})


def test_decimals_the_model_refuses_are_refused_with_fastavros_reason() -> None:
    """A model built without validation (model_construct) is written, or refused, as before."""
    item = sample_declaration(lines=1).goods_items[0]
    for quantity in (Decimal("1.0000001"), Decimal("1" * 29 + ".000000"), Decimal("1.5")):
        bad = sample_declaration(lines=1).model_copy(
            update={"goods_items": (item.model_copy(update={"quantity": quantity}),)}
        )
        assert encoded(CODEC, bad) == encoded(REFERENCE_CODEC, bad)
    assert "Scale provided in schema does not match" in str(encoded(CODEC, bad.model_copy(
        update={"goods_items": (item.model_copy(update={"quantity": Decimal("1.0000001")}),)}
    )))  # fmt: skip


# ---------------------------------------------------------------- every type, odd values

EVERY_TYPE = CompiledSchema.from_definition({
    "type": "record", "name": "Every", "namespace": "test", "fields": [
        {"name": "flag", "type": "boolean"},
        {"name": "small", "type": "int"},
        {"name": "big", "type": "long"},
        {"name": "raw", "type": "bytes"},
        {"name": "four", "type": {"type": "fixed", "name": "Four", "size": 4}},
        {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["RED", "BLUE"]}},
        {"name": "counts", "type": {"type": "map", "values": "long"}},
        {"name": "maybe", "type": ["string", "null"]},
        {"name": "when", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "millis", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}]},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "inner", "type": {"type": "record", "name": "Inner", "fields": [
            {"name": "name", "type": "string"},
            {"name": "again", "type": ["null", "Four"]},
            {"name": "colour", "type": ["null", "Colour"]},
        ]}},
        {"name": "inners", "type": {"type": "array", "items": "Inner"}},
        {"name": "optional_inner", "type": ["null", "Inner"]},
        {"name": "nothing", "type": "null"},
    ],
})  # fmt: skip
EVERY_WRITER = CompiledWriter(EVERY_TYPE.parsed)


class Colour(StrEnum):
    RED = "RED"
    GREEN = "GREEN"  # not a symbol of the schema


class Text(str):
    """A str subclass: fastavro takes it, the fast path leaves it to fastavro."""


_inner = st.fixed_dictionaries({
    "name": st.text(max_size=70),
    "again": st.none() | st.binary(min_size=4, max_size=4),
    "colour": st.none() | st.sampled_from([Colour.RED, "BLUE"]),
})  # fmt: skip
EVERY_RECORD = st.fixed_dictionaries({
    "flag": st.booleans(),
    "small": st.integers(-(2**31), 2**31 - 1),
    "big": st.integers(-(2**63), 2**63 - 1),
    "raw": st.binary(max_size=80),
    "four": st.binary(min_size=4, max_size=4),
    "colour": st.sampled_from(["RED", "BLUE", Colour.RED]),
    "counts": st.dictionaries(st.text(max_size=4), st.integers(-(2**63), 2**63 - 1), max_size=70),
    "maybe": st.none() | st.text(max_size=70),
    "when": st.datetimes(
        min_value=datetime(1, 1, 2),  # noqa: DTZ001 (hypothesis takes naive bounds)
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=6, minutes=30))]),
    ),
    "millis": st.none() | st.datetimes(timezones=st.just(UTC)) | st.integers(0, 2**40),
    "id": st.uuids() | st.uuids().map(str),
    "day": st.integers(-(2**31), 2**31 - 1),
    "inner": _inner,
    "inners": st.lists(_inner, max_size=70) | st.lists(_inner, max_size=3).map(tuple),
    "optional_inner": st.none() | _inner,
    "nothing": st.none(),
})  # fmt: skip

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**64), 2**64),
    st.floats(),
    st.text(max_size=10),
    st.integers(0xD800, 0xDFFF).map(chr),  # a lone surrogate: not UTF-8
    st.text(max_size=5).map(Text),
    st.binary(max_size=5),
    st.binary(min_size=4, max_size=4).map(bytearray),
    st.decimals(),
    st.datetimes(),  # naive
    st.uuids(),
    st.lists(st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.just({"-type": "other.Name"}),
    st.sampled_from([Colour.GREEN, "RED", "GREEN", "EXPORT", "x"]),
)


def _slots(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a value inside nested dicts and lists."""
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return []
    slots = []
    for key, item in items:
        slots.append((*path, key))
        slots.extend(_slots(item, (*path, key)))
    return slots


def _mutable(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _mutable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_mutable(item) for item in value]
    return value


@st.composite
def oddly_changed(draw: st.DrawFn, record: dict[str, Any]) -> dict[str, Any]:
    """`record` with a few values replaced by values of other types, or keys removed or added."""
    changed: dict[str, Any] = _mutable(copy.deepcopy(record))
    for _ in range(draw(st.integers(1, 3))):
        slots = _slots(changed)
        if not slots:
            break
        *parents, last = draw(st.sampled_from(slots))
        container = changed
        for key in parents:
            container = container[key]
        action = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if action == "replace":
            container[last] = copy.deepcopy(draw(ODD_VALUES))  # later edits may change it
        elif action == "delete" and isinstance(container, dict):
            del container[last]
        elif isinstance(container, dict):
            container[draw(st.sampled_from(["-type", "extra"]))] = "test.Inner"
    return changed


@settings(max_examples=300, deadline=None)
@given(EVERY_RECORD)
def test_every_handled_type_is_written_as_fastavro_writes_it(record: dict[str, Any]) -> None:
    assert assert_fastavro_bytes_or_none(EVERY_WRITER, EVERY_TYPE, record)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(EVERY_RECORD.flatmap(oddly_changed))
def test_odd_records_are_written_as_fastavro_writes_them_or_left_to_it(
    record: dict[str, Any],
) -> None:
    assert_fastavro_bytes_or_none(EVERY_WRITER, EVERY_TYPE, record)


SAMPLE_RECORD = sample_declaration(lines=3).model_dump()


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(oddly_changed(SAMPLE_RECORD))
def test_odd_declaration_records_are_written_as_fastavro_writes_them_or_left_to_it(
    record: dict[str, Any],
) -> None:
    assert_fastavro_bytes_or_none(
        WRITERS[SchemaKind.DECLARATION], SCHEMAS[SchemaKind.DECLARATION], record
    )


def test_what_fastavro_would_decide_is_left_to_it() -> None:
    record = copy.deepcopy(SAMPLE_RECORD)
    writer, schema = WRITERS[SchemaKind.DECLARATION], SCHEMAS[SchemaKind.DECLARATION]
    assert writer.write(record) == write_body(schema, record)
    for key, value in [
        ("functional_reference", Text("LRN")),  # a str subclass
        ("issue_time_offset_minutes", 2**31),  # past 32 bits: fastavro writes it anyway
        ("issue_time_offset_minutes", True),  # a bool is an int to fastavro
        ("declaration_number", "\udc80"),  # not UTF-8: fastavro refuses
        ("kind", "SMUGGLING"),  # not a symbol
        ("message_id", UUID(int=5).bytes),  # not a UUID
    ]:
        odd = {**record, key: value}
        assert writer.write(odd) is None, key
        assert_fastavro_bytes_or_none(writer, schema, odd)
    # A naive time is local time to fastavro: its own conversion is the one applied.
    naive = {**record, "issue_time": datetime(2026, 1, 1)}  # noqa: DTZ001
    assert assert_fastavro_bytes_or_none(writer, schema, naive)
    missing = {key: value for key, value in record.items() if key != "function"}
    assert writer.write(missing) is None  # fastavro writes the default
    assert isinstance(fastavro_body(schema, missing), bytes)
    assert writer.write([record]) is None


@pytest.mark.parametrize(
    "field_type",
    [
        "float",
        "double",
        ["null", "string", "long"],
        ["string", "long"],
        {"type": "fixed", "name": "Amount", "size": 8, "logicalType": "decimal", "precision": 9},
    ],
    ids=str,
)
def test_schemas_with_what_it_does_not_handle_are_left_to_fastavro(field_type: Any) -> None:
    schema = fastavro.parse_schema(
        {"type": "record", "name": "r", "fields": [{"name": "a", "type": field_type}]},
        named_schemas={},
    )
    assert isinstance(schema, dict)
    assert compile_writer(schema) is None


def test_a_recursive_schema_is_not_compiled() -> None:
    linked = CompiledSchema.from_definition({"type": "record", "name": "Node", "fields": [
        {"name": "next", "type": ["null", "Node"]},
    ]})  # fmt: skip
    assert compile_writer(linked.parsed) is None


@pytest.mark.parametrize("depth", [1, 15, 40])
def test_deeply_nested_arrays_are_written_or_left_to_fastavro(depth: int) -> None:
    schema: Any = "long"
    value: Any = 5
    for _ in range(depth):
        schema, value = {"type": "array", "items": schema}, [value]
    parsed = CompiledSchema.from_definition(
        {"type": "record", "name": "r", "fields": [{"name": "a", "type": schema}]}
    )
    compiled = compile_writer(parsed.parsed)
    assert compiled is None or compiled.write({"a": value}) == write_body(parsed, {"a": value})
    assert depth < 40 or compiled is None


def test_field_names_and_symbols_cannot_become_code() -> None:
    hostile = "x'}; import os; {'"
    schema = CompiledSchema.from_definition({"type": "record", "name": "r", "fields": [
        {"name": hostile, "type": "long"},
        {"name": "e", "type": {"type": "enum", "name": "E", "symbols": ["A", "B_import_os"]}},
    ]})  # fmt: skip
    compiled = CompiledWriter(schema.parsed)
    record = {hostile: 7, "e": "B_import_os"}
    assert compiled.write(record) == write_body(schema, record)
    assert "import" not in compiled.source.replace(repr(hostile), "")


def test_the_codec_encodes_without_fastavro(monkeypatch: pytest.MonkeyPatch) -> None:
    declaration = sample_declaration(lines=2)
    expected = CODEC.encode_declaration(declaration)
    receipt = sample_receipt(declaration, expected)
    expected_receipt = CODEC.encode_receipt(receipt)
    registry = InMemorySchemaRegistry()
    expected_confluent = Codec(registry=registry).encode_declaration(declaration)

    def refuse(*args: object) -> bytes:
        raise CodecError("fastavro path")

    monkeypatch.setattr(codec_module, "write_body", refuse)
    codec = Codec()
    assert codec.encode_declaration(declaration) == expected
    assert codec.encode_receipt(receipt) == expected_receipt
    assert Codec(registry=registry).encode_declaration(declaration) == expected_confluent
    unsure = declaration.model_copy(update={"functional_reference": Text("LRN-1")})
    with pytest.raises(CodecError, match="fastavro path"):
        codec.encode_declaration(unsure)
    monkeypatch.undo()
    assert codec.encode_declaration(unsure) == REFERENCE_CODEC.encode_declaration(unsure)


def test_the_largest_amounts_the_model_holds_are_written_as_fastavro_writes_them() -> None:
    item = sample_declaration(lines=1).goods_items[0]
    big = GoodsItem.model_validate(
        {**item.model_dump(), "quantity": MAX_QUANTITY, "net_mass_kg": None,
         "gross_mass_kg": MAX_QUANTITY, "value": MAX_MONEY}
    )  # fmt: skip
    record = sample_declaration(lines=1).model_copy(update={"goods_items": (big,)}).model_dump()
    assert assert_fastavro_bytes_or_none(
        WRITERS[SchemaKind.DECLARATION], SCHEMAS[SchemaKind.DECLARATION], record
    )
