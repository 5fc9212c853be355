"""The codec: models to framed Avro and back, across schema versions and both framings."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings

from broker.codec import Codec, CompiledSchema, InMemorySchemaRegistry, SchemaKind
from broker.codec.avro import write_body
from broker.codec.framing import frame_confluent, frame_single_object, parse_single_object
from broker.errors import CodecError
from broker.model import Declaration, Receipt
from broker.model.samples import sample_declaration, sample_receipt
from tests.strategies import declarations, receipts

CODEC = Codec()


def test_sample_round_trips_with_single_object_framing() -> None:
    declaration = sample_declaration(lines=20)
    data = CODEC.encode_declaration(declaration)
    assert data[:2] == b"\xc3\x01"
    assert data[2:10].hex() == CODEC.writer_fingerprint_hex(SchemaKind.DECLARATION)
    assert CODEC.decode_declaration(data) == declaration


def test_receipt_round_trips() -> None:
    receipt = sample_receipt(sample_declaration(lines=1), b"x", accepted=False)
    assert CODEC.decode_receipt(CODEC.encode_receipt(receipt)) == receipt


@settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(declarations())
def test_any_valid_declaration_round_trips_exactly(declaration: Declaration) -> None:
    decoded = CODEC.decode_declaration(CODEC.encode_declaration(declaration))
    assert decoded == declaration
    assert decoded.local_issue_time == declaration.local_issue_time
    assert decoded.local_issue_time.utcoffset() == declaration.local_issue_time.utcoffset()
    assert decoded.model_dump_json() == declaration.model_dump_json()


@settings(max_examples=50, deadline=None)
@given(receipts())
def test_any_valid_receipt_round_trips_exactly(receipt: Receipt) -> None:
    assert CODEC.decode_receipt(CODEC.encode_receipt(receipt)) == receipt


def test_v1_bytes_are_read_into_the_latest_model() -> None:
    declaration = sample_declaration(lines=2)
    (v1,) = [v for v in CODEC.schemas.versions(SchemaKind.DECLARATION) if v.version == 1]
    data = frame_single_object(v1.fingerprint, write_body(v1.schema, declaration.model_dump()))
    decoded = CODEC.decode_declaration(data)
    assert decoded.consignment_ucr is None  # the v2 field's default
    assert decoded == declaration.model_copy(update={"consignment_ucr": None})


def test_a_receipt_is_not_decoded_as_a_declaration() -> None:
    data = CODEC.encode_receipt(sample_receipt(sample_declaration(lines=1), b"x"))
    with pytest.raises(CodecError, match="expected a declaration, got bytes written as a receipt"):
        CODEC.decode_declaration(data)


def test_decoded_data_is_validated_like_any_input() -> None:
    record = sample_declaration(lines=2).model_dump()
    record["goods_items"][1]["hs6"] = "770100"  # well-formed Avro, invalid declaration
    record["goods_items"][1]["origin_country"] = "XX"
    latest = CODEC.schemas.latest(SchemaKind.DECLARATION)
    data = frame_single_object(latest.fingerprint, write_body(latest.schema, record))
    with pytest.raises(CodecError, match="2 problem") as caught:
        CODEC.decode_declaration(data)
    assert [p.field for p in caught.value.problems] == [
        "goods_items.1.hs6",
        "goods_items.1.origin_country",
    ]


def test_registry_framing_registers_once_under_the_record_name() -> None:
    registry = InMemorySchemaRegistry()
    codec = Codec(registry=registry)
    declaration = sample_declaration(lines=3)
    first, second = codec.encode_declaration(declaration), codec.encode_declaration(declaration)
    assert first == second
    assert first[:5] == b"\x00\x00\x00\x00\x01"
    assert registry.subject_versions("org.ilstc.customs.Declaration") == (1,)
    assert codec.decode_declaration(first) == declaration
    # A node without a registry still reads single-object bytes, and refuses Confluent ones.
    assert codec.decode_declaration(CODEC.encode_declaration(declaration)) == declaration
    with pytest.raises(CodecError, match="no schema registry"):
        CODEC.decode_declaration(first)


def test_registry_supplies_a_writer_schema_this_node_does_not_have() -> None:
    """A newer peer writes v3 (one more optional field): this node resolves it into v2."""
    registry = InMemorySchemaRegistry()
    v3 = copy.deepcopy(dict(CODEC.schemas.latest(SchemaKind.DECLARATION).schema.definition))
    v3["fields"].append(
        {"name": "route_id", "type": ["null", "string"], "default": None, "doc": "Route."}
    )
    schema_id = registry.register("org.ilstc.customs.Declaration", json.dumps(v3))
    declaration = sample_declaration(lines=1)
    newer = Codec(registry=registry)
    record = declaration.model_dump() | {"route_id": "CN-LA-TH/2"}
    body = write_body(CompiledSchema.from_definition(v3), record)
    assert newer.decode_declaration(frame_confluent(schema_id, body)) == declaration


def test_registry_ids_of_other_records_or_unknown_ids_are_refused() -> None:
    registry = InMemorySchemaRegistry()
    codec = Codec(registry=registry)
    receipt_bytes = codec.encode_receipt(sample_receipt(sample_declaration(lines=1), b"x"))
    with pytest.raises(CodecError, match="expected a declaration, schema id 1 is"):
        codec.decode_declaration(receipt_bytes)
    with pytest.raises(CodecError, match="schema id 7 is not registered"):
        codec.decode_declaration(frame_confluent(7, b""))


def test_messages_over_the_limit_are_refused_both_ways() -> None:
    small = Codec(max_message_bytes=600)
    with pytest.raises(CodecError, match="over the 600 limit"):
        small.encode_declaration(sample_declaration(lines=20))
    data = CODEC.encode_declaration(sample_declaration(lines=20))
    with pytest.raises(CodecError, match="over the 600 limit"):
        small.decode_declaration(data)
    with pytest.raises(CodecError, match="must be positive"):
        Codec(max_message_bytes=0)


def test_fingerprint_hex_names_the_latest_writer() -> None:
    data = CODEC.encode_receipt(sample_receipt(sample_declaration(lines=1), b"x"))
    fingerprint, _ = parse_single_object(data)
    assert CODEC.writer_fingerprint_hex("receipt") == fingerprint.hex()


class _CountingRegistry(InMemorySchemaRegistry):
    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, schema_id: int) -> str:
        self.gets += 1
        return super().get(schema_id)


@pytest.mark.parametrize("depth", [700, 6000])  # past the schema walk; past json.loads itself
def test_a_registered_schema_nested_too_deep_is_a_codec_error_remembered_per_id(
    depth: int,
) -> None:
    # Whoever can write the registry chose this text: a RecursionError would make every record
    # framed with it an internal error with a traceback, and cost a parse each time.
    registry = _CountingRegistry()
    nested = '{"type": "array", "items": ' * depth + '"string"' + "}" * depth
    text = (
        '{"type": "record", "name": "Declaration", "namespace": "org.ilstc.customs",'
        f' "fields": [{{"name": "f", "type": {nested}}}]}}'
    )
    schema_id = registry.register("deep", text)
    codec = Codec(registry=registry)
    for _ in range(3):
        with pytest.raises(CodecError, match=f"schema id {schema_id} is nested too deep"):
            codec.decode_declaration(frame_confluent(schema_id, b"\x00"))
    assert registry.gets == 1
