"""Demo set-up from the corridor directory file: keys, node configs, topics, users, ACLs, entries.

The demo's PKI and node state persist in one work folder between runs (a key directory on a
long-lived Kafka keeps working); each run's traffic is new (its references carry a run id).
Every node logs in as its own SCRAM user, whose ACLs `corridor apply` derived from the directory.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from broker.clock import Clock
from broker.devkafka.config import ADMIN_USER, ClusterSpec
from broker.directory.access import KEY_PUBLISHER_USER, SECRETARIAT_USER, corridor_acls, user_name
from broker.directory.apply import ApplyReport, apply_corridor, passwords_in
from broker.directory.entries import sign_entries
from broker.directory.model import Corridor
from broker.node.config import DirectorySettings, IdentitySettings, NodeConfig, joined
from broker.node.topics import CorridorTopics
from broker.signing.corridor_pki import (
    DEMO_NODES,
    PASSPHRASE_FILE,
    TRUST_LIST_FILE,
    create_corridor_pki,
)
from broker.signing.keyfile import passphrase_from_file, write_owner_only
from broker.signing.pki import load_ca, load_node
from broker.signing.records import certificate_announcement
from broker.transport.base import OutboundRecord, Transport
from broker.transport.corridor_admin import CorridorAdmin
from broker.transport.kafka import KafkaTransport
from broker.transport.settings import KafkaSettings

FIRST_METRICS_PORT = 9464


def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def demo_directory() -> Path:
    """`deploy/corridor.toml` of the source tree the package runs from."""
    return repo_root() / "deploy" / "corridor.toml"


def identities(corridor: Corridor) -> list[str]:
    return [*(m.node_id for m in corridor.members), corridor.secretariat]


def ensure_demo_pki(pki: Path, clock: Clock, node_ids: Sequence[str] = DEMO_NODES) -> None:
    """National CAs and one identity per node of `node_ids`, unless already made."""
    wanted = list(node_ids)
    if (pki / TRUST_LIST_FILE).exists() and all((pki / "nodes" / n).is_dir() for n in wanted):
        return
    if pki.exists():  # an older demo's PKI (fewer members): the demo's own folder, remade
        shutil.rmtree(pki)
    pki.mkdir(parents=True)
    passphrase = SecretStr(secrets.token_urlsafe(24))
    write_owner_only(pki / PASSPHRASE_FILE, passphrase.get_secret_value().encode())
    create_corridor_pki(pki, wanted, passphrase, clock=clock)


async def prepare_corridor(
    transport: Transport, configs: Sequence[NodeConfig], pki: Path, clock: Clock
) -> None:
    """Create the configs' topics and announce their certificates (tests and `bench e2e`, on a
    cluster without ACLs; the demo uses `prepare_demo_corridor`)."""
    topics = CorridorTopics.of(configs[0].topics)
    admin = await transport.admin()
    try:
        await admin.ensure_topics(topics.specs([c.node_id for c in configs], configs[0].topics))
    finally:
        await admin.close()
    passphrase = passphrase_from_file(pki / PASSPHRASE_FILE)
    producer = transport.producer()
    await producer.start()
    try:
        for config in configs:
            ca = load_ca(pki / "ca" / config.country, passphrase)
            node = load_node(pki / "nodes" / config.node_id, passphrase)
            a = certificate_announcement(ca, node.certificate, at=clock.now())
            await producer.send(OutboundRecord(topics.keys, a.value, a.key, tuple(a.headers)))
    finally:
        await producer.stop()


def local_admin(spec: ClusterSpec) -> KafkaSettings:
    """The super user of a local SASL Kafka started by `broker.devkafka` (development only)."""
    return KafkaSettings(
        bootstrap_servers=spec.bootstrap_servers,
        security_protocol="SASL_PLAINTEXT",
        sasl_mechanism="SCRAM-SHA-256",  # the launcher's SCRAM_MECHANISM
        username=ADMIN_USER,
        password=SecretStr(spec.admin_password),
    )


def node_kafka(kafka: KafkaSettings, user: str, password: str) -> KafkaSettings:
    if not kafka.security_protocol.startswith("SASL"):
        return kafka
    return kafka.model_copy(update={"username": user, "password": SecretStr(password)})


def demo_configs(
    work: Path,
    corridor: Corridor,
    directory_file: Path,
    kafka: KafkaSettings,
    passwords: dict[str, str],
    *,
    metrics: bool,
    metrics_base_port: int | None = None,
) -> list[NodeConfig]:
    """One node config per member: its own Kafka user, keys, state; the directory for the rest."""
    configs = []
    base = FIRST_METRICS_PORT if metrics_base_port is None else metrics_base_port
    # Metrics ports: the four nodes of deploy/prometheus/prometheus.yml first (9464-9467).
    order = sorted(
        corridor.members,
        key=lambda m: DEMO_NODES.index(m.node_id) if m.node_id in DEMO_NODES else len(DEMO_NODES),
    )
    for index, member in enumerate(order):
        user = user_name(member.node_id)
        config = NodeConfig(
            node_id=member.node_id,
            kafka=node_kafka(kafka, user, passwords[user]),
            identity=IdentitySettings(
                node_dir=work / "pki" / "nodes" / member.node_id,
                trust_list=work / "pki" / TRUST_LIST_FILE,
                passphrase_file=work / "pki" / PASSPHRASE_FILE,
            ),
            directory=DirectorySettings(
                namespace=corridor.topics.namespace,
                file=directory_file,
                secretariat=corridor.secretariat,
            ),
            state_dir=work / "nodes" / member.node_id,
            gateway_dir=work / "gateway" / member.node_id,
            metrics_port=base + index if metrics else None,
            receipt_timeout_s=30,
        )
        configs.append(joined(config, corridor, source=str(directory_file)))
    return configs


async def prepare_demo_corridor(
    admin_kafka: KafkaSettings,
    corridor: Corridor,
    pki: Path,
    passwords: dict[str, str],
    clock: Clock,
) -> ApplyReport:
    """Apply the directory (topics, users, ACLs), announce every certificate (as the key
    publisher) and publish the directory's signed entries (as the secretariat)."""
    async with CorridorAdmin(admin_kafka) as admin:
        report = await apply_corridor(
            admin, corridor, passwords=passwords if _sasl(admin_kafka) else None
        )
    topics = CorridorTopics(corridor.topics.namespace)
    passphrase = passphrase_from_file(pki / PASSPHRASE_FILE)
    announcements = []
    for node_id in identities(corridor):
        ca = load_ca(pki / "ca" / node_id[:2], passphrase)
        node = load_node(pki / "nodes" / node_id, passphrase)
        a = certificate_announcement(ca, node.certificate, at=clock.now())
        announcements.append(OutboundRecord(topics.keys, a.value, a.key, tuple(a.headers)))
    secretariat = load_node(pki / "nodes" / corridor.secretariat, passphrase)
    entries = [
        OutboundRecord(topics.directory, e.value, e.key, tuple(e.headers))
        for e in sign_entries(corridor, secretariat, at=clock.now())
    ]
    for user, records in ((KEY_PUBLISHER_USER, announcements), (SECRETARIAT_USER, entries)):
        producer = KafkaTransport(node_kafka(admin_kafka, user, passwords.get(user, ""))).producer()
        await producer.start()
        try:
            await producer.send_many(records)
        finally:
            await producer.stop()
    return report


def _sasl(kafka: KafkaSettings) -> bool:
    return kafka.security_protocol.startswith("SASL")


def demo_passwords(work: Path, corridor: Corridor) -> dict[str, str]:
    return passwords_in(work / "credentials", sorted(corridor_acls(corridor)))
