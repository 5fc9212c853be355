"""What one node is made of; assembled once at start-up (`broker.node.assemble`) or by a test."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Protocol

from broker.clock import Clock
from broker.codec import Codec
from broker.errors import Problem
from broker.metrics import NodeMetrics
from broker.model import Declaration
from broker.node.config import NodeConfig
from broker.node.gateway import GatewayFolders
from broker.node.ledger import NodeLedger
from broker.signing.keystore import KeyStore
from broker.signing.pki import NodeIdentity
from broker.signing.replay import ReplayStore
from broker.transport.base import Transport


class LossReport(Protocol):
    @property
    def paths(self) -> Collection[str]: ...


class Rendered(Protocol):
    @property
    def data(self) -> bytes: ...
    @property
    def loss(self) -> LossReport: ...
    @property
    def warnings(self) -> tuple[Problem, ...]: ...


class DocumentFormat(Protocol):
    """What the node needs of a national format adapter (see `broker.formats`)."""

    @property
    def file_extension(self) -> str: ...
    def parse(self, data: bytes, *, source: str = "") -> Declaration: ...
    def render(self, declaration: Declaration, *, require_mandatory: bool = True) -> Rendered: ...


class FormatLookup(Protocol):
    def get(self, format_id: str) -> DocumentFormat: ...


@dataclass
class NodeParts:
    # Replaced (never mutated) when the corridor directory changes: read it per use.
    config: NodeConfig
    identity: NodeIdentity
    keys: KeyStore
    transport: Transport
    codec: Codec
    formats: FormatLookup
    clock: Clock
    metrics: NodeMetrics
    ledger: NodeLedger
    replay: ReplayStore
    gateway: GatewayFolders | None
