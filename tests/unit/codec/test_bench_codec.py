"""The codec benchmark runs and reports what the CLI table and --json promise."""

from __future__ import annotations

import argparse

from broker.bench import cli, codec


def test_codec_benchmark_is_registered() -> None:
    assert cli.BENCHMARKS["codec"] == "broker.bench.codec"


def test_codec_benchmark_reports_times_and_ratios() -> None:
    parser = argparse.ArgumentParser()
    codec.add_arguments(parser)
    result = codec.run(parser.parse_args(["--lines", "3", "--rounds", "1", "--batch", "2"]))
    assert result["lines"] == 3
    times = {key: value for key, value in result.items() if isinstance(value, float)}
    assert set(times) == {
        "encode_us",
        "decode_us",
        "fastavro_encode_us",
        "fastavro_decode_us",
        "encode_ratio",
        "decode_ratio",
        "reference_decode_us",
        "reference_decode_ratio",
        "decode_stage_compiled_read_us",
        "decode_stage_limits_walk_us",
        "decode_stage_fastavro_read_us",
        "decode_stage_validate_us",
        "reference_encode_us",
        "reference_encode_ratio",
        "encode_stage_model_dump_us",
        "encode_stage_compiled_write_us",
        "encode_stage_fastavro_write_us",
    }
    assert all(value > 0 for value in times.values())
    assert times["encode_ratio"] == times["encode_us"] / times["fastavro_encode_us"]
    assert times["decode_ratio"] == times["decode_us"] / times["fastavro_decode_us"]
