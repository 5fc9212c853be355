"""`customs-broker node run` as a real process on real Kafka: SIGKILL mid-stream loses nothing and
delivers nothing twice; SIGTERM drains and exits cleanly; a Kafka outage never marks a file sent."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from broker.clock import SystemClock
from broker.demo.setup import ensure_demo_pki, prepare_corridor
from broker.devkafka.config import ClusterSpec
from broker.devkafka.launcher import LocalKafka
from broker.directory.load import write_small_corridor
from broker.model.samples import sample_declaration
from broker.node.assemble import build_parts
from broker.node.config import NodeConfig, load_node_config
from broker.node.ledger import DeliveryStatus
from broker.node.runtime import CorridorNode
from broker.transport.kafka import KafkaTransport
from tests.kafka_support import KafkaEndpoint, free_port_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def write_config(root: Path, node_id: str, partner: str, bootstrap: str, namespace: str) -> Path:
    path = root / f"{node_id}.toml"
    path.write_text(
        f"""
node_id = "{node_id}"
format = "canonical-json"
state_dir = "state/{node_id}"
gateway_dir = "gateway/{node_id}"
receipt_timeout_s = 60

[kafka]
bootstrap_servers = "{bootstrap}"
request_timeout_ms = 4000

[identity]
node_dir = "pki/nodes/{node_id}"
trust_list = "pki/trust-list.pem"
passphrase_file = "pki/passphrase.txt"

[directory]
file = "corridor-{namespace}.toml"
namespace = "{namespace}"
""",
        encoding="utf-8",
    )
    formats = {node_id: "canonical-json", partner: "canonical-json"}
    write_small_corridor(root / f"corridor-{namespace}.toml", formats, namespace)
    return path


def corridor_configs(root: Path, bootstrap: str) -> tuple[Path, Path]:
    ensure_demo_pki(root / "pki", SystemClock())
    namespace = f"test.{uuid.uuid4().hex[:10]}"
    return (
        write_config(root, "CN-CQ", "LA-VTE", bootstrap, namespace),
        write_config(root, "LA-VTE", "CN-CQ", bootstrap, namespace),
    )


class NodeProcess:
    """`python -m broker node run --config FILE` in its own process group."""

    def __init__(self, config: Path, env: dict[str, str] | None = None) -> None:
        self.config = config
        self.env = {**os.environ, **(env or {})}
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        # Logs (stderr) go to a file: an undrained pipe would fill up and stall the node.
        with (self.config.parent / f"{self.config.stem}.log").open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "broker", "node", "run", "--config", str(self.config)],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                env=self.env,
            )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()  # printed once it consumes
        assert "consuming" in line, line + self.proc.stdout.read()

    def signal(self, signum: int) -> int:
        assert self.proc is not None
        self.proc.send_signal(signum)
        return self.proc.wait(timeout=60)

    def output(self) -> str:
        """What it printed (after it exited); closes our end of its pipe."""
        assert self.proc is not None
        assert self.proc.stdout is not None
        with self.proc.stdout:
            return self.proc.stdout.read()


def documents(count: int, run: str) -> list[tuple[str, bytes]]:
    out = []
    for i in range(count):
        declaration = sample_declaration(lines=2, reference=f"{run}-{i:03d}").model_copy(
            update={"itinerary": ("CN", "LA"), "entry_place": "LAVTE", "message_id": uuid.uuid4()}
        )
        out.append((str(declaration.message_id), declaration.model_dump_json().encode()))
    return out


@pytest.fixture
async def sender(kafka: KafkaEndpoint, tmp_path: Path) -> AsyncIterator[tuple[CorridorNode, Path]]:
    cn_path, la_path = corridor_configs(tmp_path, kafka.bootstrap_servers)
    configs = [load_node_config(cn_path), load_node_config(la_path)]
    transport = KafkaTransport(configs[0].kafka)
    await prepare_corridor(transport, configs, tmp_path / "pki", SystemClock())
    node = CorridorNode(build_parts(configs[0]))
    await node.start()
    stop = asyncio.Event()
    loop = asyncio.create_task(node.run(stop))
    yield node, la_path
    stop.set()
    await loop
    await node.stop()
    node.parts.ledger.close()


async def test_sigkill_mid_stream_then_restart_delivers_every_declaration_once(
    sender: tuple[CorridorNode, Path],
) -> None:
    node, la_path = sender
    inbox = la_path.parent / "gateway" / "LA-VTE" / "inbox"
    receiver = NodeProcess(la_path)
    receiver.start()
    sent = documents(80, "CQ-KILL")
    for _, data in sent[:40]:
        await node.submit(data)
    for _ in range(600):  # mid-stream: some delivered, some not
        if len(list(inbox.glob("*.json"))) >= 10:
            break
        await asyncio.sleep(0.05)
    assert receiver.signal(signal.SIGKILL) == -signal.SIGKILL
    receiver.output()
    for _, data in sent[40:]:  # the sender goes on while the receiver is dead
        await node.submit(data)
    receiver.start()
    expected = {message_id for message_id, _ in sent}
    for _ in range(600):
        files = list(inbox.glob("*.json"))
        if len(files) >= len(sent):
            break
        await asyncio.sleep(0.1)
    delivered_ids = [f.name.split(".")[-2] for f in inbox.glob("*.json")]
    assert sorted(delivered_ids) == sorted(expected)  # all of them, none twice
    assert not list(inbox.glob(".*"))  # no half-written file left behind

    for _ in range(300):  # receipts: every declaration acknowledged, none lost
        rows = [row for mid, _ in sent for row in node.parts.ledger.by_message(mid)]
        if rows and all(r.status is DeliveryStatus.DELIVERED for r in rows):
            break
        await asyncio.sleep(0.1)
    assert {r.status for r in rows} == {DeliveryStatus.DELIVERED}

    assert receiver.signal(signal.SIGTERM) == 0  # drains, commits, exits cleanly
    assert "stopped cleanly" in receiver.output()


@pytest.fixture
def own_kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    """A broker this test may take down (the session's broker stays up for the others)."""
    local = LocalKafka(
        ClusterSpec(state_dir=tmp_path_factory.mktemp("outage"), port=free_port_block(2))
    )
    local.up()
    yield local
    local.down()


async def test_kafka_outage_leaves_gateway_files_in_the_outbox(
    own_kafka: LocalKafka, tmp_path: Path
) -> None:
    cn_path, la_path = corridor_configs(tmp_path, own_kafka.spec.bootstrap_servers)
    configs: list[NodeConfig] = [load_node_config(cn_path), load_node_config(la_path)]
    await prepare_corridor(
        KafkaTransport(configs[0].kafka), configs, tmp_path / "pki", SystemClock()
    )
    node = CorridorNode(build_parts(configs[0]))
    await node.start(receive=False)
    gateway = node.parts.gateway
    assert gateway is not None
    gateway.create()
    stop = asyncio.Event()
    loop = asyncio.create_task(node._gateway_loop(stop))
    [(_, first), (_, second)] = documents(2, "CQ-OUT")
    try:
        (gateway.outbox / ".first.json.part").write_bytes(first[:40])  # half-written
        (gateway.outbox / "first.json").write_bytes(first)
        for _ in range(100):
            if (gateway.sent / "first.json").exists():
                break
            await asyncio.sleep(0.1)
        assert (gateway.sent / "first.json").exists()
        assert (gateway.outbox / ".first.json.part").exists()

        await asyncio.to_thread(own_kafka.down)  # the corridor's Kafka goes away
        (gateway.outbox / "second.json").write_bytes(second)
        await asyncio.sleep(8)  # longer than the producer's request timeout
        assert (gateway.outbox / "second.json").exists()
        assert not (gateway.sent / "second.json").exists()
        assert not (gateway.failed / "second.json").exists()  # it waits, it is not broken
    finally:
        stop.set()
        await loop
        await node.stop()
        node.parts.ledger.close()
