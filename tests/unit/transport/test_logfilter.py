"""Repeated client log lines are let through once per window, with a count of the rest."""

from __future__ import annotations

import logging

import pytest

from broker.transport.logfilter import RepeatFilter, install_client_log_rate_limit


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def emit(logger: logging.Logger, text: str, *args: object) -> None:
    logger.error(text, *args)


def test_an_outage_flood_becomes_one_line_per_window(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    logger = logging.getLogger("aiokafka.test-flood")
    repeat = RepeatFilter(window_s=10.0, clock=clock)
    logger.addFilter(repeat)
    try:
        with caplog.at_level(logging.ERROR, logger="aiokafka.test-flood"):
            for i in range(400):  # a second of connection errors, each to another port
                clock.now = i / 400
                emit(logger, "Unable connect to node with id %s: %s", i % 3, "refused")
            emit(logger, "Unable to update metadata from %s", "127.0.0.1:1")  # another kind
            clock.now = 10.5
            emit(logger, "Unable connect to node with id %s: %s", 1, "refused")
    finally:
        logger.removeFilter(repeat)
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        "Unable connect to node with id 0: refused",
        "Unable to update metadata from 127.0.0.1:1",
        "Unable connect to node with id 1: refused [399 similar suppressed in 10s]",
    ]


def test_installing_covers_every_aiokafka_logger_once() -> None:
    import aiokafka.conn  # noqa: F401 - its logger must exist before installing

    first = install_client_log_rate_limit()
    second = install_client_log_rate_limit()
    assert first is second
    for name in ("aiokafka", "aiokafka.conn"):
        assert logging.getLogger(name).filters.count(first) == 1
