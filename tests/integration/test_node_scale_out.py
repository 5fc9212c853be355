"""Two processes of one node share its inbox as a consumer group: every declaration is delivered,
by one process or the other, with the partitions split between them."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from broker.clock import SystemClock
from broker.demo.setup import prepare_corridor
from broker.node.assemble import build_parts
from broker.node.config import load_node_config
from broker.node.ledger import NodeLedger
from broker.node.runtime import CorridorNode
from tests.integration.test_node_process import NodeProcess, corridor_configs, documents
from tests.kafka_support import KafkaEndpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


async def two_receivers_and_a_sender(
    kafka: KafkaEndpoint, tmp_path: Path
) -> tuple[list[Path], list[NodeProcess], CorridorNode]:
    """LA-VTE as two `node run` processes (same node, same consumer group; each keeps its own
    ledger in its own state folder) and a started CN-CQ sender in this process."""
    cn_path, la_path = corridor_configs(tmp_path, kafka.bootstrap_servers)
    configs = [load_node_config(cn_path), load_node_config(la_path)]
    await prepare_corridor(
        build_parts(configs[0]).transport, configs, tmp_path / "pki", SystemClock()
    )
    states = [tmp_path / "state" / f"LA-VTE-{n}" for n in (1, 2)]
    processes = [NodeProcess(la_path, {"CUSTOMS_NODE_STATE_DIR": str(s)}) for s in states]
    for process in processes:
        process.start()
    sender = CorridorNode(build_parts(configs[0]))
    await sender.start(receive=False)
    return states, processes, sender


async def test_two_processes_of_one_node_split_its_inbox(
    kafka: KafkaEndpoint, tmp_path: Path
) -> None:
    states, processes, sender = await two_receivers_and_a_sender(kafka, tmp_path)
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


async def test_a_process_killed_mid_burst_and_copies_on_other_partitions_deliver_once(
    kafka: KafkaEndpoint, tmp_path: Path
) -> None:
    states, processes, sender = await two_receivers_and_a_sender(kafka, tmp_path)
    sent = documents(120, "CQ-KILL2")
    inbox = tmp_path / "gateway" / "LA-VTE" / "inbox"
    try:
        for _, data in sent[:60]:
            await sender.submit(data)
        for _ in range(600):  # mid-burst
            if len(list(inbox.glob("*.json"))) >= 15:
                break
            await asyncio.sleep(0.02)
        assert processes[0].signal(signal.SIGKILL) == -signal.SIGKILL
        processes[0].output()
        for _, data in sent[60:]:
            await sender.submit(data)
        # A hub operator copies records onto other partitions of the inbox (plain client).
        topic = sender.topics.inbox("LA-VTE")
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest"
        )
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
        await consumer.start()
        await producer.start()
        try:
            batches = await consumer.getmany(timeout_ms=5000, max_records=10)
            originals = [r for batch in batches.values() for r in batch][:10]
            for record in originals:
                await producer.send_and_wait(
                    topic, record.value, key=record.key, headers=list(record.headers),
                    partition=(record.partition + 1) % 3,
                )  # fmt: skip
        finally:
            await consumer.stop()
            await producer.stop()
        assert len(originals) == 10
        processes[0].start()  # back, with the state it had
        for _ in range(600):
            if len(list(inbox.glob("*.json"))) >= len(sent):
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(3)  # the copies are read too
    finally:
        await sender.stop()
        sender.parts.ledger.close()
    delivered = sorted(path.name.split(".")[-2] for path in inbox.glob("*.json"))
    assert delivered == sorted(message_id for message_id, _ in sent)
    for process in processes:
        assert process.signal(signal.SIGTERM) == 0
        process.output()
    # Exactly once: across both processes, one ledger row per declaration (a record read again
    # by the survivor, or a copy on another partition, was recognised and not delivered again).
    counts = []
    for state in states:
        ledger = NodeLedger(state / "node.sqlite3")
        counts.append(ledger.handled_count())
        ledger.close()
    assert sum(counts) == len(sent), counts
