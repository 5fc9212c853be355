"""Key announcements: CA-signed node certificates and revocations, rotation, stickiness."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest

from broker.clock import FakeClock
from broker.errors import SignatureError
from broker.signing.envelope import build_envelope, sign_message
from broker.signing.keydir import KeyDirectory
from broker.signing.keystore import KeyStore
from broker.signing.pki import CertificateAuthority, issue_node
from broker.signing.records import (
    SignedRecord,
    certificate_announcement,
    revocation_announcement,
)
from tests.unit.signing.conftest import START, VALUE, Corridor, Send, make_verifier, mid


@pytest.fixture
def directory(corridor: Corridor) -> KeyDirectory:
    return KeyDirectory(KeyStore(corridor.trust_list))


def refused(directory: KeyDirectory, announcement: SignedRecord) -> str:
    with pytest.raises(SignatureError) as caught:
        directory.apply(announcement.headers, announcement.value, key=announcement.key)
    return caught.value.code


def test_a_certificate_announcement_teaches_the_key(
    corridor: Corridor, directory: KeyDirectory, clock: FakeClock, send: Send
) -> None:
    node = corridor.nodes["CN-CQ"]
    announcement = certificate_announcement(corridor.cas["CN"], node.certificate, at=START)
    assert announcement.key == node.key_id.encode("ascii")
    assert json.loads(announcement.value)["kind"] == "node-certificate"
    result = directory.apply(announcement.headers, announcement.value, key=announcement.key)
    assert (result.kind, result.key_id, result.node_id, result.changed) == (
        "node-certificate",
        node.key_id,
        "CN-CQ",
        True,
    )
    assert not directory.apply(
        announcement.headers, announcement.value, key=announcement.key
    ).changed  # replayed
    assert make_verifier(directory.keys, clock).verify(send(), VALUE).sender == "CN-CQ"


def test_only_listed_cas_announce(corridor: Corridor, directory: KeyDirectory) -> None:
    certificate = corridor.nodes["CN-CQ"].certificate
    rogue = certificate_announcement(corridor.rogue_ca, certificate, at=START)
    assert refused(directory, rogue) == "unknown-key-id"
    node = corridor.nodes["CN-CQ"]
    self_signed = certificate_announcement(
        CertificateAuthority("CN", node.certificate, node.signer), certificate, at=START
    )
    assert refused(directory, self_signed) == "unknown-key-id"


def test_a_ca_announces_only_its_own_country(corridor: Corridor, directory: KeyDirectory) -> None:
    laos_node = corridor.nodes["LA-VTE"].certificate
    assert refused(
        directory, certificate_announcement(corridor.cas["CN"], laos_node, at=START)
    ) == ("country-mismatch")


def test_tampered_or_odd_announcements(corridor: Corridor, directory: KeyDirectory) -> None:
    ca = corridor.cas["VN"]
    good = certificate_announcement(ca, corridor.nodes["VN-HAN"].certificate, at=START)
    with pytest.raises(SignatureError) as caught:
        directory.apply(
            good.headers, good.value.replace(b"node-certificate", b"revocation"), key=good.key
        )
    assert caught.value.code == "bad-signature"

    def signed(
        value: bytes, subject: str, type_: str = "org.ilstc.customs.keyannouncement.v1"
    ) -> SignedRecord:
        envelope = build_envelope(
            message_id=mid("a1"),
            source="urn:ilstc:ca:VN",
            type=type_,
            time=START,
            content_type="application/json",
            signer=ca.signer,
            subject=subject,
        )
        return SignedRecord(b"", value, tuple(sign_message(envelope, value, ca.signer)))

    key_id = corridor.nodes["VN-HAN"].key_id
    assert refused(directory, signed(b"{not json", key_id)) == "malformed-announcement"
    assert refused(directory, signed(b'{"kind":"x"}', key_id)) == "malformed-announcement"
    assert refused(directory, signed(good.value, "ab" * 32)) == "malformed-announcement"
    assert refused(directory, signed(good.value, key_id, "org.ilstc.customs.declaration.v1")) == (
        "malformed-announcement"
    )
    revocation = json.loads(
        revocation_announcement(
            ca,
            corridor.nodes["VN-HAN"].certificate,
            revoked_at=START,
            reason="key-compromise",
            at=START,
        ).value
    )
    revocation["reason"] = "bored"
    assert refused(directory, signed(json.dumps(revocation).encode(), key_id)) == (
        "malformed-announcement"
    )


def test_source_must_be_the_signing_ca(corridor: Corridor, directory: KeyDirectory) -> None:
    ca = corridor.cas["CN"]
    good = certificate_announcement(ca, corridor.nodes["CN-CQ"].certificate, at=START)
    envelope = build_envelope(
        message_id=mid("a2"),
        source="urn:ilstc:ca:LA",
        type="org.ilstc.customs.keyannouncement.v1",
        time=START,
        content_type="application/json",
        signer=ca.signer,
        subject=corridor.nodes["CN-CQ"].key_id,
    )
    headers = sign_message(envelope, good.value, ca.signer)
    assert (
        refused(directory, SignedRecord(good.key, good.value, tuple(headers))) == "source-mismatch"
    )


def test_revocation_is_sticky_and_dated(
    corridor: Corridor, directory: KeyDirectory, clock: FakeClock, send: Send
) -> None:
    ca, node = corridor.cas["CN"], corridor.nodes["CN-CQ"]
    revoked_at = START + timedelta(hours=1)
    revocation = revocation_announcement(
        ca, node.certificate, revoked_at=revoked_at, reason="key-compromise", at=revoked_at
    )
    result = directory.apply(
        revocation.headers, revocation.value, key=revocation.key
    )  # certificate never announced
    assert (result.kind, result.changed) == ("revocation", True)
    assert directory.keys.revoked_at(node.key_id) == revoked_at
    clock.advance(3 * 3600)
    verifier = make_verifier(directory.keys, clock)
    early = send(time=START + timedelta(minutes=30), message_id="early")
    late = send(time=START + timedelta(hours=2), message_id="late")
    assert verifier.verify(early, VALUE).envelope.id == mid("early")
    with pytest.raises(SignatureError) as caught:
        verifier.verify(late, VALUE)
    assert caught.value.code == "revoked"

    again = certificate_announcement(ca, node.certificate, at=START + timedelta(hours=3))
    assert not directory.apply(again.headers, again.value, key=again.key).changed  # no un-revoking
    assert directory.keys.revoked_at(node.key_id) == revoked_at
    later = revocation_announcement(
        ca, node.certificate, revoked_at=START + timedelta(hours=2), reason="superseded", at=START
    )
    assert not directory.apply(
        later.headers, later.value, key=later.key
    ).changed  # the earliest time wins


def test_rotation_keeps_the_old_key_until_it_expires(
    corridor: Corridor, directory: KeyDirectory, clock: FakeClock, send: Send
) -> None:
    ca, old = corridor.cas["CN"], corridor.nodes["CN-CQ"]
    clock.advance(24 * 3600)
    new = issue_node(ca, "CN-CQ", clock=clock)
    for node in (old, new):
        announcement = certificate_announcement(ca, node.certificate, at=clock.now())
        directory.apply(announcement.headers, announcement.value, key=announcement.key)
    assert directory.keys.current_key("CN-CQ", clock.now()).key_id == new.key_id
    assert directory.keys.current_key("CN-CQ", START).key_id == old.key_id
    verifier = make_verifier(directory.keys, clock)
    old_message = send(time=clock.now(), message_id="old-key")
    new_message = send(time=clock.now(), message_id="new-key", signer=new.signer)
    assert verifier.verify(old_message, VALUE).key_id == old.key_id
    assert verifier.verify(new_message, VALUE).key_id == new.key_id
    with pytest.raises(SignatureError) as caught:
        directory.keys.current_key("CN-KMG", clock.now())
    assert caught.value.code == "unknown-key-id"


class Memory:
    """A node's remembered revocations (the ledger keeps them on disk)."""

    def __init__(self) -> None:
        self.kept: dict[str, datetime] = {}

    def record_revocation(self, key_id: str, revoked_at: datetime) -> None:
        self.kept[key_id] = min(revoked_at, self.kept.get(key_id, revoked_at))

    def revocations(self) -> dict[str, datetime]:
        return dict(self.kept)


def test_an_announcement_under_another_record_key_is_refused(
    corridor: Corridor, directory: KeyDirectory
) -> None:
    ca, node = corridor.cas["CN"], corridor.nodes["CN-CQ"]
    revocation = revocation_announcement(
        ca, node.certificate, revoked_at=START, reason="key-compromise", at=START
    )
    certificate = certificate_announcement(ca, node.certificate, at=START)
    assert revocation.key == b"revoked:" + node.key_id.encode()
    assert certificate.key != revocation.key  # compaction keeps both
    # The old certificate announcement re-published under the revocation's key (so compaction
    # would keep it instead of the revocation), and a revocation under another key id.
    moved = SignedRecord(revocation.key, certificate.value, certificate.headers)
    assert refused(directory, moved) == "malformed-announcement"
    elsewhere = SignedRecord(b"revoked:" + b"ab" * 32, revocation.value, revocation.headers)
    assert refused(directory, elsewhere) == "malformed-announcement"


def test_a_revocation_survives_a_restart_after_compaction_erased_it(corridor: Corridor) -> None:
    ca, node = corridor.cas["CN"], corridor.nodes["CN-CQ"]
    memory = Memory()
    first = KeyDirectory(KeyStore(corridor.trust_list), memory)
    revocation = revocation_announcement(
        ca, node.certificate, revoked_at=START, reason="key-compromise", at=START
    )
    first.apply(revocation.headers, revocation.value, key=revocation.key)
    # After a restart, the topic holds only the old certificate announcement.
    restarted = KeyDirectory(KeyStore(corridor.trust_list), memory)
    again = certificate_announcement(ca, node.certificate, at=START)
    restarted.apply(again.headers, again.value, key=again.key)
    assert restarted.keys.revoked_at(node.key_id) == START


def test_a_proof_added_to_an_announcement_makes_its_signature_a_batch_one(
    corridor: Corridor, directory: KeyDirectory
) -> None:
    # The key signed the record's own signing input; with `ce_sigproof` added, the signature must
    # sign the root message the proof leads to, which it does not (as in the Java and Go kits).
    good = certificate_announcement(
        corridor.cas["VN"], corridor.nodes["VN-HAN"].certificate, at=START
    )
    proved = SignedRecord(good.key, good.value, (*good.headers, ("ce_sigproof", b"0;1;")))
    assert refused(directory, proved) == "bad-signature"
    assert directory.apply(good.headers, good.value, key=good.key) is not None
