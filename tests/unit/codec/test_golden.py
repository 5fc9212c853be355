"""Golden vectors: for every schema version, model JSON -> exact framed bytes, and back.

`tests/data/avro/<kind>.v<N>.json` is the model (hand-checked); `<kind>.v<N>.hex` the single-object
encoded bytes written with that version's schema. Bytes that change mean the wire format changed:
every node in the corridor would notice. Regenerate only on purpose:
`CUSTOMS_BROKER_UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/codec/test_golden.py`.
"""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest
from pydantic import BaseModel

from broker.codec import Codec, SchemaKind, SchemaSet, SchemaVersion
from broker.codec.avro import write_body
from broker.codec.framing import frame_single_object
from broker.model import Declaration, Receipt

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "avro"
MODELS: dict[SchemaKind, type[Declaration] | type[Receipt]] = {
    SchemaKind.DECLARATION: Declaration,
    SchemaKind.RECEIPT: Receipt,
}
VERSIONS = SchemaSet().all()


def golden_model(version: SchemaVersion) -> BaseModel:
    text = (GOLDEN / f"{version.kind}.v{version.version}.json").read_text(encoding="utf-8")
    return MODELS[version.kind].model_validate_json(text)


def encode_with(version: SchemaVersion, model: BaseModel) -> bytes:
    """Framed bytes of `model` written with `version` (fields it lacks are not written)."""
    return frame_single_object(version.fingerprint, write_body(version.schema, model.model_dump()))


def golden_bytes(version: SchemaVersion, model: BaseModel) -> bytes:
    path = GOLDEN / f"{version.kind}.v{version.version}.hex"
    if os.environ.get("CUSTOMS_BROKER_UPDATE_GOLDEN"):
        path.write_text(textwrap.fill(encode_with(version, model).hex(), 64) + "\n")
    return bytes.fromhex(path.read_text(encoding="ascii"))


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v.kind}.v{v.version}")
def test_model_encodes_to_the_golden_bytes(version: SchemaVersion) -> None:
    model = golden_model(version)
    assert encode_with(version, model) == golden_bytes(version, model)


@pytest.mark.parametrize("version", VERSIONS, ids=lambda v: f"{v.kind}.v{v.version}")
def test_golden_bytes_decode_to_the_model(version: SchemaVersion) -> None:
    model = golden_model(version)
    codec = Codec()
    data = golden_bytes(version, model)
    decoded = (
        codec.decode_declaration(data)
        if version.kind is SchemaKind.DECLARATION
        else codec.decode_receipt(data)
    )
    assert decoded == model
    assert decoded.model_dump_json() == model.model_dump_json()


def test_the_codec_writes_the_latest_golden_bytes() -> None:
    codec = Codec()
    for kind in SchemaKind:
        latest = codec.schemas.latest(kind)
        model = golden_model(latest)
        encoded = (
            codec.encode_declaration(model)
            if isinstance(model, Declaration)
            else codec.encode_receipt(model)  # type: ignore[arg-type]
        )
        assert encoded == golden_bytes(latest, model)


def test_the_myanmar_vector_restores_local_time() -> None:
    (v2,) = [v for v in VERSIONS if (v.kind, v.version) == (SchemaKind.DECLARATION, 2)]
    declaration = Codec().decode_declaration(golden_bytes(v2, golden_model(v2)))
    assert declaration.local_issue_time.isoformat() == "2025-11-03T14:05:09.123456+06:30"
