"""A running node's view of the directory topic: read to the end at start, then followed live.

When a complete, correctly signed head arrives, the node's configuration is replaced by one
joined with the new directory (partners, data-sharing terms, transit routes, topic layout); the
sender and receiver read `parts.config` per message, so the next declaration follows it. Refused
entries are counted (`customs_verification_failures_total{reason}`) and logged, never applied.
The newest serial applied is kept in `<state_dir>/directory-serial`, so a restarted node refuses
an older directory even if compaction left only that on the topic.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

from broker.directory.entries import DirectoryState
from broker.directory.model import Corridor
from broker.errors import BrokerError, ConfigError, SignatureError, TransportError
from broker.node.config import joined
from broker.node.parts import NodeParts
from broker.node.topics import CorridorTopics
from broker.transport.base import Consumer

log = logging.getLogger(__name__)

SERIAL_FILE = "directory-serial"
BATCH = 500


def _read_serial(path: Path) -> int:
    try:
        return int(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        return 0
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path}: unreadable directory serial ({exc})") from exc


def _write_serial(path: Path, serial: int) -> None:
    """Replace the file atomically, owner-only (a crash leaves the old or the new serial)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, f"{serial}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temporary, path)


class DirectoryFollower:
    def __init__(self, parts: NodeParts, secretariat: str) -> None:
        self.parts = parts
        self.node_id = parts.config.node_id
        namespace = parts.config.directory.namespace if parts.config.directory else "customs.v1"
        self.topic = CorridorTopics(namespace).directory
        self._serial_file = parts.config.state_dir / SERIAL_FILE
        self.state = DirectoryState(parts.keys, secretariat, _read_serial(self._serial_file))
        self._consumer: Consumer | None = None

    @classmethod
    def for_node(cls, parts: NodeParts) -> DirectoryFollower | None:
        """The follower a node's configuration asks for (None: the directory file only)."""
        directory = parts.config.directory
        if directory is None or directory.secretariat is None:
            return None
        return cls(parts, directory.secretariat)

    async def start(self, timeout_s: float = 60.0) -> None:
        """Apply everything already on the topic; fail if it holds no acceptable directory and
        the node has none from its file."""
        self._consumer = self.parts.transport.consumer([self.topic], None)
        await self._consumer.start()
        deadline = self.parts.clock.monotonic() + timeout_s
        while not await self._consumer.caught_up():
            if self.parts.clock.monotonic() > deadline:
                raise TransportError(f"could not read {self.topic} to its end in {timeout_s}s")
            await self.poll(0.2)
        if self.state.current is None and not self.parts.config.partners:
            floor = f" at serial >= {self.state.min_serial}" if self.state.min_serial else ""
            raise ConfigError(f"{self.node_id}: no valid corridor directory{floor} on {self.topic}")

    async def stop(self) -> None:
        if self._consumer is not None:
            await self._consumer.stop()
            self._consumer = None

    async def poll(self, timeout_s: float) -> int:
        assert self._consumer is not None, "start() first"
        records = await self._consumer.fetch(BATCH, timeout_s)
        for record in records:
            try:
                applied = self.state.apply(record.headers, record.value, record.key)
            except SignatureError as exc:
                self.parts.metrics.verification_failures.labels(self.node_id, exc.code).inc()
                log.warning(
                    "directory entry refused: %s",
                    exc,
                    extra={"node": self.node_id, "source": record.coordinates},
                )
                continue
            except ConfigError as exc:
                log.error(
                    "directory head refused: %s",
                    exc,
                    extra={"node": self.node_id, "source": record.coordinates},
                )
                continue
            if applied.corridor is not None:
                self._adopt(applied.corridor)
        return len(records)

    def _adopt(self, corridor: Corridor) -> None:
        try:
            config = joined(self.parts.config, corridor, source=self.topic)
        except ConfigError as exc:
            log.error("directory serial %d not adopted: %s", corridor.serial, exc,
                      extra={"node": self.node_id})  # fmt: skip
            return
        before = {p.node_id for p in self.parts.config.partners}
        self.parts.config = config
        _write_serial(self._serial_file, corridor.serial)
        after = {p.node_id for p in config.partners}
        log.info(
            "corridor directory serial %d in force: %d partners (+%d -%d)",
            corridor.serial,
            len(after),
            len(after - before),
            len(before - after),
            extra={"node": self.node_id},
        )

    async def run(self, stop: asyncio.Event, idle_s: float = 0.5) -> None:
        while not stop.is_set():
            try:
                await self.poll(idle_s)
            except TransportError as exc:
                log.warning("corridor directory: %s", exc, extra={"node": self.node_id})
                await asyncio.sleep(2.0)
            except BrokerError as exc:  # never let the directory stop the node's other loops
                log.error("corridor directory: %s", exc, extra={"node": self.node_id})
                await asyncio.sleep(2.0)
