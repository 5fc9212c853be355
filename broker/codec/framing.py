"""The two Avro framings, as pure byte functions.

- Avro single-object encoding (Avro specification): `C3 01`, the 8-byte little-endian
  CRC-64-AVRO fingerprint of the writer schema's Parsing Canonical Form, then the Avro body.
  Self-describing without any server: the default between ILSTC nodes.
- Confluent wire format: magic byte `00`, the 4-byte big-endian schema id assigned by a schema
  registry, then the Avro body. Used when a node is configured with a registry.

Parsers return the header value and the body, and raise `CodecError` saying what is wrong.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

from broker.errors import CodecError

SINGLE_OBJECT_MAGIC: Final = b"\xc3\x01"
FINGERPRINT_SIZE: Final = 8
SINGLE_OBJECT_HEADER_SIZE: Final = len(SINGLE_OBJECT_MAGIC) + FINGERPRINT_SIZE

CONFLUENT_MAGIC: Final = b"\x00"
SCHEMA_ID_SIZE: Final = 4
CONFLUENT_HEADER_SIZE: Final = len(CONFLUENT_MAGIC) + SCHEMA_ID_SIZE
MAX_SCHEMA_ID: Final = 2**31 - 1  # registries hand out non-negative Java ints


class Framing(StrEnum):
    SINGLE_OBJECT = "single-object"
    CONFLUENT = "confluent"


def detect_framing(data: bytes) -> Framing:
    """Which framing `data` uses, from its first byte."""
    if data[:2] == SINGLE_OBJECT_MAGIC:
        return Framing.SINGLE_OBJECT
    if data[:1] == CONFLUENT_MAGIC:
        return Framing.CONFLUENT
    raise CodecError(
        f"unknown framing: starts with {data[:2].hex() or 'nothing'}, want c301 (Avro "
        "single-object) or 00 (Confluent wire format)"
    )


def frame_single_object(fingerprint: bytes, body: bytes) -> bytes:
    if len(fingerprint) != FINGERPRINT_SIZE:
        raise CodecError(f"a CRC-64-AVRO fingerprint has 8 bytes, got {len(fingerprint)}")
    return SINGLE_OBJECT_MAGIC + fingerprint + body


def parse_single_object(data: bytes) -> tuple[bytes, bytes]:
    """`(fingerprint, body)` of a single-object encoded message."""
    if len(data) < SINGLE_OBJECT_HEADER_SIZE:
        raise CodecError(
            f"truncated single-object header: {len(data)} bytes, need {SINGLE_OBJECT_HEADER_SIZE}"
        )
    if data[:2] != SINGLE_OBJECT_MAGIC:
        raise CodecError(f"wrong single-object magic {data[:2].hex()}, want c301")
    return data[2:SINGLE_OBJECT_HEADER_SIZE], data[SINGLE_OBJECT_HEADER_SIZE:]


def frame_confluent(schema_id: int, body: bytes) -> bytes:
    if not 0 <= schema_id <= MAX_SCHEMA_ID:
        raise CodecError(f"schema id {schema_id} is outside 0..{MAX_SCHEMA_ID}")
    return CONFLUENT_MAGIC + schema_id.to_bytes(SCHEMA_ID_SIZE, "big") + body


def parse_confluent(data: bytes) -> tuple[int, bytes]:
    """`(schema_id, body)` of a Confluent wire-format message."""
    if len(data) < CONFLUENT_HEADER_SIZE:
        raise CodecError(
            f"truncated Confluent header: {len(data)} bytes, need {CONFLUENT_HEADER_SIZE}"
        )
    if data[:1] != CONFLUENT_MAGIC:
        raise CodecError(f"wrong Confluent magic byte {data[:1].hex()}, want 00")
    schema_id = int.from_bytes(data[1:CONFLUENT_HEADER_SIZE], "big")
    if schema_id > MAX_SCHEMA_ID:
        raise CodecError(f"schema id {schema_id} is outside 0..{MAX_SCHEMA_ID}")
    return schema_id, data[CONFLUENT_HEADER_SIZE:]
