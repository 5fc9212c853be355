"""The signing benchmark runs and reports what it promises (timing goals are not tested here)."""

from __future__ import annotations

import argparse

from broker.bench import cli, signing


def test_signing_benchmark_is_registered_and_reports_ratios() -> None:
    assert cli.BENCHMARKS["signing"] == "broker.bench.signing"
    parser = argparse.ArgumentParser()
    signing.add_arguments(parser)
    result = signing.run(parser.parse_args(["--messages", "20", "--rounds", "1", "--batch", "7"]))
    names = ("sign_us", "verify_us", "batch_sign_us", "batch_verify_us")
    timings = {name: result[name] for name in (*names, "raw_sign_us", "raw_verify_us")}
    floats = {name: value for name, value in timings.items() if isinstance(value, float)}
    assert floats == timings
    assert min(floats.values()) > 0
    assert result["verify_ratio"] == floats["verify_us"] / floats["raw_verify_us"]
    assert result["sign_ratio"] == floats["sign_us"] / floats["raw_sign_us"]
    assert result["batch_verify_ratio"] == floats["batch_verify_us"] / floats["raw_verify_us"]
    assert result["batch_sign_ratio"] == floats["batch_sign_us"] / floats["raw_sign_us"]
