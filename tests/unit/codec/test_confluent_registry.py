"""The Confluent Schema Registry client, against a server implementing the public REST API spec
(tests/registry_spec_server.py; NOT Confluent's server: none could be started here from the
package registries, see that module). Every test name says "spec_server".
"""

from __future__ import annotations

import json
import socket
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from broker.clock import FakeClock
from broker.codec import Codec, SchemaKind, SubjectNameStrategy
from broker.codec.confluent_registry import (
    ConfluentSchemaRegistry,
    SchemaRegistryError,
    SchemaRegistryUnavailable,
)
from broker.codec.framing import parse_confluent
from broker.model.samples import sample_declaration
from broker.node.assemble import schema_registry
from broker.node.config import NodeConfig, Partner
from broker.transport.memory import MemoryTransport
from tests.corridor_support import SmallCorridor
from tests.registry_spec_server import spec_registry

CODEC = Codec()
DECLARATION_V1, *_, DECLARATION_LATEST = (
    json.dumps(v.schema.definition) for v in CODEC.schemas.versions(SchemaKind.DECLARATION)
)
RECEIPT = json.dumps(CODEC.schemas.latest(SchemaKind.RECEIPT).schema.definition)


def test_register_get_and_lookup_on_the_spec_server() -> None:
    with spec_registry() as (url, state):
        registry = ConfluentSchemaRegistry(url)
        first = registry.register("customs.v1.inbox.LA-VTE-value", DECLARATION_V1)
        assert registry.register("customs.v1.inbox.LA-VTE-value", DECLARATION_V1) == first
        assert registry.register("other-value", DECLARATION_V1) == first  # ids are global
        assert json.loads(registry.get(first)) == json.loads(DECLARATION_V1)
        assert registry.lookup("customs.v1.inbox.LA-VTE-value", DECLARATION_V1) == first
        assert registry.lookup("customs.v1.inbox.LA-VTE-value", RECEIPT) is None
        assert registry.lookup("no-such-subject", RECEIPT) is None
        with pytest.raises(SchemaRegistryError) as unknown:
            registry.get(999)
        assert unknown.value.error_code == 40403
        assert not unknown.value.retriable
        assert "POST /subjects/customs.v1.inbox.LA-VTE-value/versions" in state.requests


def test_compatibility_check_on_the_spec_server() -> None:
    with spec_registry() as (url, _):
        registry = ConfluentSchemaRegistry(url)
        subject = "declarations-value"
        assert registry.check_compatibility(subject, DECLARATION_V1).compatible  # empty subject
        registry.register(subject, DECLARATION_V1)
        assert registry.check_compatibility(subject, DECLARATION_LATEST).compatible
        broken = json.loads(DECLARATION_LATEST)
        broken["fields"].append({"name": "customs_seal_number", "type": "string"})
        verdict = registry.check_compatibility(subject, json.dumps(broken))
        assert not verdict.compatible
        assert any("customs_seal_number" in m for m in verdict.messages)
        with pytest.raises(SchemaRegistryError, match="incompatible") as refused:
            registry.register(subject, json.dumps(broken))
        assert refused.value.error_code == 409


@pytest.mark.parametrize(
    ("strategy", "subject"),
    [
        (SubjectNameStrategy.TOPIC, "customs.v1.inbox.LA-VTE-value"),
        (SubjectNameStrategy.RECORD, "org.ilstc.customs.Declaration"),
        (
            SubjectNameStrategy.TOPIC_RECORD,
            "customs.v1.inbox.LA-VTE-org.ilstc.customs.Declaration",
        ),
    ],
)
def test_subject_name_strategies_on_the_spec_server(
    strategy: SubjectNameStrategy, subject: str
) -> None:
    declaration = sample_declaration(lines=2)
    with spec_registry() as (url, state):
        writer = Codec(registry=ConfluentSchemaRegistry(url, subject_strategy=strategy))
        framed = writer.encode_declaration(declaration, topic="customs.v1.inbox.LA-VTE")
        schema_id, _ = parse_confluent(framed)
        assert state.subjects == {subject: [schema_id]}
        reader = Codec(registry=ConfluentSchemaRegistry(url))  # another node: fetches by id
        assert reader.decode_declaration(framed) == declaration


def test_topic_name_strategy_refuses_two_record_types_on_one_topic_on_the_spec_server() -> None:
    """Inboxes carry declarations and receipts: under TopicNameStrategy they share a subject."""
    with spec_registry() as (url, _):
        registry = ConfluentSchemaRegistry(url)  # TopicNameStrategy, the default
        registry.register("customs.v1.inbox.CN-CQ-value", DECLARATION_LATEST)
        with pytest.raises(SchemaRegistryError, match="topic-record"):
            registry.register("customs.v1.inbox.CN-CQ-value", RECEIPT)


def test_failures_say_whether_to_retry_on_the_spec_server() -> None:
    with spec_registry(credentials=("cn-cq", "s3cret-registry")) as (url, state):
        anonymous = ConfluentSchemaRegistry(url)
        with pytest.raises(SchemaRegistryError) as refused:
            anonymous.register("s-value", RECEIPT)
        assert (refused.value.error_code, refused.value.retriable) == (401, False)
        password = SecretStr("s3cret-registry")
        member = ConfluentSchemaRegistry(url, username="cn-cq", password=password)
        assert member.register("s-value", RECEIPT) == 1
        assert "s3cret" not in repr(member)
        state.fail_with = 503
        with pytest.raises(SchemaRegistryUnavailable) as down:
            member.get(1)
        assert down.value.retriable
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(SchemaRegistryUnavailable):
        ConfluentSchemaRegistry(f"http://127.0.0.1:{port}", timeout_s=2).get(1)
    with pytest.raises(SchemaRegistryError, match="http"):
        ConfluentSchemaRegistry("file:///etc/passwd")


def test_the_node_config_selects_confluent_framing(tmp_path: Path) -> None:
    config = NodeConfig.model_validate(
        {
            "node_id": "CN-CQ",
            "format": "canonical-json",
            "identity": {"node_dir": tmp_path, "trust_list": tmp_path},
            "state_dir": tmp_path,
            "schema_registry": {
                "url": "https://registry.corridor.example:8081",
                "subject_strategy": "topic-record",
                "username": "cn-cq",
                "password": "from-a-secret",
            },
        }
    )
    registry = schema_registry(config)
    assert registry is not None
    assert registry.subject_strategy is SubjectNameStrategy.TOPIC_RECORD
    assert "from-a-secret" not in repr(config)
    plain = config.model_copy(update={"schema_registry": None})
    assert schema_registry(plain) is None
    with pytest.raises(ValueError, match="url"):
        NodeConfig.model_validate(
            {**config.model_dump(), "schema_registry": {"url": "registry:8081"}}
        )


async def test_two_nodes_exchange_confluent_framed_records_via_the_spec_server(
    tmp_path: Path,
) -> None:
    partners: dict[str, tuple[Partner, ...]] = {
        "CN-CQ": (Partner(node_id="LA-VTE"),),
        "LA-VTE": (Partner(node_id="CN-CQ"),),
    }
    with spec_registry() as (url, state):
        codec = Codec(
            registry=ConfluentSchemaRegistry(url, subject_strategy=SubjectNameStrategy.TOPIC_RECORD)
        )
        corridor = SmallCorridor(MemoryTransport(), FakeClock(), tmp_path, partners, codec=codec)
        await corridor.prepare()
        nodes = {node_id: corridor.node(node_id) for node_id in partners}
        for node in nodes.values():
            await node.start()
        try:
            declaration = sample_declaration(lines=2, reference="CQ-CF-1").model_copy(
                update={"message_id": uuid.uuid4()}
            )
            await nodes["CN-CQ"].submit(declaration.model_dump_json().encode())
            for _ in range(2):
                for node in nodes.values():
                    await node.process_inbox_batch()
            [delivered] = corridor.deliveries["LA-VTE"]
            assert delivered.declaration == declaration
            [row] = nodes["CN-CQ"].parts.ledger.by_reference("CQ-CF-1")
            assert row.status.value == "delivered"
        finally:
            for node in nodes.values():
                await node.stop()
                node.parts.ledger.close()
        inbox = corridor.topics.inbox("LA-VTE")
        assert set(state.subjects) == {
            f"{inbox}-org.ilstc.customs.Declaration",
            f"{corridor.topics.inbox('CN-CQ')}-org.ilstc.customs.Receipt",
        }
        assert isinstance(corridor.transport, MemoryTransport)
        for topic in (inbox, corridor.topics.inbox("CN-CQ")):
            [record] = corridor.transport.broker.records(topic)
            assert record.value[:1] == b"\x00"  # Confluent framing: magic 0, then the id
