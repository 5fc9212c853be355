"""The rig of `bench faults`: a local 3-broker Kafka, a two-node corridor of real `node run`
processes with gateway folders, fault injectors, and counters that look only from outside.

Counting from outside means: deliveries are the files the receiver renames into its gateway
`inbox/` (every rename is seen through inotify, so a second delivery of a message is counted even
when it overwrites the first file); dead letters are read from the DLQ topics by a plain
read_committed consumer; receipts are the sender's own status (its ledger, what `customs-broker
status` prints) and the receipt records on the sender's inbox topic.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import os
import select
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from broker.clock import SystemClock
from broker.demo.setup import ensure_demo_pki, prepare_corridor
from broker.devkafka.config import ClusterSpec
from broker.devkafka.launcher import LocalKafka, free_port_block
from broker.directory.load import corridor_toml, small_corridor
from broker.directory.model import TopicSettings
from broker.model.samples import sample_declaration
from broker.node.config import NodeConfig, load_node_config
from broker.node.deadletter import read_dead_letter
from broker.node.ledger import DeliveryStatus, NodeLedger
from broker.node.topics import CorridorTopics
from broker.signing.envelope import TYPE_RECEIPT
from broker.transport.base import Consumer, InboundRecord
from broker.transport.kafka import KafkaTransport

SENDER, RECEIVER = "CN-CQ", "LA-VTE"
PARTITIONS = 6


# ---------------------------------------------------------------------- processes


class NodeProcess:
    """`python -m broker node run --config FILE` (the `customs-broker` entry point)."""

    def __init__(self, config: Path, state_dir: Path, name: str) -> None:
        self.config, self.state_dir, self.name = config, state_dir, name
        self.log = config.parent / "logs" / f"{name}.log"
        self.out = config.parent / "logs" / f"{name}.out"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait_s: float = 90.0) -> None:
        """Start; wait for its "consuming" line unless `wait_s` is 0 (Kafka may be down)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_bytes(b"")
        env = {**os.environ, "CUSTOMS_NODE_STATE_DIR": str(self.state_dir)}
        with self.log.open("ab") as err, self.out.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "broker", "node", "run", "--config", str(self.config)],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        deadline = time.monotonic() + wait_s
        while wait_s and not self.serving():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                tail = self.log.read_text(errors="replace")[-1500:]
                raise RuntimeError(f"{self.name} did not start (exit {self.proc.poll()}):\n{tail}")
            time.sleep(0.1)

    def serving(self) -> bool:
        return b"consuming" in self.out.read_bytes()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        if self.alive():
            assert self.proc is not None
            self.proc.kill()
            self.proc.wait()

    def terminate(self, timeout_s: float = 60.0) -> float:
        """SIGTERM; seconds until it exited (SIGKILL after `timeout_s`)."""
        if not self.alive():
            return 0.0
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return time.monotonic() - began


# ---------------------------------------------------------------------- counting deliveries

_IN_CLOSE_WRITE, _IN_MOVED_TO = 0x008, 0x080
_EVENT = struct.Struct("iIII")


class DeliveryWatch:
    """Counts every file that appears under its final name in a folder (inotify)."""

    def __init__(self, folder: Path) -> None:
        self.counts: Counter[str] = Counter()
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        self._fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self._fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        mask = _IN_CLOSE_WRITE | _IN_MOVED_TO
        if libc.inotify_add_watch(self._fd, str(folder).encode(), mask) < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {folder}")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select([self._fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(self._fd, 1 << 16)
            except BlockingIOError:
                continue
            at = 0
            while at < len(data):
                _, _, _, length = _EVENT.unpack_from(data, at)
                name = data[at + _EVENT.size : at + _EVENT.size + length].rstrip(b"\0").decode()
                at += _EVENT.size + length
                if name and not name.startswith("."):
                    self.counts[name.split(".")[-2] if name.count(".") >= 2 else name] += 1

    def delivered(self) -> int:
        return len(self.counts)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        os.close(self._fd)


# ---------------------------------------------------------------------- faults on folders


def can_mount() -> bool:
    return os.geteuid() == 0 and shutil.which("mount") is not None


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """Make `folder` unwritable even for root: a read-only bind mount of itself (EROFS).

    chmod alone does not stop root (CAP_DAC_OVERRIDE); without root we fall back to it."""
    if can_mount():
        subprocess.run(["mount", "--bind", str(folder), str(folder)], check=True)
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], check=True)
            yield
        finally:
            subprocess.run(["umount", str(folder)], check=True)
    else:
        mode = folder.stat().st_mode
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(mode)


@contextlib.contextmanager
def small_disk(folder: Path, size_mb: int) -> Iterator[None]:
    """A size-limited folder: a tmpfs of `size_mb` mounted on `folder` (needs root)."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0700", "tmpfs", str(folder)],
        check=True,
    )
    try:
        yield
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@contextlib.contextmanager
def disk_full(folder: Path) -> Iterator[None]:
    """Fill the file system of `folder` to the last byte; free it again afterwards."""
    filler = folder / "filler.bin"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):  # unbuffered, down to the last byte
            block = b"\0" * size
            while True:
                try:
                    os.write(fd, block)
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    try:
        yield
    finally:
        filler.unlink()


# ---------------------------------------------------------------------- the corridor


def _config_text(node_id: str, bootstrap: str, namespace: str) -> str:
    return f"""
node_id = "{node_id}"
format = "canonical-json"
state_dir = "state/{node_id}"
gateway_dir = "gateway/{node_id}"
receipt_timeout_s = 600

[kafka]
bootstrap_servers = "{bootstrap}"
request_timeout_ms = 5000

[identity]
node_dir = "../pki/nodes/{node_id}"
trust_list = "../pki/trust-list.pem"
passphrase_file = "../pki/passphrase.txt"

[directory]
file = "corridor.toml"
namespace = "{namespace}"
"""


def _write_directory(path: Path, namespace: str) -> None:
    """The corridor directory of the two nodes: partners of each other, replicated topics."""
    corridor = small_corridor({SENDER: "canonical-json", RECEIVER: "canonical-json"}, namespace)
    topics = TopicSettings(
        namespace=namespace, partitions=PARTITIONS, replication_factor=3, min_insync_replicas=2
    )
    path.write_text(corridor_toml(corridor.model_copy(update={"topics": topics})), "utf-8")


def documents(count: int, run: str) -> list[tuple[str, bytes]]:
    """(message id, canonical-json document) of `count` Chongqing -> Vientiane declarations."""
    out = []
    for i in range(count):
        declaration = sample_declaration(lines=2, reference=f"{run}-{i:04d}").model_copy(
            update={"itinerary": ("CN", "LA"), "entry_place": "LAVTE", "message_id": uuid.uuid4()}
        )
        out.append((str(declaration.message_id), declaration.model_dump_json().encode()))
    return out


@dataclass
class Corridor:
    """One scenario's corridor: fresh topics (namespace), folders, processes."""

    root: Path
    sender_config: Path
    receiver_config: Path
    configs: tuple[NodeConfig, NodeConfig]
    processes: list[NodeProcess] = field(default_factory=list)

    @property
    def topics(self) -> CorridorTopics:
        return CorridorTopics.of(self.configs[0].topics)

    def gateway(self, node_id: str) -> Path:
        return self.root / "gateway" / node_id

    def sender(self) -> NodeProcess:
        process = NodeProcess(self.sender_config, self.root / "state" / SENDER, SENDER)
        self.processes.append(process)
        return process

    def receiver(self, index: int = 1) -> NodeProcess:
        state = self.root / "state" / f"{RECEIVER}-{index}"
        process = NodeProcess(self.receiver_config, state, f"{RECEIVER}-{index}")
        self.processes.append(process)
        return process

    def drop(self, name: str, data: bytes) -> None:
        """As a national system does: write under a temporary name, then rename into outbox/."""
        outbox = self.gateway(SENDER) / "outbox"
        part = outbox / f".{name}.part"
        part.write_bytes(data)
        part.rename(outbox / name)

    def sent_count(self) -> int:
        return _count_files(self.gateway(SENDER) / "sent")

    def sender_ledger_delivered(self, message_ids: set[str]) -> int:
        """How many declarations the sender's status shows delivered (accepted receipt)."""
        path = self.root / "state" / SENDER / "node.sqlite3"
        if not path.exists():
            return 0
        ledger = NodeLedger(path)
        try:
            return sum(
                1
                for mid in message_ids
                if any(
                    r.recipient == RECEIVER and r.status is DeliveryStatus.DELIVERED
                    for r in ledger.by_message(mid)
                )
            )
        finally:
            ledger.close()

    def stop_all(self) -> float:
        """SIGTERM every process still alive; the slowest stop, in seconds."""
        slowest = 0.0
        for process in self.processes:
            slowest = max(slowest, process.terminate())
        return slowest

    def kill_all(self) -> None:
        for process in self.processes:
            process.kill()


def _count_files(folder: Path) -> int:
    if not folder.exists():
        return 0
    return sum(1 for p in folder.iterdir() if not p.name.startswith("."))


class Rig:
    """The local 3-broker cluster and the PKI every scenario shares."""

    def __init__(self, root: Path, heap_mb: int = 512) -> None:
        self.root = root
        self.kafka = LocalKafka(
            ClusterSpec(state_dir=root / "kafka", nodes=3, port=free_port_block(6), heap_mb=heap_mb)
        )

    @property
    def bootstrap(self) -> str:
        return self.kafka.spec.bootstrap_servers

    def up(self) -> None:
        self.kafka.up(timeout=180)
        ensure_demo_pki(self.root / "pki", SystemClock())

    def down(self) -> None:
        self.kafka.down(purge=True)

    async def corridor(self, name: str) -> Corridor:
        root = self.root / name
        root.mkdir(parents=True)
        namespace = f"faults.{name}.{uuid.uuid4().hex[:6]}"
        _write_directory(root / "corridor.toml", namespace)
        paths = []
        for node_id in (SENDER, RECEIVER):
            path = root / f"{node_id}.toml"
            path.write_text(_config_text(node_id, self.bootstrap, namespace), "utf-8")
            paths.append(path)
        configs = (load_node_config(paths[0]), load_node_config(paths[1]))
        await prepare_corridor(
            KafkaTransport(configs[0].kafka), configs, self.root / "pki", SystemClock()
        )
        corridor = Corridor(root, paths[0], paths[1], configs)
        for node_id in (SENDER, RECEIVER):
            for sub in ("outbox", "sent", "failed", "inbox"):
                (corridor.gateway(node_id) / sub).mkdir(parents=True, exist_ok=True)
        return corridor

    async def leader_of_inbox(self, corridor: Corridor) -> int:
        admin = await KafkaTransport(corridor.configs[0].kafka).admin()
        try:
            leaders = await admin.partition_leaders(corridor.topics.inbox(RECEIVER))
        finally:
            await admin.close()
        return Counter(leaders.values()).most_common(1)[0][0]

    async def read_topic(self, corridor: Corridor, topic: str) -> list[InboundRecord]:
        consumer: Consumer = KafkaTransport(corridor.configs[0].kafka).consumer([topic], None)
        await consumer.start()
        records: list[InboundRecord] = []
        deadline = time.monotonic() + 60
        try:
            while not await consumer.caught_up() and time.monotonic() < deadline:
                records.extend(await consumer.fetch(500, 1.0))
        finally:
            await consumer.stop()
        return records

    async def dead_letters(self, corridor: Corridor) -> Counter[str]:
        codes: Counter[str] = Counter()
        for node_id in (SENDER, RECEIVER):
            for record in await self.read_topic(corridor, corridor.topics.dead_letters(node_id)):
                codes[f"{node_id}:{read_dead_letter(record).code}"] += 1
        return codes

    async def receipts(self, corridor: Corridor) -> Counter[str]:
        """Receipt records on the sender's inbox, per declaration they answer."""
        answered: Counter[str] = Counter()
        for record in await self.read_topic(corridor, corridor.topics.inbox(SENDER)):
            headers = dict(record.headers)
            if headers.get("ce_type") == TYPE_RECEIPT.encode():
                answered[headers.get("ce_subject", b"").decode()] += 1
        return answered
