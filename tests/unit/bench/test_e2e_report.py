"""`bench e2e` report: the keys --json promises, the ratio of medians, the CPU projection."""

from __future__ import annotations

import argparse
import os

import pytest

from broker.bench import e2e
from broker.bench.e2e_transport import RoundResult


def _rounds() -> list[RoundResult]:
    # raw: 10,000 / 20,000 / 12,000 records/s; transport: 4,000 / 5,000 / 4,500
    return [
        RoundResult("raw_aiokafka", 10_000, 1.0, 0.3),
        RoundResult("transport", 4_000, 1.0, 0.8),
        RoundResult("transport", 5_000, 1.0, 1.0),
        RoundResult("raw_aiokafka", 20_000, 1.0, 0.6),
        RoundResult("raw_aiokafka", 12_000, 1.0, 0.36),
        RoundResult("transport", 4_500, 1.0, 0.9),
    ]


def test_transport_summary_reports_median_spread_and_ratio_of_medians() -> None:
    summary = e2e.transport_summary(_rounds())
    assert summary["raw_aiokafka_throughput_per_s"] == 12_000.0
    assert summary["raw_aiokafka_low_per_s"] == 10_000.0
    assert summary["raw_aiokafka_high_per_s"] == 20_000.0
    assert summary["raw_aiokafka_spread"] == pytest.approx(10_000 / 12_000, abs=1e-3)
    assert summary["transport_throughput_per_s"] == 4_500.0
    assert summary["transport_rounds"] == summary["raw_aiokafka_rounds"] == 3
    assert summary["ratio"] == round(4_500 / 12_000, 3)
    # rounds paired in order: 4,000/10,000, 5,000/20,000, 4,500/12,000
    assert (summary["ratio_low"], summary["ratio_high"]) == (0.25, 0.4)
    assert summary["transport_cpu_us_per_record"] == 200.0
    assert summary["raw_aiokafka_cpu_us_per_record"] == 30.0


def test_round_rate_and_cpu_per_record() -> None:
    result = RoundResult("raw_aiokafka", 3_000, 0.5, 0.15)
    assert result.rate == 6_000.0
    assert result.cpu_us_per_record == pytest.approx(50.0)
    assert RoundResult("transport", 0, 0.0, 0.0).rate == 0.0


def test_pipeline_cpu_per_declaration_counts_sender_and_every_receiver() -> None:
    run = e2e.Pipeline(500, seconds=2.0, sender_cpu_seconds=0.5, receivers_cpu_seconds=1.0)
    assert run.rate == 250.0
    assert run.cpu_us_per_declaration == 3_000.0
    assert e2e.projection(run.cpu_us_per_declaration, 4) == pytest.approx(4e6 / 3_000)
    assert e2e.projection(0.0, 4) == 0.0


def test_process_cpu_is_read_from_proc_and_gone_processes_count_nothing() -> None:
    sum(i * i for i in range(200_000))  # some CPU of our own
    user, kernel = e2e.process_cpu_seconds(os.getpid())
    assert user > 0
    assert kernel >= 0
    assert e2e.process_cpu_seconds(2**22 + 12_345) == (0.0, 0.0)  # above pid_max's default


def test_receivers_take_a_count_or_a_list() -> None:
    parser = argparse.ArgumentParser()
    e2e.add_arguments(parser)
    assert parser.parse_args([]).receivers == (1,)
    assert parser.parse_args(["--receivers", "1,2"]).receivers == (1, 2)
    for bad in ("0", "two", ""):
        with pytest.raises(SystemExit):
            parser.parse_args(["--receivers", bad])


def test_codec_ratios_come_from_the_codec_bench() -> None:
    ratios = e2e.codec_ratios()
    assert set(ratios) == {"decode_ratio", "encode_ratio"}
    assert all(value > 0 for value in ratios.values())
