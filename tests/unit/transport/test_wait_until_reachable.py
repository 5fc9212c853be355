"""`node run` waits for Kafka at start-up: retries with backoff, gives up only when told to stop."""

from __future__ import annotations

import asyncio
import logging
import socket

import pytest

from broker.transport.kafka import wait_until_reachable
from broker.transport.settings import KafkaSettings


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens once the socket is closed


async def test_it_retries_with_backoff_until_stopped(caplog: pytest.LogCaptureFixture) -> None:
    settings = KafkaSettings(bootstrap_servers=f"127.0.0.1:{closed_port()}", request_timeout_ms=500)
    stop = asyncio.Event()
    with caplog.at_level(logging.WARNING, logger="broker.transport.kafka"):
        waiting = asyncio.create_task(wait_until_reachable(settings, stop, first_delay_s=0.05))
        await asyncio.sleep(0.6)
        stop.set()
        assert await asyncio.wait_for(waiting, 5) is False
    attempts = [r.getMessage() for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(attempts) >= 3  # it kept trying
    assert "attempt 1" in attempts[0]
    delays = [float(m.rsplit("next try in ", 1)[1].rstrip("s")) for m in attempts]
    assert delays[-1] > 2 * delays[0]  # backing off (jitter is at most +-20%)
