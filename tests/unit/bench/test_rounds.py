"""The pure parts that keep `bench e2e` honest: round order, median and spread, bounded waits."""

from __future__ import annotations

import asyncio

import pytest

from broker.bench.rounds import BenchTimeout, alternating, ratio_of_medians, summarize, within


def test_rounds_alternate_and_each_pair_reverses_the_one_before() -> None:
    assert alternating(["raw", "path"], 4) == [
        "raw", "path", "path", "raw", "raw", "path", "path", "raw",
    ]  # fmt: skip


def test_every_side_gets_the_same_number_of_rounds_in_every_position() -> None:
    order = alternating(["a", "b", "c"], 6)
    assert [order.count(side) for side in "abc"] == [6, 6, 6]
    firsts = [order[i] for i in range(0, len(order), 3)]
    assert firsts.count("a") == firsts.count("c") == 3  # a first, then c first, in turn


def test_no_rounds_or_no_sides_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one round"):
        alternating(["a"], 0)
    with pytest.raises(ValueError, match="at least one round"):
        alternating([], 3)


def test_summary_is_median_range_and_relative_spread() -> None:
    summary = summarize([10.0, 30.0, 20.0, 12.0, 50.0])
    assert (summary.median, summary.low, summary.high, summary.rounds) == (20.0, 10.0, 50.0, 5)
    assert summary.spread == pytest.approx(2.0)  # (50 - 10) / 20
    assert summarize([4.0, 6.0]).median == 5.0
    assert summarize([7.0]).spread == 0.0


def test_an_outlier_round_moves_the_median_ratio_little() -> None:
    path = [5000.0, 5100.0, 4900.0, 5050.0, 900.0]  # one round starved by another process
    raw = [15000.0, 14800.0, 27000.0, 15200.0, 15100.0]  # one round with the machine to itself
    assert ratio_of_medians(path, raw) == pytest.approx(5000.0 / 15100.0)
    assert ratio_of_medians([1.0], [0.0]) == 0.0


def test_no_rounds_cannot_be_summarized() -> None:
    with pytest.raises(ValueError, match="no rounds"):
        summarize([])


async def test_a_bounded_wait_returns_the_value_in_time() -> None:
    async def quick() -> int:
        return 7

    assert await within(quick(), 1.0, "a quick step") == 7


async def test_a_bounded_wait_says_what_it_waited_for() -> None:
    never = asyncio.Event()
    with pytest.raises(BenchTimeout, match=r"gave up after 0\.05 s waiting for receipts of 3"):
        await within(never.wait(), 0.05, "receipts of 3 declarations")
