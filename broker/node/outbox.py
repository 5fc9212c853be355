"""The gateway outbox: every complete file is submitted once, and moved only when that is over.

Each file is sent by its own task. During a Kafka outage the idempotent producer holds the
records until the brokers are back, so the task simply waits and the file stays in `outbox/`
(a file is never resubmitted while its first submission is still in flight: that would send a
second copy of the same message id). At shutdown, unfinished tasks are cancelled and their files
stay in the outbox for the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

from broker.errors import BrokerError, FormatError, TransportError
from broker.node.gateway import GatewayFolders

log = logging.getLogger(__name__)

Submit = Callable[[bytes, str], Awaitable[object]]


class OutboxSender:
    def __init__(self, gateway: GatewayFolders, submit: Submit, node_id: str) -> None:
        self._gateway = gateway
        self._submit = submit
        self._node = node_id
        self._in_flight: dict[Path, asyncio.Task[None]] = {}

    def scan(self, settle_s: float) -> int:
        """Start a submission for each new complete file; returns how many are in flight."""
        for path in self._gateway.ready_files(settle_s):
            if path not in self._in_flight:
                self._in_flight[path] = asyncio.create_task(self._send(path))
        return len(self._in_flight)

    async def _send(self, path: Path) -> None:
        try:
            await self._send_once(path)
        finally:
            self._in_flight.pop(path, None)

    async def _send_once(self, path: Path) -> None:
        try:
            data = await asyncio.to_thread(path.read_bytes)
            await self._submit(data, path.name)
        except TransportError as exc:  # Kafka refused: the file waits for the next scan
            log.warning("outbox %s stays: %s", path.name, exc, extra={"node": self._node})
        except FormatError as exc:
            self._gateway.move_to_failed(path, str(exc))
        except BrokerError as exc:
            self._gateway.move_to_failed(path, f"{type(exc).__name__}: {exc}")
        else:
            self._gateway.move_to_sent(path)

    async def run(self, stop: asyncio.Event, settle_s: float = 0.2) -> None:
        try:
            while not stop.is_set():
                self.scan(settle_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.2)
        finally:
            pending = list(self._in_flight.values())
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
