"""Operable under faults: `node run` waits for Kafka at start-up instead of exiting, and SIGTERM
ends a node within 20 s (Kubernetes grants 30) even while Kafka is away."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from broker.clock import SystemClock
from broker.demo.setup import prepare_corridor
from broker.devkafka.config import ClusterSpec
from broker.devkafka.launcher import LocalKafka
from broker.node.config import load_node_config
from broker.transport.kafka import KafkaTransport
from tests.integration.test_node_process import corridor_configs
from tests.kafka_support import free_port_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SIGTERM_BUDGET_S = 20.0


@pytest.fixture
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    local = LocalKafka(
        ClusterSpec(state_dir=tmp_path_factory.mktemp("kafka"), port=free_port_block(2))
    )
    local.up()
    yield local
    local.down(purge=True)


class Node:
    def __init__(self, config: Path) -> None:
        self.out = config.with_suffix(".out")
        self.out.write_bytes(b"")
        with self.out.open("ab") as out, config.with_suffix(".log").open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "broker", "node", "run", "--config", str(config)],
                stdout=out,
                stderr=err,
                env=dict(os.environ),
            )

    def printed(self) -> str:
        return self.out.read_text()

    def wait_for(self, text: str, within_s: float) -> None:
        deadline = time.monotonic() + within_s
        while text not in self.printed():
            assert self.proc.poll() is None, f"exited {self.proc.returncode}: {self.printed()}"
            assert time.monotonic() < deadline, f"no {text!r} in {self.printed()!r}"
            time.sleep(0.1)

    def sigterm(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(SIGTERM_BUDGET_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError(f"still running {SIGTERM_BUDGET_S}s after SIGTERM") from None


def test_a_node_waits_for_kafka_and_stops_in_time_during_an_outage(
    own_kafka: LocalKafka, tmp_path: Path
) -> None:
    cn_path, la_path = corridor_configs(tmp_path, own_kafka.spec.bootstrap_servers)
    configs = [load_node_config(cn_path), load_node_config(la_path)]
    asyncio.run(
        prepare_corridor(KafkaTransport(configs[0].kafka), configs, tmp_path / "pki", SystemClock())
    )
    own_kafka.down()  # data kept: topics and keys are there when it comes back

    early = Node(la_path)  # started before Kafka: it waits (and says so in its log)
    time.sleep(3)
    assert early.proc.poll() is None
    assert "unreachable" in la_path.with_suffix(".log").read_text()
    assert early.sigterm() == 0  # told to stop while waiting: it stops at once
    assert "stopped while waiting for Kafka" in early.printed()

    node = Node(la_path)
    time.sleep(2)
    own_kafka.up()  # Kafka appears: the waiting node carries on by itself
    node.wait_for("consuming", 90)

    own_kafka.down()  # an outage while it serves; SIGTERM still ends it within the budget
    time.sleep(3)
    assert node.sigterm() == 0
    assert "stopped cleanly" in node.printed()
