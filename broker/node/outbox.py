"""The gateway outbox: every complete file is submitted once, and moved only when that is over.

The files a scan finds are read together (one trip to a worker thread) and handed to the node
together, up to `TOGETHER` at a time, so that their copies go out in one batch per recipient
(one signature, one ledger sync, one produce round trip). During a Kafka outage the idempotent
producer holds the records until the brokers are back, so the task simply waits and the file
stays in `outbox/` (a file is never resubmitted while its first submission is still in flight:
that would send a second copy of the same message id). At shutdown, unfinished tasks are
cancelled and their files stay in the outbox for the next start.

A file that stays (Kafka refused it, or it cannot be read now) is tried again with a backoff
per file, from `RETRY_FIRST_S` doubling to `RETRY_MAX_S`, and said once in the log per episode
(when it starts to wait, and when it is finally sent): an outage with a thousand files waiting
must not rescan them five times a second, nor log each of them at every scan.

An error file says where and why a document is wrong (file, location, field, reason, the first
`MAX_PROBLEMS` problems and how many more), never what the document contains: it may be read by
people who may not read the declaration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from broker.errors import BrokerError, FormatError, Problem, TransportError
from broker.node.gateway import GatewayFolders, UnreadableFile

log = logging.getLogger(__name__)

Submit = Callable[[bytes, str], Awaitable[object]]
MAX_PROBLEMS = 100
RETRY_FIRST_S = 0.5
RETRY_MAX_S = 5.0
TOGETHER = 256  # files read and submitted together (bounds the documents held in memory)


@dataclass
class _Waiting:
    """A file that stays in the outbox: how often it was tried, and when to try it again."""

    attempts: int
    next_at: float


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
    def __init__(
        self,
        gateway: GatewayFolders,
        submit: Submit,
        node_id: str,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gateway = gateway
        self._submit = submit
        self._node = node_id
        self._monotonic = monotonic
        self._in_flight: dict[Path, asyncio.Task[None]] = {}
        self._waiting: dict[Path, _Waiting] = {}

    def scan(self, settle_s: float) -> int:
        """Start a submission for each new complete file not backing off; returns how many are
        in flight."""
        now = self._monotonic()
        ready = list(self._gateway.ready_files(settle_s))  # oldest first
        for gone in self._waiting.keys() - set(ready) - self._in_flight.keys():
            del self._waiting[gone]  # taken away by the operator while it waited
        new = []
        for path in ready:
            waiting = self._waiting.get(path)
            if path in self._in_flight or (waiting is not None and now < waiting.next_at):
                continue
            new.append(path)
        for start in range(0, len(new), TOGETHER):
            group = new[start : start + TOGETHER]
            task = asyncio.create_task(self._send_together(group))
            for path in group:
                self._in_flight[path] = task
        return len(self._in_flight)

    @property
    def waiting(self) -> int:
        """Files that stay in the outbox for a later attempt."""
        return len(self._waiting)

    def _stays(self, path: Path, reason: str, extra: dict[str, str]) -> None:
        waiting = self._waiting.get(path)
        attempts = 1 if waiting is None else waiting.attempts + 1
        delay = min(RETRY_FIRST_S * 2 ** (attempts - 1), RETRY_MAX_S)
        self._waiting[path] = _Waiting(attempts, self._monotonic() + delay)
        if waiting is None:  # once per episode; the retries are not news
            log.warning("outbox %s stays: %s", path.name, reason, extra=extra)

    def _done(self, path: Path, extra: dict[str, str]) -> None:
        waiting = self._waiting.pop(path, None)
        if waiting is not None:
            log.info(
                "outbox %s sent after %d attempts", path.name, waiting.attempts + 1, extra=extra
            )

    async def _send_together(self, paths: list[Path]) -> None:
        try:
            documents = await asyncio.to_thread(self._read_each, paths)
            await asyncio.gather(
                *(self._send_once(p, d) for p, d in zip(paths, documents, strict=True))
            )
        finally:
            for path in paths:
                self._in_flight.pop(path, None)

    def _read_each(self, paths: list[Path]) -> list[bytes | OSError | UnreadableFile]:
        documents: list[bytes | OSError | UnreadableFile] = []
        for path in paths:
            try:
                documents.append(self._gateway.read(path))
            except (OSError, UnreadableFile) as exc:  # said by _send_once, file by file
                documents.append(exc)
        return documents

    async def _send_once(self, path: Path, document: bytes | OSError | UnreadableFile) -> None:
        extra = {"node": self._node, "source": path.name}
        try:
            if not isinstance(document, bytes):
                raise document
            await self._submit(document, path.name)
        except UnreadableFile as exc:
            self._gateway.move_to_failed(path, f"{path.name}: not sent: {exc}\n")
        except FileNotFoundError:
            self._waiting.pop(path, None)
            return  # taken away meanwhile
        except OSError as exc:  # unreadable now (permissions, I/O): it stays for a later scan
            self._stays(path, str(exc.strerror), extra)
        except TransportError as exc:  # Kafka refused: the file waits for a later scan
            self._stays(path, str(exc), extra)
        except BrokerError as exc:
            self._waiting.pop(path, None)
            self._gateway.move_to_failed(path, error_text(_summary(exc), exc.problems))
            if not isinstance(exc, FormatError):
                log.warning("outbox %s failed: %s", path.name, type(exc).__name__, extra=extra)
        else:
            self._gateway.move_to_sent(path)
            self._done(path, extra)

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
