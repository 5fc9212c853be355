"""Where the tests' Kafka comes from, and fresh names for every test.

Order: `KAFKA_BOOTSTRAP_SERVERS` if set (an operator's cluster); else a testcontainers Kafka
(KRaft) when a Docker engine answers; else the project's own local launcher on free ports.
Never a fake broker.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from broker.devkafka.config import ClusterSpec
from broker.devkafka.launcher import LocalKafka
from broker.devkafka.launcher import free_port_block as free_port_block  # re-exported for tests


@dataclass(frozen=True)
class KafkaEndpoint:
    bootstrap_servers: str
    origin: str  # "env" | "testcontainers" | "local"


def docker_engine_answers() -> bool:
    if not (os.environ.get("DOCKER_HOST") or Path("/var/run/docker.sock").exists()):
        return False
    try:
        import docker  # type: ignore[import-untyped]  # testcontainers' dependency, no stubs

        docker.from_env(timeout=3).ping()
    except Exception:  # noqa: BLE001 - any failure means: no usable engine
        return False
    return True


@contextlib.contextmanager
def provide_kafka(state_root: Path) -> Iterator[KafkaEndpoint]:
    explicit = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if explicit:
        yield KafkaEndpoint(explicit, "env")
        return
    if docker_engine_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer("confluentinc/cp-kafka:7.9.0").with_kraft() as container:
            yield KafkaEndpoint(container.get_bootstrap_server(), "testcontainers")
        return
    spec = ClusterSpec(state_dir=state_root / "kafka", port=free_port_block(2), heap_mb=512)
    local = LocalKafka(spec)
    local.up()
    try:
        yield KafkaEndpoint(spec.bootstrap_servers, "local")
    finally:
        local.down()


class Names:
    """Fresh topic and group names per test, so tests never see each other's records."""

    def __init__(self, test_name: str) -> None:
        safe = "".join(c if c.isalnum() else "-" for c in test_name)[:60]
        self._prefix = f"t.{safe}.{uuid.uuid4().hex[:8]}"

    def topic(self, suffix: str = "main") -> str:
        return f"{self._prefix}.{suffix}"

    def group(self, suffix: str = "g") -> str:
        return f"{self._prefix}.group.{suffix}"
