"""Timing shared by the benchmarks."""

from __future__ import annotations

import timeit
from collections.abc import Callable


def best_seconds(
    operations: dict[str, Callable[[], object]], *, rounds: int, batch: int
) -> dict[str, float]:
    """Seconds per call of each operation in its fastest round (timeit pauses the GC).

    Rounds interleave the operations, so load from other processes hits them alike.
    """
    timers = {name: timeit.Timer(operation) for name, operation in operations.items()}
    best = dict.fromkeys(operations, float("inf"))
    for _ in range(rounds):
        for name, timer in timers.items():
            best[name] = min(best[name], timer.timeit(batch) / batch)
    return best
