"""broker.signing.records: the one builder of signed records, checked by the receiving side."""

from __future__ import annotations

import json
import uuid

import pytest

from broker.clock import FakeClock
from broker.errors import ConfigError
from broker.signing.envelope import TYPE_DECLARATION, TYPE_RECEIPT, parse_envelope
from broker.signing.keydir import KeyDirectory
from broker.signing.keystore import KeyStore
from broker.signing.records import (
    declaration_record,
    directory_entry,
    receipt_record,
    revocation_announcement,
)
from broker.signing.seal import unseal_value
from tests.unit.signing.conftest import DATASCHEMA, START, VALUE, Corridor, make_verifier


def test_a_sealed_declaration_verifies_unseals_and_is_keyed_by_its_reference(
    corridor: Corridor,
) -> None:
    keys = corridor.keystore()
    sender, laos = corridor.nodes["CN-CQ"], corridor.nodes["LA-VTE"]
    message_id = str(uuid.uuid4())
    record = declaration_record(
        sender,
        value=VALUE,
        message_id=message_id,
        reference="CQ2026112900001",
        recipient="LA-VTE",
        time=START,
        dataschema=DATASCHEMA,
        seal_to=keys.current_key("LA-VTE", START),
    )
    assert record.key == b"CQ2026112900001"
    assert record.value != VALUE
    message = make_verifier(keys, FakeClock(START)).verify(record.headers, record.value)
    envelope = message.envelope
    assert (envelope.type, envelope.id, envelope.subject) == (
        TYPE_DECLARATION,
        message_id,
        "CQ2026112900001",
    )
    assert (envelope.recipient, envelope.dataschema) == ("LA-VTE", DATASCHEMA)
    assert unseal_value(message, laos.sealing_key) == VALUE


def test_a_receipt_names_the_referenced_message(corridor: Corridor) -> None:
    referenced = str(uuid.uuid4())
    record = receipt_record(
        corridor.nodes["LA-VTE"],
        value=VALUE,
        message_id=str(uuid.uuid4()),
        referenced_message_id=referenced,
        recipient="CN-CQ",
        time=START,
        dataschema=DATASCHEMA,
    )
    envelope = parse_envelope(record.headers)
    assert (envelope.type, envelope.subject, record.key) == (
        TYPE_RECEIPT,
        referenced,
        referenced.encode(),
    )
    assert envelope.seal is None
    make_verifier(corridor.keystore(), FakeClock(START), node_id="CN-CQ").verify(
        record.headers, record.value
    )


def test_a_directory_entry_is_canonical_json_keyed_by_its_subject(corridor: Corridor) -> None:
    entry = directory_entry(
        corridor.cas["CN"],
        type="org.ilstc.customs.corridormember.v1",
        key="CN-CQ",
        body={"node_id": "CN-CQ", "district": "重庆", "partitions": 3},
        time=START,
    )
    assert entry.value == json.dumps(
        {"district": "重庆", "node_id": "CN-CQ", "partitions": 3}
    ).encode("ascii")
    envelope = parse_envelope(entry.headers)
    assert (envelope.source, envelope.subject, envelope.content_type) == (
        "urn:ilstc:ca:CN",
        "CN-CQ",
        "application/json",
    )
    assert entry.key == b"CN-CQ"


def test_revocations_name_a_known_reason(corridor: Corridor) -> None:
    certificate = corridor.nodes["CN-CQ"].certificate
    with pytest.raises(ConfigError):
        revocation_announcement(
            corridor.cas["CN"], certificate, revoked_at=START, reason="lost", at=START
        )
    good = revocation_announcement(
        corridor.cas["CN"], certificate, revoked_at=START, reason="superseded", at=START
    )
    result = KeyDirectory(KeyStore(corridor.trust_list)).apply(
        good.headers, good.value, key=good.key
    )
    assert (result.kind, result.node_id) == ("revocation", "CN-CQ")
