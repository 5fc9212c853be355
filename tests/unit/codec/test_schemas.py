"""Schema files: loaded once, named by kind and version, identified by CRC-64-AVRO fingerprint."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from broker.codec import SchemaKind, SchemaSet, default_schema_dir
from broker.codec.schemas import SCHEMA_DIR_ENV
from broker.errors import CodecError


def crc64_avro(data: bytes) -> bytes:
    """CRC-64-AVRO as the Avro specification writes it in Java, little-endian as framed."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp.to_bytes(8, "little")


def test_every_kept_version_is_loaded_oldest_first() -> None:
    schemas = SchemaSet()
    assert [v.version for v in schemas.versions(SchemaKind.DECLARATION)] == [1, 2, 3]
    assert [v.version for v in schemas.versions(SchemaKind.RECEIPT)] == [1]
    assert schemas.latest(SchemaKind.DECLARATION).version == 3
    assert (
        schemas.latest(SchemaKind.DECLARATION).schema.full_name == "org.ilstc.customs.Declaration"
    )


def test_fingerprint_is_crc64_avro_of_the_parsing_canonical_form() -> None:
    for version in SchemaSet().all():
        canonical = version.schema.canonical_form
        assert version.fingerprint == crc64_avro(canonical.encode())
        assert '"doc"' not in canonical
        assert "logicalType" not in canonical
        assert SchemaSet().by_fingerprint(version.fingerprint).path == version.path


def test_crc64_avro_of_an_empty_string_is_the_empty_constant() -> None:
    # The Avro specification: the fingerprint of no bytes is the EMPTY constant itself.
    assert crc64_avro(b"") == (0xC15D213AA4D7A795).to_bytes(8, "little")


def test_versions_differ_in_fingerprint() -> None:
    fingerprints = {v.fingerprint for v in SchemaSet().all()}
    assert len(fingerprints) == len(SchemaSet().all())


def test_unknown_fingerprint_is_a_codec_error() -> None:
    with pytest.raises(CodecError, match="unknown writer schema fingerprint 0000000000000000"):
        SchemaSet().by_fingerprint(bytes(8))


def test_default_folder_is_the_repository_schemas_or_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    assert (default_schema_dir() / "declaration.v2.avsc").is_file()
    monkeypatch.setenv(SCHEMA_DIR_ENV, str(tmp_path))
    assert default_schema_dir() == tmp_path


def copy_schemas(tmp_path: Path) -> Path:
    folder = tmp_path / "schemas"
    shutil.copytree(default_schema_dir(), folder)
    return folder


@pytest.mark.parametrize(
    ("name", "text", "reason"),
    [
        ("declaration-v3.avsc", "{}", "not named <kind>.v<N>.avsc"),
        ("invoice.v1.avsc", "{}", "unknown kind 'invoice'"),
        ("declaration.v3.avsc", "{not json", "cannot read schema file"),
        (
            "declaration.v3.avsc",
            '{"type": "record", "name": "X", "fields": [{"name": "a", "type": "Nope"}]}',
            "invalid Avro schema",
        ),
        ("declaration.v3.avsc", '{"type": "string"}', "must be a record"),
        ("declaration.v3.avsc", '"string"', "must be a record"),
    ],
)
def test_bad_schema_files_are_refused(tmp_path: Path, name: str, text: str, reason: str) -> None:
    folder = copy_schemas(tmp_path)
    (folder / name).write_text(text, encoding="utf-8")
    with pytest.raises(CodecError, match=reason):
        SchemaSet(folder)


def test_a_copy_with_the_same_fingerprint_is_refused(tmp_path: Path) -> None:
    folder = copy_schemas(tmp_path)
    definition = json.loads((folder / "receipt.v1.avsc").read_text(encoding="utf-8"))
    definition["doc"] = "only the doc differs, so the canonical form is the same"
    (folder / "receipt.v2.avsc").write_text(json.dumps(definition), encoding="utf-8")
    with pytest.raises(CodecError, match="same fingerprint"):
        SchemaSet(folder)


def test_missing_folder_or_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CodecError, match="not found"):
        SchemaSet(tmp_path / "nowhere")
    folder = copy_schemas(tmp_path)
    (folder / "receipt.v1.avsc").unlink()
    with pytest.raises(CodecError, match=r"no receipt\.v<N>\.avsc"):
        SchemaSet(folder)
