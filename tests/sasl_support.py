"""A local Kafka with SASL/SCRAM and deny-by-default ACLs, and the settings to log in to it.

Only the administrator exists at start (the launcher creates it when formatting); `corridor
apply` adds every member's user and ACLs, as in the demo.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from broker.demo.setup import local_admin
from broker.devkafka.config import ClusterSpec
from broker.devkafka.launcher import LocalKafka
from broker.transport.settings import KafkaSettings
from tests.kafka_support import free_port_block


@dataclass(frozen=True)
class SaslKafka:
    bootstrap_servers: str
    admin: KafkaSettings

    def as_user(self, user: str, password: str) -> KafkaSettings:
        return self.admin.model_copy(update={"username": user, "password": SecretStr(password)})


@contextlib.contextmanager
def sasl_kafka(state_dir: Path) -> Iterator[SaslKafka]:
    spec = ClusterSpec(state_dir=state_dir, port=free_port_block(2), sasl=True, heap_mb=512)
    local = LocalKafka(spec)
    local.up()
    try:
        admin = local_admin(spec).model_copy(update={"request_timeout_ms": 10_000})
        yield SaslKafka(spec.bootstrap_servers, admin)
    finally:
        local.down()
