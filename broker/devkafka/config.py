"""Pure description of a local KRaft cluster and the `server.properties` of each node.

No I/O here: the launcher writes these files and starts the processes. Every node runs in
combined mode (broker + controller) on 127.0.0.1; node `i` (1-based) listens for clients on
`port + 2*(i-1)` and for the controller quorum on the port after it.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from broker.errors import LauncherError

KAFKA_VERSION = "4.1.1"
LOG4J_VERSION = "2.25.3"
# Kafka 4.1 pulls slf4j-api 1.7.x, so the matching log4j2 binding is log4j-slf4j-impl.
KAFKA_ARTIFACTS: tuple[str, ...] = (
    f"org.apache.kafka:kafka_2.13:{KAFKA_VERSION}",
    f"org.apache.logging.log4j:log4j-core:{LOG4J_VERSION}",
    f"org.apache.logging.log4j:log4j-slf4j-impl:{LOG4J_VERSION}",
)
SCRAM_MECHANISM = "SCRAM-SHA-256"
ADMIN_USER = "admin"


@dataclass(frozen=True)
class ClusterSpec:
    """What to start: how many nodes, where, and whether clients must authenticate."""

    state_dir: Path
    nodes: int = 1
    port: int = 9092
    sasl: bool = False
    admin_password: str = "admin-secret"  # noqa: S105 - local development cluster only
    heap_mb: int = 512
    # Extra SCRAM users created at format time: name -> password.
    users: dict[str, str] = field(default_factory=dict)
    overrides: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = []
        if self.nodes not in (1, 3):
            problems.append(f"nodes must be 1 or 3, got {self.nodes}")
        if not 1024 <= self.port <= 65535 - 2 * self.nodes:
            problems.append(f"port {self.port} out of range 1024..{65535 - 2 * self.nodes}")
        if not 256 <= self.heap_mb <= 4096:
            problems.append(f"heap_mb {self.heap_mb} out of range 256..4096")
        if problems:
            raise LauncherError("invalid cluster settings: " + "; ".join(problems))

    @property
    def node_ids(self) -> range:
        return range(1, self.nodes + 1)

    def client_port(self, node_id: int) -> int:
        return self.port + 2 * (node_id - 1)

    def controller_port(self, node_id: int) -> int:
        return self.client_port(node_id) + 1

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{self.client_port(n)}" for n in self.node_ids)

    @property
    def all_ports(self) -> list[int]:
        return [p for n in self.node_ids for p in (self.client_port(n), self.controller_port(n))]

    def node_dir(self, node_id: int) -> Path:
        return self.state_dir / f"node-{node_id}"

    @property
    def replication_factor(self) -> int:
        return 3 if self.nodes == 3 else 1

    @property
    def min_insync_replicas(self) -> int:
        return 2 if self.nodes == 3 else 1


def new_cluster_id() -> str:
    """Kafka's cluster id format: URL-safe base64 of 16 random bytes, unpadded (22 chars).

    Never starting with "-" (as Kafka's own Uuid.randomUuid ensures): a command line would
    read it as an option.
    """
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def node_properties(spec: ClusterSpec, node_id: int) -> dict[str, str]:
    """The `server.properties` of one node, as an ordered mapping."""
    client = "SASL_PLAINTEXT" if spec.sasl else "PLAINTEXT"
    host = "127.0.0.1"
    props: dict[str, str] = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "listeners": f"{client}://{host}:{spec.client_port(node_id)},"
        f"CONTROLLER://{host}:{spec.controller_port(node_id)}",
        "advertised.listeners": f"{client}://{host}:{spec.client_port(node_id)},"
        f"CONTROLLER://{host}:{spec.controller_port(node_id)}",
        "inter.broker.listener.name": client,
        "controller.listener.names": "CONTROLLER",
        "listener.security.protocol.map": f"CONTROLLER:PLAINTEXT,{client}:{client}",
        "log.dirs": str(spec.node_dir(node_id) / "data"),
        "num.partitions": "3",
        "default.replication.factor": str(spec.replication_factor),
        "min.insync.replicas": str(spec.min_insync_replicas),
        "offsets.topic.replication.factor": str(spec.replication_factor),
        # 50 partitions per internal topic is wasteful on a 2-core development machine.
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.replication.factor": str(spec.replication_factor),
        "transaction.state.log.min.isr": str(spec.min_insync_replicas),
        "transaction.state.log.num.partitions": "6",
        "share.coordinator.state.topic.replication.factor": str(spec.replication_factor),
        "share.coordinator.state.topic.min.isr": str(spec.min_insync_replicas),
        "group.initial.rebalance.delay.ms": "0",
        "auto.create.topics.enable": "false",
        # The cleaner's 128 MB default buffer is oversized for 512 MB development heaps.
        "log.cleaner.dedupe.buffer.size": str(16 * 1024 * 1024),
    }
    if spec.nodes == 1:
        props["controller.quorum.bootstrap.servers"] = f"{host}:{spec.controller_port(1)}"
    else:
        props["controller.quorum.voters"] = ",".join(
            f"{n}@{host}:{spec.controller_port(n)}" for n in spec.node_ids
        )
    if spec.sasl:
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN_USER}" password="{spec.admin_password}";'
        )
        props |= {
            "sasl.enabled.mechanisms": SCRAM_MECHANISM,
            "sasl.mechanism.inter.broker.protocol": SCRAM_MECHANISM,
            "listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config": jaas,
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found": "false",
            # The controller listener is PLAINTEXT, so controllers see each other as ANONYMOUS;
            # without it as a super user KRaft refuses their votes.
            "super.users": f"User:{ADMIN_USER};User:ANONYMOUS",
        }
    props |= spec.overrides
    return props


def render_properties(props: dict[str, str]) -> str:
    for key, value in props.items():
        if "\n" in key or "\n" in value:
            raise LauncherError(f"property {key!r} contains a newline")
    return "".join(f"{key}={value}\n" for key, value in props.items())


def scram_format_args(spec: ClusterSpec) -> list[str]:
    """`--add-scram` arguments for `StorageTool format`: users must exist before start."""
    if not spec.sasl:
        return []
    users = {ADMIN_USER: spec.admin_password, **spec.users}
    args = []
    for name, password in users.items():
        if any(c in name + password for c in ",=[]\"'"):
            raise LauncherError(f"SCRAM user {name!r}: name and password must not contain ,=[]\"'")
        args += ["--add-scram", f"{SCRAM_MECHANISM}=[name={name},password={password}]"]
    return args


LOG4J2_PROPERTIES = """\
status = error
name = customs-broker-devkafka
appender.file.type = File
appender.file.name = FILE
appender.file.fileName = ${sys:kafka.logs.dir}/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = FILE
logger.kafka.name = kafka
logger.kafka.level = INFO
logger.apache.name = org.apache.kafka
logger.apache.level = INFO
"""
