"""Schema registry seen by the codec: register a schema under a subject, fetch one by id.

The codec calls it once per schema and subject and caches the answer, so a blocking HTTP client
behind this protocol (`broker.codec.confluent_registry.ConfluentSchemaRegistry`) stays off the
hot path. `subject_strategy` says how the codec names subjects. `InMemorySchemaRegistry` is the
twin for tests and single-process runs; it numbers schemas from 1 and gives an identical schema
text the same id, as Confluent's does.
"""

from __future__ import annotations

from typing import Protocol

from broker.codec.subjects import SubjectNameStrategy
from broker.errors import CodecError


class SchemaRegistryClient(Protocol):
    @property
    def subject_strategy(self) -> SubjectNameStrategy:
        """How the codec names the subject a schema is registered under."""

    def register(self, subject: str, schema: str) -> int:
        """Id of `schema` (Avro JSON text) under `subject`, registering it if new."""

    def get(self, schema_id: int) -> str:
        """The Avro JSON text registered as `schema_id`; `CodecError` when unknown."""


class InMemorySchemaRegistry:
    """A schema registry held in this process (no compatibility checks: see docs/schemas.md)."""

    def __init__(self, subject_strategy: SubjectNameStrategy = SubjectNameStrategy.RECORD) -> None:
        self.subject_strategy = subject_strategy
        self._schemas: list[str] = []
        self._subjects: dict[str, list[int]] = {}

    def register(self, subject: str, schema: str) -> int:
        try:
            schema_id = self._schemas.index(schema) + 1
        except ValueError:
            self._schemas.append(schema)
            schema_id = len(self._schemas)
        versions = self._subjects.setdefault(subject, [])
        if schema_id not in versions:
            versions.append(schema_id)
        return schema_id

    def get(self, schema_id: int) -> str:
        if not 1 <= schema_id <= len(self._schemas):
            raise CodecError(f"schema id {schema_id} is not registered")
        return self._schemas[schema_id - 1]

    def subject_versions(self, subject: str) -> tuple[int, ...]:
        """Schema ids registered under `subject`, oldest first."""
        return tuple(self._subjects.get(subject, ()))
