"""`bench e2e --json` end to end on the test Kafka, tiny: it finishes, with every promised key."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.kafka_support import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(300)]


def test_bench_e2e_reports_both_sides_in_rounds_and_two_receiving_processes(
    kafka: KafkaEndpoint,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "broker", "bench", "e2e", "--json",
         "--bootstrap-servers", kafka.bootstrap_servers, "--count", "60",
         "--transport-count", "300", "--rounds", "2", "--round-seconds", "0.2",
         "--latency-seconds", "1", "--rate", "50", "--receivers", "1,2", "--timeout", "120"],
        capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    for key in ("throughput_per_s", "ratio", "ratio_batch", "p50_ms", "p99_ms", "decode_ratio"):
        assert result[key] > 0, key
    assert result["throughput_per_s"] == max(
        result["throughput_receivers_1_per_s"], result["throughput_receivers_2_per_s"]
    )
    assert result["raw_aiokafka_rounds"] == result["transport_rounds"] == 2
    assert result["raw_aiokafka_low_per_s"] <= result["raw_aiokafka_throughput_per_s"]
    assert result["transport_throughput_per_s"] <= result["transport_high_per_s"]
    assert result["ratio"] == pytest.approx(
        result["transport_throughput_per_s"] / result["raw_aiokafka_throughput_per_s"], abs=2e-3
    )
    assert result["cpu_us_receiving_receivers_2"] > 0
    assert (
        0 <= result["cpu_us_receiving_kernel_receivers_2"] <= result["cpu_us_receiving_receivers_2"]
    )
    assert result["projected_per_s_4_cores"] == pytest.approx(
        2 * result["projected_per_s_2_cores"], abs=0.2
    )
    assert 0 < result["latency_samples"] <= 50
    assert result["cpu_us_total_pure"] > result["cpu_us_parse_validate"] > 0
    # Delivery is apart from the pure stages: its CPU is user + kernel, and it waits for fsyncs.
    assert result["cpu_us_deliver"] == pytest.approx(
        result["cpu_us_deliver_user"] + result["cpu_us_deliver_kernel"], abs=0.2
    )
    assert result["cpu_us_deliver_wall"] > 0
    assert result["cpu_us_total"] == pytest.approx(
        result["cpu_us_total_pure"] + result["cpu_us_deliver"], abs=0.2
    )
