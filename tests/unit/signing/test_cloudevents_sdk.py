"""The official CloudEvents Python SDK (`cloudevents`, Kafka binding, binary mode) reads every kind
of record the corridor writes, and relays it (from_binary, add an extension, to_binary) without
breaking its signature: the relay rule of docs/signing.md section 3.1 in practice.

The SDK re-spells `ce_time` (`...00.000000Z` becomes `...00Z`), adds `ce_partitionkey` from the
record key and re-serializes JSON values: envelope v2 signs the instant of `ce_time`, lists the
headers it covers, and writes JSON the way the SDK writes it back.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from cloudevents.core.bindings import kafka
from cloudevents.core.formats.json import JSONFormat

from broker.clock import FakeClock
from broker.errors import SignatureError
from broker.signing.keydir import KeyDirectory
from broker.signing.keystore import KeyStore
from broker.signing.records import (
    SignedRecord,
    certificate_announcement,
    declaration_record,
    receipt_record,
    revocation_announcement,
)
from broker.signing.seal import unseal_value
from tests.unit.signing.conftest import DATASCHEMA, START, VALUE, Corridor, make_verifier


def _relay(record: SignedRecord) -> SignedRecord:
    """What CloudEvents middleware does: parse, add an extension attribute, write again."""
    message = kafka.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    event = kafka.from_binary(message, JSONFormat())
    attributes = event.get_attributes()
    assert attributes["specversion"] == "1.0"
    assert isinstance(attributes["time"], datetime)
    assert attributes["time"].astimezone(UTC) == START
    attributes["relayhop"] = "hub-1"  # the extension a relay adds
    relayed = kafka.to_binary(event, JSONFormat())
    assert relayed.headers["ce_relayhop"] == b"hub-1"
    key = relayed.key.encode() if isinstance(relayed.key, str) else relayed.key
    assert key == record.key
    return SignedRecord(key, relayed.value, tuple(relayed.headers.items()))


def _node_records(corridor: Corridor) -> dict[str, SignedRecord]:
    laos = corridor.keystore().current_key("LA-VTE", START)
    sender = corridor.nodes["CN-CQ"]

    def declaration(reference: str, sealed: bool) -> SignedRecord:
        return declaration_record(
            sender,
            value=VALUE,
            message_id=str(uuid.uuid4()),
            reference=reference,
            recipient="LA-VTE",
            time=START,
            dataschema=DATASCHEMA,
            seal_to=laos if sealed else None,
        )

    receipt = receipt_record(
        sender,
        value=VALUE,
        message_id=str(uuid.uuid4()),
        referenced_message_id=str(uuid.uuid4()),
        recipient="LA-VTE",
        time=START,
        dataschema=DATASCHEMA,
    )
    return {
        "declaration": declaration("CQ-1", sealed=False),
        "sealed declaration": declaration("报关单 CQ-2", sealed=True),
        "receipt": receipt,
    }


@pytest.mark.parametrize("kind", ["declaration", "sealed declaration", "receipt"])
def test_a_relayed_node_record_still_verifies(corridor: Corridor, kind: str) -> None:
    record = _node_records(corridor)[kind]
    relayed = _relay(record)
    headers = dict(relayed.headers)
    assert headers["ce_time"] != dict(record.headers)["ce_time"]  # re-spelled by the SDK
    assert "ce_partitionkey" in headers
    message = make_verifier(corridor.keystore(), FakeClock(START)).verify(
        relayed.headers, relayed.value
    )
    assert message.envelope.extensions == ()  # the relay's extension is not signed, not used
    plain = message.value
    if message.envelope.seal is not None:
        plain = unseal_value(message, corridor.nodes["LA-VTE"].sealing_key)
    assert plain == VALUE


def test_relayed_key_announcements_still_apply(corridor: Corridor) -> None:
    ca, certificate = corridor.cas["CN"], corridor.nodes["CN-CQ"].certificate
    directory = KeyDirectory(KeyStore(corridor.trust_list))
    for record in (
        certificate_announcement(ca, certificate, at=START),
        revocation_announcement(
            ca, certificate, revoked_at=START, reason="key-compromise", at=START
        ),
    ):
        relayed = _relay(record)
        assert relayed.value == record.value  # JSON written the way the SDK writes it back
        result = directory.apply(relayed.headers, relayed.value, key=relayed.key)
        assert result.changed


def test_changing_a_signed_attribute_in_the_relay_breaks_the_signature(
    corridor: Corridor,
) -> None:
    record = _node_records(corridor)["declaration"]
    message = kafka.KafkaMessage(headers=dict(record.headers), key=record.key, value=record.value)
    event = kafka.from_binary(message, JSONFormat())
    event.get_attributes()["subject"] = "CQ-FORGED"
    forged = kafka.to_binary(event, JSONFormat())
    verifier = make_verifier(corridor.keystore(), FakeClock(START))
    with pytest.raises(SignatureError, match="bad-signature"):
        verifier.verify(tuple(forged.headers.items()), forged.value)
