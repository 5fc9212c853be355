"""Start, watch and stop a local Apache Kafka (KRaft) from Maven Central jars.

State lives in one folder (`ClusterSpec.state_dir`): a `cluster.json` naming the PIDs we started,
and one `node-N/` per node with its `server.properties`, `data/`, `server.log` and `stdout.log`.
We stop only the PIDs recorded there, after checking that each still runs our command line (a
recycled PID belongs to someone else), and never look processes up by name.

`down` keeps the data (a later `up` starts the same cluster again, records and offsets intact)
unless asked to purge; one node of a cluster can be stopped and started again on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from broker.devkafka import maven
from broker.devkafka.config import (
    ADMIN_USER,
    KAFKA_ARTIFACTS,
    KAFKA_VERSION,
    LOG4J2_PROPERTIES,
    SCRAM_MECHANISM,
    ClusterSpec,
    new_cluster_id,
    node_properties,
    render_properties,
    scram_format_args,
)
from broker.errors import LauncherError

log = logging.getLogger(__name__)

_STATE_FILE = "cluster.json"
_MIN_JAVA = 17


@dataclass(frozen=True)
class NodeProcess:
    node_id: int
    pid: int
    client_port: int
    properties: str  # path of its server.properties: proves a PID is still ours


@dataclass(frozen=True)
class ClusterState:
    cluster_id: str
    bootstrap_servers: str
    sasl: bool
    kafka_version: str
    nodes: tuple[NodeProcess, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> ClusterState:
        raw = json.loads(text)
        nodes = tuple(NodeProcess(**n) for n in raw.pop("nodes"))
        return cls(nodes=nodes, **raw)


def kafka_home() -> Path:
    return maven.cache_root() / f"kafka-{KAFKA_VERSION}"


def ensure_kafka_jars() -> Path:
    """The folder of Kafka's runtime jars, downloaded once into the user cache."""
    return maven.resolve(KAFKA_ARTIFACTS, kafka_home())


def check_java() -> str:
    """Path of a `java` that is version 17 or newer, else a `LauncherError` saying what to do."""
    java = shutil.which("java")
    how = "install a JDK 17+ (Debian/Ubuntu: `apt-get install -y openjdk-17-jre-headless`)"
    if java is None:
        raise LauncherError(f"Java is not installed; Apache Kafka {KAFKA_VERSION} needs it: {how}")
    done = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    match = re.search(r'version "(\d+)(?:\.(\d+))?', done.stderr + done.stdout)
    if match is None:
        raise LauncherError(f"cannot tell the version of {java}: {done.stderr.strip()[:200]}")
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0" style
        major = int(match.group(2))
    if major < _MIN_JAVA:
        raise LauncherError(f"{java} is Java {major}; Kafka {KAFKA_VERSION} needs 17+: {how}")
    return java


def port_is_free(port: int) -> bool:
    """Nobody listens on it. SO_REUSEADDR as Kafka itself binds: connections of a node that just
    died linger in TIME_WAIT for a minute and must not stop it from starting again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_block(size: int, start: int = 20000, stop: int = 60000) -> int:
    """First port of `size` consecutive free ports on 127.0.0.1 (a cluster needs a block):
    an ephemeral port the kernel offers first, then a sweep."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base = int(probe.getsockname()[1])
    candidates: list[int] = [base, *range(start, stop, 97)]
    for candidate in candidates:
        if candidate + size >= 65535:
            continue
        socks = []
        try:
            for port in range(candidate, candidate + size):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return candidate
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise RuntimeError(f"no block of {size} free ports")


def _runs_our_command(node: NodeProcess) -> bool:
    """True when `node.pid` is alive and still runs the Kafka we started with that config."""
    try:
        os.kill(node.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, but another user's: certainly not ours
        return False
    proc = Path(f"/proc/{node.pid}")
    if not proc.exists():  # not Linux: the liveness check is all we have
        return True
    try:
        # Field 3 of /proc/PID/stat is the state; after the ")" that closes the command name.
        if (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
            return False  # exited, not yet reaped
        args = (proc / "cmdline").read_bytes()
    except (OSError, IndexError):
        return False
    # Empty while the JVM is still being exec'd; otherwise it must name our config file.
    return not args or node.properties.encode() in args.split(b"\0")


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return "(no log written)"
    return "\n".join(text.splitlines()[-lines:])


async def _listed_brokers(spec: ClusterSpec, bootstrap: str) -> set[int]:
    from aiokafka.admin import AIOKafkaAdminClient

    kwargs: dict[str, object] = {}
    if spec.sasl:
        kwargs = {
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": SCRAM_MECHANISM,
            "sasl_plain_username": ADMIN_USER,
            "sasl_plain_password": spec.admin_password,
        }
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000, **kwargs)
    try:
        await asyncio.wait_for(admin.start(), timeout=5)
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout=5)
        return {int(broker["node_id"]) for broker in cluster["brokers"]}
    finally:
        with contextlib.suppress(Exception):
            await admin.close()


def _accepts_connections(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def _quiet_aiokafka() -> Iterator[None]:
    """A probe that fails is expected while Kafka boots: keep aiokafka's retries off stderr."""
    logger = logging.getLogger("aiokafka")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        logger.setLevel(level)


def cluster_answers(spec: ClusterSpec, node_ids: Iterable[int] | None = None) -> bool:
    """A metadata request lists every broker of `node_ids` (default: all of them), asked of
    those nodes themselves (an open port alone proves nothing)."""
    from aiokafka.errors import KafkaError

    wanted = set(spec.node_ids if node_ids is None else node_ids)
    if not all(_accepts_connections(spec.client_port(n)) for n in wanted):
        return False
    bootstrap = ",".join(f"127.0.0.1:{spec.client_port(n)}" for n in sorted(wanted))
    try:
        with _quiet_aiokafka():
            return wanted <= asyncio.run(_listed_brokers(spec, bootstrap))
    except (KafkaError, OSError, TimeoutError):
        return False


class LocalKafka:
    """A local KRaft cluster of 1 or 3 combined broker+controller nodes."""

    def __init__(self, spec: ClusterSpec) -> None:
        self.spec = spec
        self._state_file = spec.state_dir / _STATE_FILE
        # Processes this object started: kept so they are reaped (and never warned about).
        self._children: dict[int, subprocess.Popen[bytes]] = {}

    # ------------------------------------------------------------------ state
    def state(self) -> ClusterState | None:
        try:
            return ClusterState.from_json(self._state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError) as exc:
            raise LauncherError(
                f"unreadable launcher state {self._state_file}: {exc}; "
                f"remove {self.spec.state_dir} to start afresh"
            ) from exc

    def running_nodes(self) -> list[NodeProcess]:
        state = self.state()
        return [n for n in state.nodes if _runs_our_command(n)] if state else []

    # ------------------------------------------------------------------ up
    def up(self, timeout: float = 90.0) -> tuple[ClusterState, bool]:
        """Start the cluster unless it already runs; returns (state, started_now).

        A cluster stopped earlier (its data kept) starts again as it was; nodes of a half
        running cluster that are down are started again.
        """
        state = self.state()
        if state is not None:
            alive = self.running_nodes()
            if len(alive) == len(state.nodes) and cluster_answers(self._spec_of(state)):
                return state, False
            self._check_same_shape(state)
            running = {n.node_id for n in alive}
            dead = [n.node_id for n in state.nodes if n.node_id not in running]
            state = self._restart(state, dead, timeout)
            return state, True
        if self.spec.state_dir.exists() and any(self.spec.state_dir.iterdir()):
            raise LauncherError(
                f"stale data directory {self.spec.state_dir}: it holds files but no "
                f"{_STATE_FILE} from this launcher; remove it or choose another --state-dir"
            )
        self._check_ports_free(self.spec.all_ports)
        java = check_java()
        lib = ensure_kafka_jars()
        try:
            state = self._format_and_start(java, lib)
        except BaseException:
            self._abandon()
            raise
        self._wait_ready(state, timeout, list(state.nodes), first_start=True)
        return state, True

    def _spec_of(self, state: ClusterState) -> ClusterSpec:
        """The spec the recorded cluster was started with (a CLI call may give only --port)."""
        return dataclasses.replace(
            self.spec,
            nodes=len(state.nodes),
            port=state.nodes[0].client_port,
            sasl=state.sasl,
        )

    def _check_same_shape(self, state: ClusterState) -> None:
        if self.spec.nodes != len(state.nodes) and self.spec.nodes != 1:
            raise LauncherError(
                f"{self.spec.state_dir} holds a {len(state.nodes)}-node cluster, not "
                f"{self.spec.nodes}; run `kafka down --purge` first to start another shape"
            )

    def _check_ports_free(self, ports: list[int]) -> None:
        busy = [p for p in ports if not port_is_free(p)]
        if busy:
            raise LauncherError(
                f"port(s) {', '.join(map(str, busy))} on 127.0.0.1 already in use by another "
                "process; stop it or pick another base port with --port"
            )

    def _restart(self, state: ClusterState, node_ids: list[int], timeout: float) -> ClusterState:
        """Start recorded nodes again on their kept data (no formatting)."""
        self.spec = self._spec_of(state)
        self._check_ports_free(
            [p for n in node_ids for p in (self.spec.client_port(n), self.spec.controller_port(n))]
        )
        java, lib = check_java(), ensure_kafka_jars()
        started = {n: self._launch(java, lib, n) for n in node_ids}
        nodes = tuple(started.get(n.node_id, n) for n in state.nodes)
        state = dataclasses.replace(state, nodes=nodes)
        self._write_state(state)
        self._wait_ready(state, timeout, list(started.values()), first_start=False)
        return state

    def start_node(self, node_id: int, timeout: float = 90.0) -> ClusterState:
        """Start one stopped node of the recorded cluster again and wait until all answer."""
        state = self._recorded()
        if node_id not in {n.node_id for n in state.nodes}:
            raise LauncherError(f"the cluster has no node {node_id}")
        if node_id in {n.node_id for n in self.running_nodes()}:
            raise LauncherError(f"node {node_id} is running already")
        return self._restart(state, [node_id], timeout)

    def stop_node(self, node_id: int, timeout: float = 30.0) -> None:
        """Stop one node cleanly (SIGTERM; SIGKILL after `timeout`); its data stays."""
        node = self._running_node(node_id)
        self._terminate([node], timeout)

    def _recorded(self) -> ClusterState:
        state = self.state()
        if state is None:
            raise LauncherError(f"no cluster recorded in {self.spec.state_dir}; run `kafka up`")
        return state

    def _running_node(self, node_id: int) -> NodeProcess:
        self._recorded()
        for node in self.running_nodes():
            if node.node_id == node_id:
                return node
        raise LauncherError(f"node {node_id} is not running")

    def _write_state(self, state: ClusterState) -> None:
        temporary = self._state_file.with_suffix(".tmp")
        temporary.write_text(state.to_json(), encoding="utf-8")
        temporary.replace(self._state_file)

    def _java_command(self, java: str, lib: Path, node_id: int, *args: str) -> list[str]:
        node_dir = self.spec.node_dir(node_id)
        return [
            java,
            f"-Xms{self.spec.heap_mb}m",
            f"-Xmx{self.spec.heap_mb}m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.spec.state_dir / 'log4j2.properties'}",
            f"-Dkafka.logs.dir={node_dir}",
            "-cp",
            f"{lib}/*",
            *args,
        ]

    def _format_and_start(self, java: str, lib: Path) -> ClusterState:
        spec = self.spec
        spec.state_dir.mkdir(parents=True, exist_ok=True)
        (spec.state_dir / "log4j2.properties").write_text(LOG4J2_PROPERTIES, encoding="utf-8")
        cluster_id = new_cluster_id()
        formats = []
        for node_id in spec.node_ids:
            spec.node_dir(node_id).mkdir(parents=True)
            props = spec.node_dir(node_id) / "server.properties"
            props.write_text(render_properties(node_properties(spec, node_id)), encoding="utf-8")
            standalone = ["--standalone"] if spec.nodes == 1 else []
            command = self._java_command(
                java,
                lib,
                node_id,
                "kafka.tools.StorageTool",
                "format",
                f"--cluster-id={cluster_id}",  # "=": an id may begin with "-"
                "-c",
                str(props),
                *standalone,
                *scram_format_args(spec),
            )
            formats.append(
                subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            )
        for node_id, proc in zip(spec.node_ids, formats, strict=True):
            out, _ = proc.communicate(timeout=120)
            if proc.returncode != 0:
                raise LauncherError(
                    f"formatting KRaft storage of node {node_id} failed:\n"
                    + out.decode(errors="replace")[-2000:]
                )
        nodes = [self._launch(java, lib, node_id) for node_id in spec.node_ids]
        state = ClusterState(
            cluster_id, spec.bootstrap_servers, spec.sasl, KAFKA_VERSION, tuple(nodes)
        )
        self._write_state(state)
        return state

    def _launch(self, java: str, lib: Path, node_id: int) -> NodeProcess:
        spec = self.spec
        props = spec.node_dir(node_id) / "server.properties"
        stdout = (spec.node_dir(node_id) / "stdout.log").open("ab")
        with stdout:
            proc = subprocess.Popen(
                self._java_command(java, lib, node_id, "kafka.Kafka", str(props)),
                stdout=stdout,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives the CLI that started it; Ctrl-C stays ours
            )
        self._children[proc.pid] = proc
        return NodeProcess(node_id, proc.pid, spec.client_port(node_id), str(props))

    def _wait_ready(
        self,
        state: ClusterState,
        timeout: float,
        launched: list[NodeProcess],
        *,
        first_start: bool,
    ) -> None:
        """Wait until the nodes just launched answer a metadata request listing them. A first
        start that fails leaves nothing behind; a failed restart stops only what it launched
        and keeps the data (it is somebody's records)."""
        spec = self._spec_of(state)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in launched:
                if not _runs_our_command(node):
                    log_file = self.spec.node_dir(node.node_id) / "server.log"
                    stdout = self.spec.node_dir(node.node_id) / "stdout.log"
                    message = (
                        f"Kafka node {node.node_id} exited during start-up; last lines of "
                        f"{log_file}:\n{_tail(log_file)}\n--- {stdout}:\n{_tail(stdout, 10)}"
                    )
                    self._give_up(launched, first_start)
                    raise LauncherError(message)
            if cluster_answers(spec, [n.node_id for n in launched]):
                return
            time.sleep(0.3)
        self._give_up(launched, first_start)
        raise LauncherError(
            f"Kafka did not answer a metadata request within {timeout:.0f}s; see the logs in "
            f"{self.spec.state_dir}/node-*/server.log"
        )

    def _give_up(self, launched: list[NodeProcess], first_start: bool) -> None:
        if first_start:
            self.down(purge=True)
        else:
            self._terminate([n for n in launched if _runs_our_command(n)], 30.0)

    def _abandon(self) -> None:
        """Undo a start that failed half way: kill what we spawned, remove what we wrote."""
        for proc in self._children.values():
            proc.kill()
            proc.wait()
        self._children.clear()
        shutil.rmtree(self.spec.state_dir, ignore_errors=True)

    # ------------------------------------------------------------------ down
    def kill_node(self, node_id: int) -> None:
        """SIGKILL one node (fault tests): no clean shutdown, no flush."""
        node = self._running_node(node_id)
        os.kill(node.pid, signal.SIGKILL)
        self._wait_gone([node], 10.0)

    def down(self, timeout: float = 30.0, *, purge: bool = False) -> bool:
        """Stop every node we started; False if nothing ran. The data stays for the next `up`
        unless `purge`, which removes the whole state folder."""
        state = self.state()
        if state is None:
            return False
        alive = [n for n in state.nodes if _runs_our_command(n)]
        self._terminate(alive, timeout)
        # Children this object started and another process stopped (`kafka stop-node` from a
        # CLI): reap them, and stop any the state file no longer names, so none outlives us.
        for pid, child in list(self._children.items()):
            if child.poll() is None:
                child.kill()
                child.wait()
            del self._children[pid]
        if purge:
            shutil.rmtree(self.spec.state_dir, ignore_errors=True)
        return bool(alive)

    def _terminate(self, nodes: list[NodeProcess], timeout: float) -> None:
        for node in nodes:
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGTERM)
        left = self._wait_gone(nodes, timeout)
        for node in left:
            log.warning("node %s ignored SIGTERM for %.0fs; killing", node.node_id, timeout)
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, signal.SIGKILL)
        self._wait_gone(left, 10.0)

    def _wait_gone(self, nodes: list[NodeProcess], timeout: float) -> list[NodeProcess]:
        deadline = time.monotonic() + timeout
        left = list(nodes)
        while left and time.monotonic() < deadline:
            for node in list(left):
                child = self._children.get(node.pid)
                gone = child.poll() is not None if child else not _runs_our_command(node)
                if gone:
                    self._children.pop(node.pid, None)
                    left.remove(node)
            if left:
                time.sleep(0.1)
        return left
