"""Build a node's parts from its configuration: keys, trust list, stores, codec, formats."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client import CollectorRegistry
from pydantic import SecretStr

from broker.clock import Clock, SystemClock
from broker.codec import Codec
from broker.codec.confluent_registry import ConfluentSchemaRegistry
from broker.formats.registry import default_registry
from broker.metrics import NodeMetrics
from broker.node.config import NodeConfig
from broker.node.gateway import GatewayFolders
from broker.node.ledger import NodeLedger
from broker.node.parts import NodeParts
from broker.signing.keyfile import passphrase_from_env, passphrase_from_file
from broker.signing.keystore import KeyStore
from broker.signing.pki import load_node
from broker.signing.replay import SqliteReplayStore
from broker.signing.trust import TrustList
from broker.transport.base import Transport
from broker.transport.kafka import KafkaTransport


def key_passphrase(config: NodeConfig) -> SecretStr:
    identity = config.identity
    if identity.passphrase_file is not None:
        return passphrase_from_file(identity.passphrase_file)
    return passphrase_from_env(identity.passphrase_env)


def schema_registry(config: NodeConfig) -> ConfluentSchemaRegistry | None:
    """The Confluent Schema Registry client the node's codec uses, if it is configured."""
    settings = config.schema_registry
    if settings is None:
        return None
    return ConfluentSchemaRegistry(
        settings.url,
        subject_strategy=settings.subject_strategy,
        username=settings.username,
        password=settings.password,
        timeout_s=settings.timeout_s,
    )


def build_parts(
    config: NodeConfig,
    *,
    transport: Transport | None = None,
    clock: Clock | None = None,
    registry: CollectorRegistry | None = None,
) -> NodeParts:
    clock = clock or SystemClock()
    identity = load_node(config.identity.node_dir, key_passphrase(config))
    keys = KeyStore(TrustList.load(config.identity.trust_list))
    keys.add(identity.certificate)
    formats = default_registry()
    formats.get(config.format)  # unknown format: fail at start, not at the first message
    config.state_dir.mkdir(parents=True, exist_ok=True)
    return NodeParts(
        config=config,
        identity=identity,
        keys=keys,
        transport=transport or KafkaTransport(config.kafka),
        codec=Codec(registry=schema_registry(config)),
        formats=formats,
        clock=clock,
        metrics=NodeMetrics(
            registry or CollectorRegistry(),
            node=config.node_id,
            country=config.country,
            fmt=config.format,
        ),
        ledger=NodeLedger(config.state_dir / "node.sqlite3"),
        replay=SqliteReplayStore(
            config.state_dir / "replay.sqlite3",
            timedelta(days=config.replay_retention_days),
            clock,
            sync_each=False,  # durable once per batch: the receiver syncs before committing
        ),
        gateway=GatewayFolders(config.gateway_dir) if config.gateway_dir else None,
    )
