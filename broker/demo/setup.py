"""Demo set-up: keys for four national CAs and nodes, node configs, topics, key directory.

The demo's PKI and node state persist in one work folder between runs (a key directory on a
long-lived Kafka keeps working); each run's traffic is new (its references carry a run id).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from pathlib import Path

from pydantic import SecretStr

from broker.clock import Clock
from broker.formats.registry import default_registry
from broker.node.config import NodeConfig, load_node_config
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
from broker.transport.settings import KafkaSettings


def repo_deploy_dir() -> Path:
    """`deploy/nodes/` of the source tree the package runs from."""
    return Path(__file__).resolve().parents[2] / "deploy" / "nodes"


def ensure_demo_pki(pki: Path, clock: Clock) -> None:
    """National CAs for CN, LA, TH, VN and one node each, unless already made."""
    if (pki / TRUST_LIST_FILE).exists():
        return
    pki.mkdir(parents=True, exist_ok=True)
    passphrase = SecretStr(secrets.token_urlsafe(24))
    write_owner_only(pki / PASSPHRASE_FILE, passphrase.get_secret_value().encode())
    create_corridor_pki(pki, DEMO_NODES, passphrase, clock=clock)


def demo_configs(
    work: Path, kafka: KafkaSettings, metrics: bool, metrics_base_port: int | None = None
) -> list[NodeConfig]:
    """The example configs of `deploy/nodes/`, pointed at the demo's folder and Kafka."""
    known = frozenset(default_registry().ids())
    configs = []
    for index, node_id in enumerate(DEMO_NODES):
        config = load_node_config(repo_deploy_dir() / f"{node_id}.toml", known)
        identity = config.identity.model_copy(
            update={
                "node_dir": work / "pki" / "nodes" / node_id,
                "trust_list": work / "pki" / TRUST_LIST_FILE,
                "passphrase_file": work / "pki" / PASSPHRASE_FILE,
            }
        )
        configs.append(
            config.model_copy(
                update={
                    "kafka": kafka,
                    "identity": identity,
                    "state_dir": work / "nodes" / node_id,
                    "gateway_dir": work / "gateway" / node_id,
                    "metrics_port": (
                        None
                        if not metrics
                        else config.metrics_port
                        if metrics_base_port is None
                        else metrics_base_port + index
                    ),
                }
            )
        )
    return configs


async def prepare_corridor(
    transport: Transport, configs: Sequence[NodeConfig], pki: Path, clock: Clock
) -> None:
    """Create the topics and announce every node certificate, signed by its national CA."""
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
            announcement = certificate_announcement(ca, node.certificate, at=clock.now())
            await producer.send(
                OutboundRecord(
                    topics.keys, announcement.value, announcement.key, announcement.headers
                )
            )
    finally:
        await producer.stop()
