"""The Avro schemas of the exchange, loaded and parsed once, and their fingerprints.

Schemas live as `<kind>.v<N>.avsc` in the repository's `schemas/` folder (found next to the
`broker` package, or at `$CUSTOMS_BROKER_SCHEMAS`). They are data, not code: kept at the repository
root so that other languages' tools (avro-tools, registries) read the same files. An installed
wheel does not carry them; a deployment points `$CUSTOMS_BROKER_SCHEMAS` at a copy.

Each file is compiled into a `CompiledSchema` holding two fastavro-parsed forms:
- `parsed`, with every logical type, used to write;
- `parsed_for_reading`, where decimals and UUIDs are their plain base types (`bytes`, `string`),
  used to read untrusted bytes: the model's validators then build each decimal after checking its
  length (fastavro would spend a second or more turning a 100 kB "decimal" into a number), and
  pydantic parses UUID strings. The bytes on the wire are the same: logical types do not change
  the encoding.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

import fastavro
from fastavro.schema import fingerprint, to_parsing_canonical_form

from broker.errors import CodecError

SCHEMA_DIR_ENV: Final = "CUSTOMS_BROKER_SCHEMAS"
SCHEMA_URN_PREFIX: Final = "urn:ilstc:schema:"
_FILE_NAME = re.compile(r"^(?P<kind>[a-z][a-z0-9_]*)\.v(?P<version>[1-9][0-9]*)\.avsc$")
# Logical types that the codec reads as their base type and converts itself (see module doc).
_CONVERTED_BY_CODEC: Final = frozenset({"decimal", "uuid"})


class SchemaKind(StrEnum):
    """What a schema describes; the file name prefix in `schemas/`."""

    DECLARATION = "declaration"
    RECEIPT = "receipt"


def default_schema_dir() -> Path:
    """`$CUSTOMS_BROKER_SCHEMAS`, else `schemas/` at the root of this source tree."""
    explicit = os.environ.get(SCHEMA_DIR_ENV)
    if explicit:
        return Path(explicit)
    return Path(__file__).resolve().parents[2] / "schemas"


@dataclass(frozen=True, slots=True, eq=False)
class CompiledSchema:
    """One Avro schema parsed for writing and for reading, with its identity."""

    definition: Mapping[str, Any]  # the JSON as written, docs included
    parsed: dict[str, Any]
    parsed_for_reading: dict[str, Any]
    canonical_form: str  # Parsing Canonical Form (Avro specification)
    fingerprint: bytes  # CRC-64-AVRO of the canonical form, little-endian, as framed

    @classmethod
    def from_definition(cls, definition: Mapping[str, Any]) -> CompiledSchema:
        try:
            # Fresh named-type tables per schema: versions define the same names differently.
            parsed = fastavro.parse_schema(dict(definition), named_schemas={})
            for_reading = fastavro.parse_schema(_base_types_only(definition), named_schemas={})
            canonical = to_parsing_canonical_form(parsed)
        except (fastavro.schema.SchemaParseException, ValueError, TypeError, KeyError) as exc:
            raise CodecError(f"invalid Avro schema: {exc}") from exc
        if not (isinstance(parsed, dict) and isinstance(for_reading, dict)) or (
            parsed.get("type") != "record"
        ):
            raise CodecError("an exchanged Avro schema must be a record, not a bare type")
        return cls(
            definition=definition,
            parsed=parsed,
            parsed_for_reading=for_reading,
            canonical_form=canonical,
            fingerprint=bytes.fromhex(fingerprint(canonical, "CRC-64-AVRO")),
        )

    @property
    def full_name(self) -> str:
        return str(self.parsed["name"])


@dataclass(frozen=True, slots=True, eq=False)
class SchemaVersion:
    """A schema file of `schemas/`: which kind, which version, compiled."""

    kind: SchemaKind
    version: int
    path: Path
    schema: CompiledSchema

    @property
    def fingerprint(self) -> bytes:
        return self.schema.fingerprint

    @property
    def uri(self) -> str:
        """`ce_dataschema` naming this version (see `schema_uri`)."""
        return schema_uri(self.kind, self.version, self.fingerprint)


def schema_uri(kind: str, version: int, fingerprint: bytes) -> str:
    """The absolute URI naming one schema version and its CRC-64-AVRO fingerprint (little-endian
    bytes as in single-object framing, lower-case hex), e.g.
    `urn:ilstc:schema:declaration.v2:crc64-avro:0123456789abcdef`."""
    return f"{SCHEMA_URN_PREFIX}{kind}.v{version}:crc64-avro:{fingerprint.hex()}"


class SchemaSet:
    """Every schema version in a folder, parsed once; looked up by kind or by fingerprint."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_schema_dir()
        if not self.directory.is_dir():
            raise CodecError(
                f"schema folder {self.directory} not found; set ${SCHEMA_DIR_ENV} to the "
                "folder holding declaration.v1.avsc etc."
            )
        versions = sorted(
            (_load(path) for path in self.directory.glob("*.avsc")),
            key=lambda v: (v.kind, v.version),
        )
        self._by_kind: dict[SchemaKind, tuple[SchemaVersion, ...]] = {
            kind: tuple(v for v in versions if v.kind is kind) for kind in SchemaKind
        }
        self._by_fingerprint = {v.fingerprint: v for v in versions}
        if len(self._by_fingerprint) != len(versions):
            raise CodecError(f"two schema files in {self.directory} have the same fingerprint")
        for kind, kept in self._by_kind.items():
            if not kept:
                raise CodecError(f"no {kind}.v<N>.avsc in {self.directory}")

    def versions(self, kind: SchemaKind) -> tuple[SchemaVersion, ...]:
        """Every version of `kind`, oldest first."""
        return self._by_kind[kind]

    def latest(self, kind: SchemaKind) -> SchemaVersion:
        return self._by_kind[kind][-1]

    def all(self) -> tuple[SchemaVersion, ...]:
        return tuple(v for kind in SchemaKind for v in self._by_kind[kind])

    def by_fingerprint(self, fingerprint: bytes) -> SchemaVersion:
        try:
            return self._by_fingerprint[fingerprint]
        except KeyError:
            raise CodecError(f"unknown writer schema fingerprint {fingerprint.hex()}") from None


def _load(path: Path) -> SchemaVersion:
    match = _FILE_NAME.match(path.name)
    if match is None:
        raise CodecError(f"schema file {path.name} is not named <kind>.v<N>.avsc")
    try:
        kind = SchemaKind(match["kind"])
    except ValueError:
        raise CodecError(f"schema file {path.name}: unknown kind {match['kind']!r}") from None
    try:
        definition = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CodecError(f"cannot read schema file {path}: {exc}") from exc
    if not isinstance(definition, dict):
        raise CodecError(f"schema file {path.name}: an exchanged schema must be a record")
    return SchemaVersion(
        kind=kind,
        version=int(match["version"]),
        path=path,
        schema=CompiledSchema.from_definition(definition),
    )


def _base_types_only(node: Any) -> Any:
    """A copy of a schema definition with the codec-converted logical types removed."""
    if isinstance(node, dict):
        if node.get("logicalType") in _CONVERTED_BY_CODEC:
            return node["type"]
        return {key: _base_types_only(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_base_types_only(value) for value in node]
    return node
