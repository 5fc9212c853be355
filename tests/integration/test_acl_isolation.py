"""Per-node Kafka identities from the directory, on a real SASL/SCRAM Kafka with ACLs: each
forbidden action is refused with an authorization error, the allowed ones work.

The corridor is the demo's directory (deploy/corridor.toml) applied by `corridor apply`; the
actor is CN-CQ's user, whose partners are LA-VTE, TH-BKK and VN-HAN.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from broker.directory.access import corridor_acls, user_name
from broker.directory.apply import apply_corridor, passwords_in
from broker.directory.load import load_corridor
from broker.errors import TransportError
from broker.node.topics import CorridorTopics
from broker.transport.base import OutboundRecord
from broker.transport.corridor_admin import CorridorAdmin
from broker.transport.kafka import KafkaTransport
from broker.transport.settings import KafkaSettings, client_kwargs
from tests.sasl_support import SaslKafka, sasl_kafka

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
CORRIDOR = load_corridor(ROOT / "deploy" / "corridor.toml")
TOPICS = CorridorTopics(CORRIDOR.topics.namespace)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaslKafka]:
    with sasl_kafka(tmp_path_factory.mktemp("sasl-acl")) as kafka:
        yield kafka


@pytest.fixture(scope="module")
def passwords(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return passwords_in(tmp_path_factory.mktemp("credentials"), sorted(corridor_acls(CORRIDOR)))


@pytest.fixture
async def applied(cluster: SaslKafka, passwords: dict[str, str]) -> KafkaSettings:
    async with CorridorAdmin(cluster.admin) as admin:
        report = await apply_corridor(admin, CORRIDOR, passwords=passwords)
        assert report.clean
        assert report.users == len(corridor_acls(CORRIDOR))
        assert await admin.count_acls() >= report.acls
    user = user_name("CN-CQ")
    return cluster.as_user(user, passwords[user])


def raw(settings: KafkaSettings) -> dict[str, Any]:
    kwargs = client_kwargs(settings)
    kwargs.pop("request_timeout_ms")
    return kwargs | {"request_timeout_ms": 10_000}


async def produce(settings: KafkaSettings, topic: str) -> None:
    producer = KafkaTransport(settings).producer()
    await producer.start()
    try:
        await producer.send(OutboundRecord(topic, b"probe", b"probe"))
    finally:
        await producer.stop()


async def consume(settings: KafkaSettings, topic: str, group: str | None) -> None:
    consumer = AIOKafkaConsumer(
        topic, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
        **raw(settings),
    )  # fmt: skip
    try:
        await consumer.start()
        await consumer.getmany(timeout_ms=3000)
        await consumer.getmany(timeout_ms=3000)
    finally:
        await consumer.stop()


async def test_a_node_writes_to_its_partners_and_reads_its_own_inbox(
    applied: KafkaSettings,
) -> None:
    for partner in ("LA-VTE", "TH-BKK", "VN-HAN"):
        await produce(applied, TOPICS.inbox(partner))
    await produce(applied, TOPICS.dead_letters("CN-CQ"))
    await consume(applied, TOPICS.inbox("CN-CQ"), TOPICS.group("CN-CQ"))
    await consume(applied, TOPICS.directory, None)
    await consume(applied, TOPICS.keys, None)


@pytest.mark.parametrize(
    "topic",
    [
        TOPICS.inbox("KZ-ALA"),  # not a partner of Chongqing
        TOPICS.inbox("CN-CQ"),  # its own inbox: nobody may forge its own receipts there
        TOPICS.dead_letters("LA-VTE"),
        TOPICS.directory,  # only the secretariat publishes the directory
        TOPICS.keys,  # only the CAs' publisher announces keys
    ],
)
async def test_writing_where_the_directory_gives_no_right_is_refused(
    applied: KafkaSettings, topic: str
) -> None:
    with pytest.raises(TransportError, match=r"(?i)not authorized|AuthorizationFailed") as caught:
        await produce(applied, topic)
    assert caught.value.retriable is False


@pytest.mark.parametrize(
    "topic", [TOPICS.inbox("LA-VTE"), TOPICS.dead_letters("LA-VTE"), TOPICS.inbox("KZ-ALA")]
)
async def test_reading_another_nodes_inbox_or_dead_letters_is_refused(
    applied: KafkaSettings, topic: str
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await consume(applied, topic, None)


async def test_joining_another_nodes_consumer_group_is_refused(applied: KafkaSettings) -> None:
    with pytest.raises(GroupAuthorizationFailedError):
        await consume(applied, TOPICS.inbox("CN-CQ"), TOPICS.group("LA-VTE"))


async def test_creating_topics_is_refused(applied: KafkaSettings) -> None:
    client = AIOKafkaAdminClient(**raw(applied))
    await client.start()
    try:
        response = await client.create_topics([NewTopic("customs.v1.inbox.XX-EVIL", 1, 1)])
        [(_, code, *_)] = response.topic_errors
        assert code in (29, 31)  # TOPIC_AUTHORIZATION_FAILED, CLUSTER_AUTHORIZATION_FAILED
    finally:
        await client.close()


async def test_a_wrong_password_cannot_log_in(applied: KafkaSettings, cluster: SaslKafka) -> None:
    producer = AIOKafkaProducer(**raw(cluster.as_user(user_name("CN-CQ"), "not-the-password")))
    with pytest.raises(KafkaError):
        await producer.start()
    await producer.stop()
