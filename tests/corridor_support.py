"""A small corridor for tests: national CAs, node identities, topics, key announcements.

Runs on any transport: the in-memory twin for fast node-logic tests, real Kafka for integration.
The national format is `test-json` (the canonical model as JSON) so node logic is tested apart
from the format adapters, which have tests of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from broker.clock import Clock
from broker.codec import Codec
from broker.errors import FormatError, Problem
from broker.metrics import NodeMetrics
from broker.model import Declaration, problems_from
from broker.node.config import IdentitySettings, NodeConfig, Partner, TopicSettings
from broker.node.gateway import GatewayFolders
from broker.node.ledger import NodeLedger
from broker.node.parts import FormatLookup, NodeParts
from broker.node.receiver import Delivered
from broker.node.runtime import CorridorNode
from broker.node.topics import CorridorTopics
from broker.signing.keystore import KeyStore
from broker.signing.pki import CertificateAuthority, NodeIdentity, create_ca, issue_node
from broker.signing.records import certificate_announcement
from broker.signing.replay import SqliteReplayStore
from broker.signing.trust import TrustList
from broker.transport.base import OutboundRecord, Transport
from broker.transport.memory import MemoryBroker, MemoryTransport
from broker.transport.settings import KafkaSettings


@dataclass(frozen=True)
class _Loss:
    paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Rendered:
    data: bytes
    loss: _Loss = _Loss()
    warnings: tuple[Problem, ...] = ()


class JsonFormat:
    """The canonical model as JSON: a stand-in national format for node-logic tests."""

    file_extension = "json"

    def parse(self, data: bytes, *, source: str = "") -> Declaration:
        try:
            return Declaration.model_validate_json(data)
        except ValidationError as exc:
            raise FormatError.collect("invalid", problems_from(exc, source=source)) from exc

    def render(self, declaration: Declaration, *, require_mandatory: bool = True) -> _Rendered:
        return _Rendered(declaration.model_dump_json().encode("utf-8"))


class JsonFormats:
    def get(self, format_id: str) -> JsonFormat:
        return JsonFormat()


@dataclass
class SmallCorridor:
    transport: Transport
    clock: Clock
    root: Path
    partners: dict[str, tuple[Partner, ...]]
    authorities: dict[str, CertificateAuthority] = field(default_factory=dict)
    identities: dict[str, NodeIdentity] = field(default_factory=dict)
    deliveries: dict[str, list[Delivered]] = field(default_factory=dict)
    codec: Codec = field(default_factory=Codec)
    # Fresh topic names per corridor: tests never see each other's records or offsets.
    topics: CorridorTopics = field(
        default_factory=lambda: CorridorTopics(f"test.{uuid.uuid4().hex[:12]}")
    )

    def __post_init__(self) -> None:
        for node_id in self.partners:
            country = node_id[:2]
            if country not in self.authorities:
                self.authorities[country] = create_ca(country, clock=self.clock)
            self.identities[node_id] = issue_node(
                self.authorities[country], node_id, clock=self.clock
            )

    @property
    def trust_list(self) -> TrustList:
        return TrustList(ca.certificate for ca in self.authorities.values())

    async def prepare(self) -> None:
        settings = self.topic_settings
        admin = await self.transport.admin()
        try:
            await admin.ensure_topics(self.topics.specs(list(self.partners), settings))
        finally:
            await admin.close()
        producer = self.transport.producer()
        await producer.start()
        try:
            for node_id, identity in self.identities.items():
                ca = self.authorities[node_id[:2]]
                announcement = certificate_announcement(
                    ca, identity.certificate, at=self.clock.now()
                )
                await producer.send(
                    OutboundRecord(
                        self.topics.keys,
                        announcement.value,
                        announcement.key,
                        tuple(announcement.headers),
                    )
                )
        finally:
            await producer.stop()

    @property
    def topic_settings(self) -> TopicSettings:
        return TopicSettings(namespace=self.topics.namespace)

    def config(self, node_id: str, **changes: object) -> NodeConfig:
        data: dict[str, object] = {
            "node_id": node_id,
            "format": "test-json",
            "kafka": KafkaSettings(),
            "identity": IdentitySettings(node_dir=self.root, trust_list=self.root),
            "partners": self.partners[node_id],
            "topics": self.topic_settings,
            "state_dir": self.root / "state" / node_id,
            "receipt_timeout_s": 30.0,
        }
        data.update(changes)
        return NodeConfig.model_validate(data)

    def node(
        self,
        node_id: str,
        *,
        gateway: bool = False,
        formats: FormatLookup | None = None,
        **changes: object,
    ) -> CorridorNode:
        config = self.config(node_id, **changes)
        config.state_dir.mkdir(parents=True, exist_ok=True)
        keys = KeyStore(self.trust_list)
        delivered = self.deliveries.setdefault(node_id, [])

        async def deliver(item: Delivered) -> None:
            delivered.append(item)

        parts = NodeParts(
            config=config,
            identity=self.identities[node_id],
            keys=keys,
            transport=self.transport,
            codec=self.codec,
            formats=formats or JsonFormats(),
            clock=self.clock,
            metrics=NodeMetrics(
                CollectorRegistry(), node=node_id, country=node_id[:2], fmt="test-json"
            ),
            ledger=NodeLedger(config.state_dir / "node.sqlite3"),
            replay=SqliteReplayStore(
                config.state_dir / "replay.sqlite3",
                timedelta(days=30),
                self.clock,
            ),
            gateway=GatewayFolders(self.root / "gateway" / node_id) if gateway else None,
        )
        return CorridorNode(parts, deliver=deliver)

    @contextlib.asynccontextmanager
    async def running(
        self, *, gateway: bool = True, serve: bool = False
    ) -> AsyncIterator[dict[str, CorridorNode]]:
        """Every node of `partners` started (`serve`: each running its loop, as `node run`);
        stopped and closed after."""
        started = {node_id: self.node(node_id, gateway=gateway) for node_id in self.partners}
        for node in started.values():
            await node.start()
        stop = asyncio.Event()
        loops = [asyncio.create_task(node.run(stop)) for node in started.values()] if serve else []
        try:
            yield started
        finally:
            stop.set()
            await asyncio.gather(*loops)
            for node in started.values():
                await node.stop()
                node.parts.ledger.close()

    @property
    def memory_broker(self) -> MemoryBroker:
        """The in-memory broker behind `transport` (tests that read topics directly)."""
        assert isinstance(self.transport, MemoryTransport)
        return self.transport.broker
