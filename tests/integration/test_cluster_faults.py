"""A 3-broker KRaft cluster (RF 3, min ISR 2) keeps every acked record after a SIGKILL, and one
broker can be stopped and started again on its own (`kafka stop-node N` / `start-node N`)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from broker.devkafka.config import ClusterSpec
from broker.devkafka.launcher import LocalKafka
from tests.kafka_support import free_port_block


def cli(cluster: LocalKafka, *args: str) -> subprocess.CompletedProcess[str]:
    where = ["--port", str(cluster.spec.port), "--state-dir", str(cluster.spec.state_dir)]
    return subprocess.run(
        [sys.executable, "-m", "broker", "kafka", *args, *where],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    state: Path = tmp_path_factory.mktemp("three-nodes")
    local = LocalKafka(ClusterSpec(state_dir=state, nodes=3, port=free_port_block(6)))
    local.up(timeout=150)
    try:
        yield local
    finally:
        local.down(purge=True)


async def _leader_of(admin: AIOKafkaAdminClient, topic: str) -> int:
    # A new topic's partitions show up in metadata a moment after CreateTopics returns.
    for _ in range(100):
        described = await admin.describe_topics([topic])
        partitions = described[0]["partitions"] if described else []
        if partitions and partitions[0]["leader"] >= 0:
            return int(partitions[0]["leader"])
        await asyncio.sleep(0.1)
    raise AssertionError(f"no leader elected for {topic}")


async def test_sigkill_of_the_leader_loses_no_acked_record(cluster: LocalKafka) -> None:
    bootstrap = cluster.spec.bootstrap_servers
    topic = "faults.acked"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, 1, 3, topic_configs={"min.insync.replicas": "2"})]
        )
        leader = await _leader_of(admin, topic)
    finally:
        await admin.close()

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, request_timeout_ms=30000
    )
    await producer.start()
    acked: list[bytes] = []
    try:
        for i in range(300):
            value = f"before-{i}".encode()
            await (await producer.send(topic, value))  # wait for the ack of each record
            acked.append(value)
        cluster.kill_node(leader)  # no clean shutdown: page cache and in-flight state are lost
        for i in range(300):
            value = f"after-{i}".encode()
            await (await producer.send(topic, value))
            acked.append(value)
    finally:
        await producer.stop()

    survivors = ",".join(
        f"127.0.0.1:{cluster.spec.client_port(n)}" for n in cluster.spec.node_ids if n != leader
    )
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=survivors, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    seen: list[bytes] = []
    try:
        while len(seen) < len(acked):
            batch = await consumer.getmany(timeout_ms=5000)
            if not batch:
                break
            for records in batch.values():
                seen.extend(r.value for r in records if r.value is not None)
    finally:
        await consumer.stop()
    assert seen == acked  # all of them, once each, in order


async def _isr(bootstrap: str, topic: str) -> set[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [described] = await admin.describe_topics([topic])
        return {int(n) for n in described["partitions"][0]["isr"]}
    finally:
        await admin.close()


async def test_one_broker_stops_and_starts_again_and_rejoins_the_isr(cluster: LocalKafka) -> None:
    # Runs after the SIGKILL test: `up` first starts whatever node is still down.
    assert cli(cluster, "up").returncode == 0
    bootstrap = cluster.spec.bootstrap_servers
    topic = "faults.restart"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 3)])
        await _leader_of(admin, topic)
    finally:
        await admin.close()

    stopped = cli(cluster, "stop-node", "2")
    assert stopped.returncode == 0, stopped.stderr
    status = cli(cluster, "status")
    assert "DEAD" in status.stdout
    assert status.returncode == 1
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", request_timeout_ms=30000)
    await producer.start()
    try:  # two of three replicas satisfy min.insync.replicas=2
        for i in range(50):
            await producer.send_and_wait(topic, f"while-2-is-down-{i}".encode())
    finally:
        await producer.stop()

    started = cli(cluster, "start-node", "2")
    assert started.returncode == 0, started.stderr
    assert cli(cluster, "status").returncode == 0
    for _ in range(300):  # node 2 catches up from the others and is back in sync
        if await _isr(bootstrap, topic) == {1, 2, 3}:
            break
        await asyncio.sleep(0.2)
    assert await _isr(bootstrap, topic) == {1, 2, 3}
    assert cli(cluster, "start-node", "2").returncode == 2  # running already: a clear refusal
