"""A 3-broker KRaft cluster (RF 3, min ISR 2) keeps every acked record after a SIGKILL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from broker.devkafka.config import ClusterSpec
from broker.devkafka.launcher import LocalKafka
from tests.kafka_support import free_port_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    state: Path = tmp_path_factory.mktemp("three-nodes")
    local = LocalKafka(ClusterSpec(state_dir=state, nodes=3, port=free_port_block(6)))
    local.up(timeout=150)
    try:
        yield local
    finally:
        local.down()


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
