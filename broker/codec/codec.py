"""`Codec`: canonical models to framed Avro bytes and back, the one entry point of this package.

Writes with the latest schema version of each kind; reads bytes written with any version it knows
(single-object framing names the writer by fingerprint) or that the registry knows (Confluent
framing names it by id), resolving them into the latest version. Decoded data is untrusted: it is
size-capped, length-checked and validated by the model like any other input. Bodies written with
the latest version are read by a compiled fast reader (`compiled_reader`) that checks the same
caps inline; whatever it is unsure of goes through the reference path, which decides. Likewise
models are written by a compiled writer (`compiled_writer`) that gives fastavro's bytes, or leaves
the record to fastavro.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final, TypeVar

from pydantic import BaseModel, ValidationError

from broker.codec.avro import Record, read_body, write_body
from broker.codec.compiled_reader import CompiledReader, compile_reader
from broker.codec.compiled_writer import CompiledWriter, compile_writer
from broker.codec.framing import (
    Framing,
    detect_framing,
    frame_confluent,
    frame_single_object,
    parse_confluent,
    parse_single_object,
)
from broker.codec.registry import SchemaRegistryClient
from broker.codec.schemas import CompiledSchema, SchemaKind, SchemaSet
from broker.errors import CodecError
from broker.model.decimals import DecimalInput
from broker.model.declaration import Declaration
from broker.model.receipt import Receipt
from broker.model.validation import problems_from

# Kafka's default largest record is 1 MB; a 1 000-line declaration is about 160 kB.
DEFAULT_MAX_MESSAGE_BYTES: Final = 1024 * 1024
_MAX_REFUSED_SCHEMAS: Final = 256  # registry schema ids remembered as refused

_Model = TypeVar("_Model", bound=BaseModel)


class Codec:
    """Encode and decode declarations and receipts as framed Avro.

    Single-object framing (`C3 01` + fingerprint) by default; Confluent framing (`00` + schema id)
    when a `registry` is given. Decoding accepts either framing (Confluent needs the registry).
    """

    def __init__(
        self,
        schema_dir: Path | None = None,
        registry: SchemaRegistryClient | None = None,
        *,
        max_message_bytes: int = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        if max_message_bytes < 1:
            raise CodecError(f"max_message_bytes must be positive, got {max_message_bytes}")
        self.schemas = SchemaSet(schema_dir)
        self.max_message_bytes = max_message_bytes
        self._registry = registry
        self._registered_ids: dict[str, int] = {}  # by subject
        self._registry_writers: dict[int, CompiledSchema] = {}
        self._refused_schemas: dict[int, str] = {}  # why, by schema id; oldest dropped first
        # Fast readers of the latest schemas, compiled on first use (a few ms each).
        self._compiled: dict[SchemaKind, CompiledReader | None] = {}
        self._writers: dict[SchemaKind, CompiledWriter | None] = {}

    def encode_declaration(self, declaration: Declaration, *, topic: str | None = None) -> bytes:
        """Framed Avro; `topic` (where the record goes) names the registry subject, if any."""
        return self._encode(SchemaKind.DECLARATION, declaration, topic)

    def decode_declaration(self, data: bytes) -> Declaration:
        return self._decode(SchemaKind.DECLARATION, data, Declaration)

    def encode_receipt(self, receipt: Receipt, *, topic: str | None = None) -> bytes:
        return self._encode(SchemaKind.RECEIPT, receipt, topic)

    def decode_receipt(self, data: bytes) -> Receipt:
        return self._decode(SchemaKind.RECEIPT, data, Receipt)

    def writer_fingerprint_hex(self, kind: SchemaKind | str) -> str:
        """Fingerprint of the schema `kind` is written with, as framed (for ce_dataschema)."""
        return self.schemas.latest(SchemaKind(kind)).fingerprint.hex()

    def writer_dataschema(self, kind: SchemaKind | str) -> str:
        """`ce_dataschema` of what `kind` is written with: a URN naming version and fingerprint."""
        return self.schemas.latest(SchemaKind(kind)).uri

    def _encode(self, kind: SchemaKind, model: BaseModel, topic: str | None) -> bytes:
        writer = self.schemas.latest(kind)
        record = model.model_dump()
        body = self._write_compiled(kind, writer.schema, record)
        if body is None:  # not written by the fast path: fastavro writes it, or says why not
            body = write_body(writer.schema, record)
        if self._registry is None:
            framed = frame_single_object(writer.fingerprint, body)
        else:
            framed = frame_confluent(self._registered_id(self._registry, kind, topic), body)
        if len(framed) > self.max_message_bytes:
            raise CodecError(
                f"{kind} encodes to {len(framed)} bytes, over the {self.max_message_bytes} limit"
            )
        return framed

    def _decode(self, kind: SchemaKind, data: bytes, model: type[_Model]) -> _Model:
        if len(data) > self.max_message_bytes:
            raise CodecError(
                f"message of {len(data)} bytes is over the {self.max_message_bytes} limit"
            )
        reader = self.schemas.latest(kind).schema
        writer, body = self._writer_and_body(kind, data)
        record = self._read_compiled(kind, writer, body) if writer is reader else None
        if record is None:  # not read by the fast path: the reference path decides and says why
            record = read_body(body, writer, reader)
        try:
            return model.model_validate(record, context=DecimalInput.UNSCALED_BYTES)
        except ValidationError as exc:
            problems = problems_from(exc)
            raise CodecError(
                f"decoded {kind} is invalid: {len(problems)} problem(s)", problems
            ) from exc

    def _read_compiled(
        self, kind: SchemaKind, latest: CompiledSchema, body: bytes
    ) -> Record | None:
        """The fast path for bodies written with the latest schema (see `compiled_reader`)."""
        if kind not in self._compiled:
            self._compiled[kind] = compile_reader(latest.parsed_for_reading)
        compiled = self._compiled[kind]
        return None if compiled is None else compiled.read(body)

    def _write_compiled(
        self, kind: SchemaKind, latest: CompiledSchema, record: Record
    ) -> bytes | None:
        """The fast path for writing (see `compiled_writer`): fastavro's bytes, or None."""
        if kind not in self._writers:
            self._writers[kind] = compile_writer(latest.parsed)
        compiled = self._writers[kind]
        return None if compiled is None else compiled.write(record)

    def _writer_and_body(self, kind: SchemaKind, data: bytes) -> tuple[CompiledSchema, bytes]:
        if detect_framing(data) is Framing.SINGLE_OBJECT:
            fingerprint, body = parse_single_object(data)
            version = self.schemas.by_fingerprint(fingerprint)
            if version.kind is not kind:
                raise CodecError(f"expected a {kind}, got bytes written as a {version.kind}")
            return version.schema, body
        schema_id, body = parse_confluent(data)
        writer = self._registry_writer(schema_id)
        if writer.full_name != self.schemas.latest(kind).schema.full_name:
            raise CodecError(f"expected a {kind}, schema id {schema_id} is {writer.full_name}")
        return writer, body

    def _registered_id(
        self, registry: SchemaRegistryClient, kind: SchemaKind, topic: str | None
    ) -> int:
        """Id of the latest `kind` schema in the registry, under the strategy's subject."""
        schema = self.schemas.latest(kind).schema
        subject = registry.subject_strategy.subject(topic, schema.full_name)
        if subject not in self._registered_ids:
            text = json.dumps(schema.definition, ensure_ascii=False)
            self._registered_ids[subject] = registry.register(subject, text)
        return self._registered_ids[subject]

    def _registry_writer(self, schema_id: int) -> CompiledSchema:
        """The writer schema registered as `schema_id`, compiled once; one of this node's own
        versions when the registry holds exactly its text (so the fast path reads it too)."""
        if self._registry is None:
            raise CodecError("Confluent-framed message, but this codec has no schema registry")
        if schema_id in self._refused_schemas:  # a refused schema costs a lookup, not a parse
            raise CodecError(self._refused_schemas[schema_id])
        if schema_id not in self._registry_writers:
            text = self._registry.get(schema_id)  # an outage raises a retriable error: not kept
            try:
                self._registry_writers[schema_id] = self._registry_schema(schema_id, text)
            except CodecError as exc:
                if len(self._refused_schemas) >= _MAX_REFUSED_SCHEMAS:
                    self._refused_schemas.pop(next(iter(self._refused_schemas)))
                self._refused_schemas[schema_id] = str(exc)
                raise
        return self._registry_writers[schema_id]

    def _registry_schema(self, schema_id: int, text: str) -> CompiledSchema:
        try:
            definition = json.loads(text)
        except ValueError as exc:
            raise CodecError(f"schema id {schema_id} is not JSON: {exc}") from exc
        except RecursionError as exc:
            raise CodecError(f"schema id {schema_id} is nested too deep") from exc
        if not isinstance(definition, dict):
            raise CodecError(f"schema id {schema_id} is not an Avro record schema")
        own = [v.schema for v in self.schemas.all() if v.schema.definition == definition]
        if own:
            return own[0]
        try:
            return CompiledSchema.from_definition(definition)
        except RecursionError as exc:  # a registered schema is text anybody with access wrote
            raise CodecError(f"schema id {schema_id} is nested too deep") from exc
