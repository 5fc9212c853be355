"""Two processes of one node share its inbox as a consumer group: every declaration is delivered,
by one process or the other, with the partitions split between them."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest

from broker.clock import SystemClock
from broker.demo.setup import prepare_corridor
from broker.node.assemble import build_parts
from broker.node.config import load_node_config
from broker.node.ledger import NodeLedger
from broker.node.runtime import CorridorNode
from tests.integration.test_node_process import NodeProcess, corridor_configs, documents
from tests.kafka_support import KafkaEndpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def test_two_processes_of_one_node_split_its_inbox(
    kafka: KafkaEndpoint, tmp_path: Path
) -> None:
    cn_path, la_path = corridor_configs(tmp_path, kafka.bootstrap_servers)
    configs = [load_node_config(cn_path), load_node_config(la_path)]
    await prepare_corridor(
        build_parts(configs[0]).transport, configs, tmp_path / "pki", SystemClock()
    )
    # Same node, same consumer group; each process keeps its own ledger (state folder).
    states = [tmp_path / "state" / f"LA-VTE-{n}" for n in (1, 2)]
    processes = [NodeProcess(la_path, {"CUSTOMS_NODE_STATE_DIR": str(s)}) for s in states]
    for process in processes:
        process.start()
    sender = CorridorNode(build_parts(configs[0]))
    await sender.start(receive=False)
    sent = documents(60, "CQ-SCALE")
    try:
        for _, data in sent:
            await sender.submit(data)
    finally:
        await sender.stop()
        sender.parts.ledger.close()
    inbox = tmp_path / "gateway" / "LA-VTE" / "inbox"
    for _ in range(600):
        if len(list(inbox.glob("*.json"))) >= len(sent):
            break
        await asyncio.sleep(0.1)
    delivered = sorted(path.name.split(".")[-2] for path in inbox.glob("*.json"))
    assert delivered == sorted(message_id for message_id, _ in sent)
    for process in processes:
        assert process.signal(signal.SIGTERM) == 0
        process.output()
    # Both processes took part, each delivering from the partitions it was assigned.
    counts = []
    for state in states:
        ledger = NodeLedger(state / "node.sqlite3")
        counts.append(ledger.handled_count())
        ledger.close()
    assert all(count > 0 for count in counts), counts
    assert sum(counts) >= len(sent)
