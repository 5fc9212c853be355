"""`kafka up --sasl`: clients authenticate with SCRAM, and ACLs are enforced (deny by default)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAuthorizationFailedError

from broker.devkafka.config import ClusterSpec
from broker.devkafka.launcher import LocalKafka
from tests.kafka_support import free_port_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
def sasl_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalKafka]:
    spec = ClusterSpec(
        state_dir=tmp_path_factory.mktemp("sasl"),
        port=free_port_block(2),
        sasl=True,
        users={"la-vte": "vientiane-pw"},
    )
    local = LocalKafka(spec)
    local.up()
    try:
        yield local
    finally:
        local.down()


def scram(user: str, password: str) -> dict[str, Any]:
    return {
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-256",
        "sasl_plain_username": user,
        "sasl_plain_password": password,
    }


async def test_admin_produces_and_a_user_without_acl_is_refused(sasl_cluster: LocalKafka) -> None:
    bootstrap = sasl_cluster.spec.bootstrap_servers
    admin_auth = scram("admin", sasl_cluster.spec.admin_password)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, **admin_auth)
    await admin.start()
    try:
        await admin.create_topics([NewTopic("customs.v1.inbox.TH-BKK", 1, 1)])
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", **admin_auth)
    await producer.start()
    try:
        meta = await (await producer.send("customs.v1.inbox.TH-BKK", b"declaration"))
        assert meta.offset == 0
    finally:
        await producer.stop()

    # Authenticated, granted nothing: denied (allow.everyone.if.no.acl.found=false).
    intruder = AIOKafkaProducer(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, **scram("la-vte", "vientiane-pw")
    )
    await intruder.start()
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            await (await intruder.send("customs.v1.inbox.TH-BKK", b"not allowed"))
    finally:
        await intruder.stop()


async def test_wrong_password_cannot_connect(sasl_cluster: LocalKafka) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=sasl_cluster.spec.bootstrap_servers,
        request_timeout_ms=5000,
        **scram("admin", "wrong"),
    )
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()
