"""Alternating rounds, their summary, and bounded waits: what keeps a comparison bench honest.

Two sides measured one after the other drift apart when the machine's load changes between them
(another process, the broker compacting, the page cache). Rounds alternate the sides in an
A B B A B A A B ... order (each pair reverses the previous one), so a steady drift hits both sides
alike; the ratio is taken between the medians, and the spread says how far one round strayed.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from broker.errors import BrokerError

_T = TypeVar("_T")


class BenchTimeout(BrokerError):
    """A bench step did not finish in its bound; the message names what it waited for."""


def alternating(sides: Sequence[str], rounds: int) -> list[str]:
    """The order of `rounds` rounds of every side, each pair of rounds reversing the one before.

    >>> alternating(["a", "b"], 3)
    ['a', 'b', 'b', 'a', 'a', 'b']
    """
    if rounds < 1 or not sides:
        raise ValueError("at least one round of at least one side")
    order: list[str] = []
    for index in range(rounds):
        order.extend(sides if index % 2 == 0 else reversed(sides))
    return order


@dataclass(frozen=True)
class Summary:
    """Median of the rounds and their range; `spread` is (high - low) / median."""

    median: float
    low: float
    high: float
    rounds: int

    @property
    def spread(self) -> float:
        return (self.high - self.low) / self.median if self.median else 0.0


def summarize(values: Sequence[float]) -> Summary:
    if not values:
        raise ValueError("no rounds to summarize")
    return Summary(statistics.median(values), min(values), max(values), len(values))


def ratio_of_medians(numerator: Sequence[float], denominator: Sequence[float]) -> float:
    below = summarize(denominator).median
    return summarize(numerator).median / below if below else 0.0


async def within(step: Awaitable[_T], seconds: float, waiting_for: str) -> _T:
    """`await step`, or BenchTimeout saying what was awaited and for how long."""
    try:
        return await asyncio.wait_for(step, seconds)
    except TimeoutError:
        raise BenchTimeout(f"gave up after {seconds:g} s waiting for {waiting_for}") from None
