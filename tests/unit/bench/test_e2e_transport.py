"""`bench e2e`'s batch-signed transport side: its summary beside raw aiokafka."""

from __future__ import annotations

from broker.bench.e2e_transport import RAW, TRANSPORT, TRANSPORT_BATCH, RoundResult, batch_summary


def test_batch_summary_is_the_ratio_of_medians_to_raw_and_its_neighbouring_extremes() -> None:
    rounds = [  # raw 10,000 / 20,000 / 12,000 records/s; batch 9,000 / 10,000 / 11,000
        RoundResult(RAW, 10_000, 1.0, 0.3),
        RoundResult(TRANSPORT, 4_000, 1.0, 0.8),
        RoundResult(TRANSPORT_BATCH, 9_000, 1.0, 0.45),
        RoundResult(TRANSPORT_BATCH, 10_000, 1.0, 0.5),
        RoundResult(TRANSPORT, 5_000, 1.0, 1.0),
        RoundResult(RAW, 20_000, 1.0, 0.6),
        RoundResult(RAW, 12_000, 1.0, 0.36),
        RoundResult(TRANSPORT, 4_500, 1.0, 0.9),
        RoundResult(TRANSPORT_BATCH, 11_000, 1.0, 0.55),
    ]
    summary = batch_summary(rounds)
    assert summary["transport_batch_throughput_per_s"] == 10_000.0
    assert (summary["transport_batch_low_per_s"], summary["transport_batch_high_per_s"]) == (
        9_000.0,
        11_000.0,
    )
    assert summary["transport_batch_spread"] == 0.2
    assert summary["transport_batch_rounds"] == 3
    assert summary["transport_batch_cpu_us_per_record"] == 50.0
    assert summary["ratio_batch"] == round(10_000 / 12_000, 3)
    assert summary["ratio_batch_low"] == 0.5  # 10,000 beside raw's 20,000
    assert summary["ratio_batch_high"] == round(11_000 / 12_000, 3)


def test_no_batch_side_no_batch_figures() -> None:
    assert (
        batch_summary([RoundResult(RAW, 10, 1.0, 0.1), RoundResult(TRANSPORT, 5, 1.0, 0.1)]) == {}
    )
