"""The corridor at scale: N members applied to a SASL Kafka with ACLs, a node with N-1 partners.

One run, on a fresh local Kafka (SASL/SCRAM, deny-by-default ACLs) it starts and stops:
1. generate an N-member directory (`corridor generate --members N`), apply it (topics, users,
   ACLs) and time it; count the cluster's metadata and ACL bindings;
2. announce every certificate, publish the directory's signed entries;
3. start one node (CN-CQ, N-1 partners) as its own `customs-broker node run` process, following
   the directory topic: time from spawn to "consuming" and its resident memory;
4. run a sample of nodes in this process, each as its own Kafka user, with traffic between them,
   and count what was delivered and acknowledged;
5. the broker's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from broker.clock import SystemClock
from broker.demo.setup import demo_directory, local_admin, node_kafka
from broker.devkafka.config import ClusterSpec
from broker.devkafka.launcher import LocalKafka, port_is_free
from broker.directory.access import KEY_PUBLISHER_USER, SECRETARIAT_USER, corridor_acls, user_name
from broker.directory.apply import apply_corridor, passwords_in
from broker.directory.entries import sign_entries
from broker.directory.generate import scaled_corridor
from broker.directory.load import corridor_toml, load_corridor
from broker.directory.model import Corridor
from broker.model.samples import sample_declaration
from broker.node.assemble import build_parts
from broker.node.config import DirectorySettings, IdentitySettings, NodeConfig, joined
from broker.node.ledger import DeliveryStatus
from broker.node.runtime import CorridorNode
from broker.node.topics import CorridorTopics
from broker.signing.corridor_pki import PASSPHRASE_FILE, TRUST_LIST_FILE
from broker.signing.keyfile import write_owner_only, write_public_file
from broker.signing.pki import NodeIdentity, create_ca, issue_node, save_node
from broker.signing.records import certificate_announcement
from broker.signing.trust import TrustList
from broker.transport.base import OutboundRecord
from broker.transport.corridor_admin import CorridorAdmin
from broker.transport.kafka import KafkaTransport
from broker.transport.settings import KafkaSettings

MEASURED = "CN-CQ"
# Sample nodes in distinct countries, so a declaration's country has exactly one running node.
SAMPLE = ("CN-CQ", "LA-VTE", "TH-BKK", "VN-HAN", "KZ-ALA", "SG-SIN", "MY-KUL", "MM-RGN")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=int, default=145)
    parser.add_argument("--port", type=int, help="local Kafka port (default: a free one)")
    parser.add_argument("--declarations", type=int, default=10, help="per sample node")
    parser.add_argument("--heap-mb", type=int, default=768, help="the local Kafka's heap")


def _rss_kb(pid: int, field: str = "VmRSS") -> int:
    for line in Path(f"/proc/{pid}/status").read_text(encoding="ascii").splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _free_port() -> int:
    """A client port whose controller port (the next one) is free too."""
    for port in range(29_100, 29_900, 7):
        if port_is_free(port) and port_is_free(port + 1):
            return port
    raise RuntimeError("no two consecutive free ports in 29100-29900")


class _Pki:
    """National CAs and every identity in memory; saved to disk only for the nodes that run."""

    def __init__(self, corridor: Corridor, root: Path) -> None:
        clock = SystemClock()
        self.root = root
        self.passphrase = SecretStr(secrets.token_urlsafe(24))
        countries = {m.ca_country for m in corridor.members} | {corridor.secretariat[:2]}
        self.authorities = {c: create_ca(c, clock=clock) for c in sorted(countries)}
        ids = [*(m.node_id for m in corridor.members), corridor.secretariat]
        self.identities: dict[str, NodeIdentity] = {
            n: issue_node(self.authorities[n[:2]], n, clock=clock) for n in ids
        }
        root.mkdir(parents=True, exist_ok=True)
        write_owner_only(root / PASSPHRASE_FILE, self.passphrase.get_secret_value().encode())
        trust = TrustList(ca.certificate for ca in self.authorities.values())
        write_public_file(root / TRUST_LIST_FILE, trust.to_pem())

    def save(self, node_id: str) -> None:
        save_node(self.identities[node_id], self.root / "nodes" / node_id, self.passphrase)


def _config(
    root: Path, corridor: Corridor, directory: Path, node_id: str, kafka: KafkaSettings
) -> NodeConfig:
    config = NodeConfig(
        node_id=node_id,
        kafka=kafka,
        identity=IdentitySettings(
            node_dir=root / "pki" / "nodes" / node_id,
            trust_list=root / "pki" / TRUST_LIST_FILE,
            passphrase_file=root / "pki" / PASSPHRASE_FILE,
        ),
        directory=DirectorySettings(
            namespace=corridor.topics.namespace, file=directory, secretariat=corridor.secretariat
        ),
        state_dir=root / "state" / node_id,
        receipt_timeout_s=60,
    )
    return joined(config, corridor)


def _node_toml(root: Path, directory: Path, node_id: str, kafka: KafkaSettings) -> Path:
    path = root / f"{node_id}.toml"
    path.write_text(
        f'node_id = "{node_id}"\nstate_dir = "state/{node_id}-process"\n'
        f'[kafka]\nbootstrap_servers = "{kafka.bootstrap_servers}"\n'
        'security_protocol = "SASL_PLAINTEXT"\nsasl_mechanism = "SCRAM-SHA-256"\n'
        f'username = "{kafka.username}"\n'
        f'[identity]\nnode_dir = "pki/nodes/{node_id}"\ntrust_list = "pki/{TRUST_LIST_FILE}"\n'
        f'passphrase_file = "pki/{PASSPHRASE_FILE}"\n'
        f'[directory]\nfile = "{directory.name}"\nsecretariat = "CN-ILSTC"\n',
        encoding="utf-8",
    )
    return path


def _measure_node_process(config: Path, password: str) -> tuple[float, int]:
    """Seconds from spawn to the "consuming" line, and peak resident memory (kB)."""
    env = {**os.environ, "CUSTOMS_NODE_KAFKA__PASSWORD": password}
    began = time.monotonic()
    with (config.parent / f"{config.stem}.log").open("a") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "broker", "node", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        ready = time.monotonic() - began
        if "consuming" not in line:
            raise RuntimeError(f"node did not start: {line}{process.stdout.read()}")
        time.sleep(2.0)  # settled: the inbox consumer joined its group
        memory = _rss_kb(process.pid, "VmHWM")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        if process.stdout is not None:
            process.stdout.close()
    return ready, memory


async def _traffic(
    root: Path,
    corridor: Corridor,
    directory: Path,
    kafka: KafkaSettings,
    passwords: dict[str, str],
    per_node: int,
) -> dict[str, Any]:
    nodes: dict[str, CorridorNode] = {}
    for node_id in SAMPLE:
        user = user_name(node_id)
        config = _config(
            root, corridor, directory, node_id, node_kafka(kafka, user, passwords[user])
        )
        nodes[node_id] = CorridorNode(build_parts(config, registry=CollectorRegistry()))
    began = time.monotonic()
    await asyncio.gather(*(node.start() for node in nodes.values()))
    started = time.monotonic() - began
    stop = asyncio.Event()
    loops = [asyncio.create_task(node.run(stop)) for node in nodes.values()]
    expected: list[tuple[str, str]] = []  # (sender, reference)
    try:
        for index, sender in enumerate(SAMPLE):
            recipient = SAMPLE[(index + 1) % len(SAMPLE)]
            if recipient[:2] == "CN":  # China has six districts in the corridor: skip it here
                recipient = SAMPLE[(index + 2) % len(SAMPLE)]
            for number in range(per_node):
                reference = f"BC{uuid.uuid4().hex[:10].upper()}{number}"
                sample = sample_declaration(lines=2, reference=reference)
                assert sample.importer is not None
                declaration = sample.model_copy(
                    update={
                        "itinerary": (sender[:2], recipient[:2]),
                        "entry_place": None,
                        "exit_place": None,
                        "importer": sample.importer.model_copy(update={"country": recipient[:2]}),
                        "message_id": uuid.uuid4(),
                    }
                )
                await nodes[sender].submit(declaration.model_dump_json().encode(), "canonical-json")
                expected.append((sender, reference))
        deadline = time.monotonic() + 90
        done = 0
        while time.monotonic() < deadline:
            done = sum(
                1
                for sender, reference in expected
                for row in nodes[sender].parts.ledger.by_reference(reference)
                if row.status is DeliveryStatus.DELIVERED
            )
            if done >= len(expected):
                break
            await asyncio.sleep(0.5)
    finally:
        stop.set()
        await asyncio.gather(*loops, return_exceptions=True)
        for node in nodes.values():
            await node.stop()
            node.parts.ledger.close()
    return {
        "sample_nodes": len(nodes),
        "sample_nodes_started_s": round(started, 2),
        "sample_declarations": len(expected),
        "sample_acknowledged": done,
    }


async def _publish(kafka: KafkaSettings, records: list[OutboundRecord]) -> None:
    producer = KafkaTransport(kafka).producer()
    await producer.start()
    try:
        await producer.send_many(records)
    finally:
        await producer.stop()


async def _bench(args: argparse.Namespace, root: Path, spec: ClusterSpec) -> dict[str, Any]:
    base = load_corridor(demo_directory())
    corridor = scaled_corridor(base, args.members)
    directory = root / "corridor.toml"
    directory.write_text(corridor_toml(corridor), encoding="utf-8")
    admin = local_admin(spec)
    passwords = passwords_in(root / "credentials", sorted(corridor_acls(corridor)))
    began = time.monotonic()
    async with CorridorAdmin(admin) as cluster:
        report = await apply_corridor(cluster, corridor, passwords=passwords)
        applied = time.monotonic() - began
        metadata = await cluster.cluster_metadata()
        acl_count = await cluster.count_acls()
    began = time.monotonic()
    pki = _Pki(corridor, root / "pki")
    for node_id in {MEASURED, *SAMPLE}:
        pki.save(node_id)
    topics = CorridorTopics(corridor.topics.namespace)
    announcements = []
    for node_id, identity in pki.identities.items():
        a = certificate_announcement(pki.authorities[node_id[:2]], identity.certificate,
                                     at=SystemClock().now())  # fmt: skip
        announcements.append(OutboundRecord(topics.keys, a.value, a.key, a.headers))
    entries = [
        OutboundRecord(topics.directory, e.value, e.key, e.headers)
        for e in sign_entries(
            corridor, pki.identities[corridor.secretariat], at=SystemClock().now()
        )
    ]
    await _publish(
        node_kafka(admin, KEY_PUBLISHER_USER, passwords[KEY_PUBLISHER_USER]), announcements
    )
    await _publish(node_kafka(admin, SECRETARIAT_USER, passwords[SECRETARIAT_USER]), entries)
    published = time.monotonic() - began
    user = user_name(MEASURED)
    node_config = _node_toml(root, directory, MEASURED, node_kafka(admin, user, passwords[user]))
    ready_s, node_kb = await asyncio.to_thread(_measure_node_process, node_config, passwords[user])
    traffic = await _traffic(root, corridor, directory, admin, passwords, args.declarations)
    state = LocalKafka(spec).state()
    broker_kb = sum(_rss_kb(node.pid) for node in state.nodes) if state else 0
    return {
        "members": len(corridor.members),
        "partners_of_measured_node": len(corridor.partners_of(MEASURED)),
        "topics_created": len(report.created),
        "partitions_in_cluster": metadata["partitions"],
        "topics_in_cluster": metadata["topics"],
        "scram_users": report.users,
        "acl_bindings_applied": report.acls,
        "acl_bindings_in_cluster": acl_count,
        "apply_s": round(applied, 2),
        "apply_target_s": 60,
        "pki_and_publish_s": round(published, 2),
        "directory_entries": len(entries),
        "key_announcements": len(announcements),
        "node_ready_s": round(ready_s, 2),
        "node_ready_target_s": 5,
        "node_peak_rss_mb": round(node_kb / 1024, 1),
        "node_rss_target_mb": 150,
        **traffic,
        "broker_rss_mb": round(broker_kb / 1024, 1),
        "broker_heap_mb": spec.heap_mb,
        "cpu_cores": os.cpu_count() or 0,
        "note": "shared 2-core machine: other work ran at the same time",
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    logging.getLogger("broker").setLevel(logging.WARNING)  # the numbers, not every delivery
    with tempfile.TemporaryDirectory(prefix="customs-bench-corridor-") as tmp:
        root = Path(tmp)
        spec = ClusterSpec(
            state_dir=root / "kafka", port=args.port or _free_port(), sasl=True,
            heap_mb=args.heap_mb,
        )  # fmt: skip
        local = LocalKafka(spec)
        local.up()
        try:
            return asyncio.run(_bench(args, root, spec))
        finally:
            local.down()
