"""Avro codec of the exchange (pure: no Kafka): schemas, framing, model <-> bytes.

`Codec` is the entry point; `framing` holds the byte-level single-object and Confluent framings;
`schemas` loads `schemas/*.avsc` once; `compatibility` checks Avro schema resolution rules.
"""

from broker.codec.codec import DEFAULT_MAX_MESSAGE_BYTES, Codec
from broker.codec.registry import InMemorySchemaRegistry, SchemaRegistryClient
from broker.codec.schemas import (
    CompiledSchema,
    SchemaKind,
    SchemaSet,
    SchemaVersion,
    default_schema_dir,
)
from broker.codec.subjects import SubjectNameStrategy

__all__ = [
    "DEFAULT_MAX_MESSAGE_BYTES",
    "Codec",
    "CompiledSchema",
    "InMemorySchemaRegistry",
    "SchemaKind",
    "SchemaRegistryClient",
    "SchemaSet",
    "SchemaVersion",
    "SubjectNameStrategy",
    "default_schema_dir",
]
