"""Apache Avro's own Java tools read what the codec writes, and agree on fingerprints.

`avro-tools fragtojson` renders the Avro body (framing stripped) as Avro JSON; the test maps that
JSON back through the schema (unions are `{"branch": value}`, bytes and fixed are strings of code
points 0-255, decimals are their unscaled bytes) and compares it with the model that was encoded.
`avro-tools fingerprint` must give the CRC-64-AVRO fingerprint that frames single-object messages.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import fastavro
import pytest
from pydantic import BaseModel

from broker.codec import Codec, SchemaKind, SchemaSet, SchemaVersion
from broker.codec.avro import write_body
from broker.codec.framing import parse_single_object
from broker.devkafka.maven import cache_root, resolve
from broker.model import Declaration, Receipt
from broker.model.samples import sample_declaration

pytestmark = pytest.mark.interop

AVRO_TOOLS_VERSION = "1.12.2"
GOLDEN = Path(__file__).resolve().parents[1] / "data" / "avro"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
FLAGS = ("--no-pretty", "--schema-file")  # fragtojson flags before the schema file


@pytest.fixture(scope="module")
def avro_tools() -> list[str]:
    """`java -jar avro-tools.jar`, fetched from Maven Central once into the cache."""
    if shutil.which("java") is None:
        pytest.skip("java is not installed: the Apache Avro Java tools cannot run")
    coordinate = f"org.apache.avro:avro-tools:{AVRO_TOOLS_VERSION}"
    lib = resolve([coordinate], cache_root() / f"avro-tools-{AVRO_TOOLS_VERSION}", transitive=False)
    return ["java", "-jar", str(lib / f"avro-tools-{AVRO_TOOLS_VERSION}.jar")]


def run(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def from_avro_json(schema: Any, value: Any, named: dict[str, Any]) -> Any:
    """Avro JSON (as fragtojson prints it) -> the canonical model's field values."""
    schema = named.get(schema, schema) if isinstance(schema, str) else schema
    if isinstance(schema, list):
        if value is None:
            return None
        ((branch_name, inner),) = value.items()
        branch = next(b for b in schema if avro_json_name(b) == branch_name)
        return from_avro_json(branch, inner, named)
    if isinstance(schema, str):  # primitive
        return value
    logical, kind = schema.get("logicalType"), schema["type"]
    if logical == "decimal":
        unscaled = int.from_bytes(value.encode("latin-1"), "big", signed=True)
        return Decimal(unscaled).scaleb(-schema["scale"])
    if logical == "timestamp-micros":
        return EPOCH + timedelta(microseconds=value)
    if kind == "fixed":
        return value.encode("latin-1")
    if kind == "record":
        return {
            field["name"]: from_avro_json(field["type"], value[field["name"]], named)
            for field in schema["fields"]
        }
    if kind == "array":
        return [from_avro_json(schema["items"], item, named) for item in value]
    if kind == "map":
        return {key: from_avro_json(schema["values"], item, named) for key, item in value.items()}
    return value  # enum symbols, uuid strings


def avro_json_name(branch: Any) -> str:
    """The key Avro JSON uses for a union branch: a primitive or a full type name."""
    if isinstance(branch, str):
        return branch
    return str(branch["name"]) if "name" in branch else str(branch["type"])


def golden(version: SchemaVersion) -> BaseModel:
    model = Declaration if version.kind is SchemaKind.DECLARATION else Receipt
    return model.model_validate_json(
        (GOLDEN / f"{version.kind}.v{version.version}.json").read_text(encoding="utf-8")
    )


def read_with_avro_tools(
    avro_tools: list[str], version: SchemaVersion, body: bytes, folder: Path
) -> dict[str, Any]:
    """The model field values avro-tools finds in `body`, read with `version`'s schema file."""
    fragment = folder / "body.avro"
    fragment.write_bytes(body)
    rendered = json.loads(
        run([*avro_tools, "fragtojson", *FLAGS, str(version.path), str(fragment)])
    )
    named: dict[str, Any] = {}
    schema = fastavro.parse_schema(dict(version.schema.definition), named_schemas=named)
    fields: dict[str, Any] = from_avro_json(schema, rendered, named)
    return fields


@pytest.mark.parametrize("version", SchemaSet().all(), ids=lambda v: v.path.name)
def test_avro_tools_reads_every_version_as_written(
    avro_tools: list[str], version: SchemaVersion, tmp_path: Path
) -> None:
    model = golden(version)
    body = write_body(version.schema, model.model_dump())
    assert type(model).model_validate(
        read_with_avro_tools(avro_tools, version, body, tmp_path)
    ) == (model)


def test_avro_tools_reads_a_codec_message_without_its_framing(
    avro_tools: list[str], tmp_path: Path
) -> None:
    codec = Codec()
    declaration = sample_declaration(lines=20)
    _, body = parse_single_object(codec.encode_declaration(declaration))
    latest = codec.schemas.latest(SchemaKind.DECLARATION)
    fields = read_with_avro_tools(avro_tools, latest, body, tmp_path)
    assert fields["goods_items"][0]["description"] == "笔记本电脑 14英寸 16GB内存"
    assert Declaration.model_validate(fields) == declaration


@pytest.mark.parametrize("version", SchemaSet().all(), ids=lambda v: v.path.name)
def test_avro_tools_fingerprint_is_the_one_framed(
    avro_tools: list[str], version: SchemaVersion
) -> None:
    # One file per run: the tool parses all its files into one namespace.
    output = run([*avro_tools, "fingerprint", str(version.path)])
    assert output.split() == [version.fingerprint.hex(), str(version.path)]
