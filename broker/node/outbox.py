"""The gateway outbox: every complete file is submitted once, and moved only when that is over.

Each file is sent by its own task. During a Kafka outage the idempotent producer holds the
records until the brokers are back, so the task simply waits and the file stays in `outbox/`
(a file is never resubmitted while its first submission is still in flight: that would send a
second copy of the same message id). At shutdown, unfinished tasks are cancelled and their files
stay in the outbox for the next start.

An error file says where and why a document is wrong (file, location, field, reason, the first
`MAX_PROBLEMS` problems and how many more), never what the document contains: it may be read by
people who may not read the declaration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from broker.errors import BrokerError, FormatError, Problem, TransportError
from broker.node.gateway import GatewayFolders, UnreadableFile

log = logging.getLogger(__name__)

Submit = Callable[[bytes, str], Awaitable[object]]
MAX_PROBLEMS = 100


def error_text(summary: str, problems: Sequence[Problem]) -> str:
    """What an error file says: the summary and each problem without its offending value."""
    lines = [summary]
    for problem in problems[:MAX_PROBLEMS]:
        where = ":".join(part for part in (problem.source, problem.location) if part)
        parts = [part for part in (where, problem.field, problem.reason[:300]) if part]
        lines.append("  - " + ": ".join(parts))
    if len(problems) > MAX_PROBLEMS:
        lines.append(f"  ... and {len(problems) - MAX_PROBLEMS} more problem(s)")
    return "\n".join(lines) + "\n"


def _summary(exc: BrokerError) -> str:
    """The error's own message line, without the problem list `str(exc)` appends."""
    return str(exc.args[0]) if exc.args else type(exc).__name__


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
        extra = {"node": self._node, "source": path.name}
        try:
            data = await asyncio.to_thread(self._gateway.read, path)
            await self._submit(data, path.name)
        except UnreadableFile as exc:
            self._gateway.move_to_failed(path, f"{path.name}: not sent: {exc}\n")
        except FileNotFoundError:
            return  # taken away meanwhile
        except OSError as exc:  # unreadable now (permissions, I/O): it stays for the next scan
            log.warning("outbox %s stays: %s", path.name, exc.strerror, extra=extra)
        except TransportError as exc:  # Kafka refused: the file waits for the next scan
            log.warning("outbox %s stays: %s", path.name, exc, extra=extra)
        except BrokerError as exc:
            self._gateway.move_to_failed(path, error_text(_summary(exc), exc.problems))
            if not isinstance(exc, FormatError):
                log.warning("outbox %s failed: %s", path.name, type(exc).__name__, extra=extra)
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
