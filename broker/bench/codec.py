"""Avro codec: encode and decode a declaration, beside plain fastavro on the same record dict.

The project's `encode` is model -> record dict -> Avro body -> framed bytes; its `decode` is
framed bytes -> body -> record -> validated model (decoded data is untrusted, so it is fully
validated). The plain fastavro pair writes the same record dict with `schemaless_writer` and reads
it back with `schemaless_reader` (no framing, no validation): the floor the codec is measured
against. The four operations run interleaved, in rounds, and each keeps its best round, so
another process stealing the CPU for a moment does not skew one side only.

Encode stages are timed in the same rounds too: the model dump, the compiled writer
(`compiled_writer`) and fastavro writing the same record; `reference_encode` is what `encode` did
before the compiled writer (model dump, fastavro, framing).

Decode stages are timed in the same rounds: the compiled fast reader (`compiled_reader`), and the
reference path it stands in for (the limits walk, then fastavro without the decimal and UUID
logical types), then model validation of the record; `reference_decode` is that whole path.
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path
from typing import Any

import fastavro

from broker.bench.timing import best_seconds
from broker.codec import Codec, SchemaKind
from broker.codec.avro import check_limits, read_body
from broker.codec.compiled_reader import CompiledReader
from broker.codec.compiled_writer import CompiledWriter
from broker.codec.framing import frame_single_object, parse_single_object
from broker.errors import ConfigError
from broker.model import Declaration
from broker.model.decimals import DecimalInput
from broker.model.samples import sample_declaration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lines", type=int, default=20, help="goods lines (default 20)")
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds (default 15)")
    parser.add_argument("--batch", type=int, default=100, help="calls per round (default 100)")
    parser.add_argument("--schema-dir", type=Path, default=None, help="folder of .avsc files")


def run(args: argparse.Namespace) -> dict[str, float | int | str]:
    if args.lines < 1 or args.rounds < 1 or args.batch < 1:
        raise ConfigError("--lines, --rounds and --batch must be positive")
    codec = Codec(schema_dir=args.schema_dir)
    declaration = sample_declaration(args.lines)
    framed = codec.encode_declaration(declaration)
    latest = codec.schemas.latest(SchemaKind.DECLARATION).schema
    schema = latest.parsed
    record = declaration.model_dump()
    body = _plain_write(schema, record)
    if parse_single_object(framed)[1] != body:
        raise ConfigError("the codec and plain fastavro wrote different bodies: not comparable")
    compiled = CompiledReader(latest.parsed_for_reading)
    writer = CompiledWriter(schema)
    fingerprint = codec.schemas.latest(SchemaKind.DECLARATION).fingerprint

    def reference_encode() -> bytes:
        """What `encode` did before the compiled writer."""
        return frame_single_object(fingerprint, _plain_write(schema, declaration.model_dump()))

    read_record = read_body(body, latest, latest)

    def reference_decode() -> Declaration:
        """What `decode` did before the compiled reader, framing apart."""
        return Declaration.model_validate(
            read_body(body, latest, latest), context=DecimalInput.UNSCALED_BYTES
        )

    best = best_seconds(
        {
            "encode": lambda: codec.encode_declaration(declaration),
            "decode": lambda: codec.decode_declaration(framed),
            "fastavro_encode": lambda: _plain_write(schema, record),
            "fastavro_decode": lambda: fastavro.schemaless_reader(io.BytesIO(body), schema),
            "reference_decode": reference_decode,
            "reference_encode": reference_encode,
            "stage_model_dump": declaration.model_dump,
            "stage_compiled_write": lambda: writer.write(record),
            "stage_fastavro_write": lambda: _plain_write(schema, record),
            "stage_compiled_read": lambda: compiled.read(body),
            "stage_limits_walk": lambda: check_limits(body, latest),
            "stage_fastavro_read": lambda: fastavro.schemaless_reader(
                io.BytesIO(body), latest.parsed_for_reading
            ),
            "stage_validate": lambda: Declaration.model_validate(
                read_record, context=DecimalInput.UNSCALED_BYTES
            ),
        },
        rounds=args.rounds,
        batch=args.batch,
    )
    micros = {name: seconds * 1e6 for name, seconds in best.items()}
    stages = {
        f"decode_{name}_us": micros[name]
        for name in (
            "stage_compiled_read",
            "stage_limits_walk",
            "stage_fastavro_read",
            "stage_validate",
        )
    }
    stages |= {
        f"encode_{name}_us": micros[name]
        for name in ("stage_model_dump", "stage_compiled_write", "stage_fastavro_write")
    }
    return {
        "lines": args.lines,
        "message_bytes": len(framed),
        "encode_us": micros["encode"],
        "decode_us": micros["decode"],
        "fastavro_encode_us": micros["fastavro_encode"],
        "fastavro_decode_us": micros["fastavro_decode"],
        "encode_ratio": micros["encode"] / micros["fastavro_encode"],
        "decode_ratio": micros["decode"] / micros["fastavro_decode"],
        "reference_decode_us": micros["reference_decode"],
        "reference_decode_ratio": micros["reference_decode"] / micros["fastavro_decode"],
        "reference_encode_us": micros["reference_encode"],
        "reference_encode_ratio": micros["reference_encode"] / micros["fastavro_encode"],
        **stages,
    }


def _plain_write(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, record, disable_tuple_notation=True)
    return out.getvalue()
