"""Every reason code of `Verifier.verify`, each from a crafted message, and their order."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from broker.clock import FakeClock
from broker.errors import ConfigError, SignatureError
from broker.signing.envelope import parse_envelope
from broker.signing.replay import MemoryReplayStore, SqliteReplayStore
from broker.signing.verify import Verifier
from tests.unit.signing.conftest import (
    RETENTION,
    START,
    VALUE,
    Corridor,
    Send,
    forge_node_certificate,
    make_verifier,
    mid,
    replace_header,
)


def refused(verifier: Verifier, headers: list[tuple[str, bytes]], value: bytes = VALUE) -> str:
    with pytest.raises(SignatureError) as caught:
        verifier.verify(headers, value)
    return caught.value.code


def test_a_good_message_verifies(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    verifier = make_verifier(corridor.keystore(), clock)
    message = verifier.verify(send(), VALUE)
    assert message.sender == "CN-CQ"
    assert message.key_id == corridor.nodes["CN-CQ"].key_id
    assert message.value == VALUE
    assert message.envelope.subject == "CQ2026112900001"
    assert VALUE.hex() not in repr(message)


def test_ecdsa_p256_messages_verify(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    verifier = make_verifier(corridor.keystore(), clock)
    message = verifier.verify(send("TH-BKK"), VALUE)
    assert (message.sender, message.envelope.sigalg) == ("TH-BKK", "ecdsa-p256-sha256")
    tampered = VALUE[:-1] + b"?"
    assert refused(verifier, send("TH-BKK", message_id="2"), tampered) == "bad-signature"


def test_malformed_headers(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    verifier = make_verifier(corridor.keystore(), clock)
    headers = send()
    assert refused(verifier, [h for h in headers if h[0] != "ce_id"]) == "malformed-envelope"
    assert refused(verifier, [*headers, ("ce_id", b"again")]) == "malformed-envelope"
    assert refused(verifier, send(source="CN-CQ")) == "malformed-envelope"  # not a node URN


def test_unknown_key_id(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    keys = corridor.keystore()
    verifier = make_verifier(type(keys)(corridor.trust_list), clock)  # knows no certificate
    assert refused(verifier, send()) == "unknown-key-id"
    assert keys.node_key(corridor.nodes["CN-CQ"].key_id).node_id == "CN-CQ"


def test_untrusted_chain_from_a_rogue_ca_with_the_same_name(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    certificate, signer = forge_node_certificate(corridor.rogue_ca, node_id="CN-CQ", country="CN")
    assert certificate.issuer == corridor.cas["CN"].certificate.subject
    keys = corridor.keystore()
    keys.add(certificate)
    assert refused(make_verifier(keys, clock), send(signer=signer)) == "untrusted-chain"


def test_untrusted_chain_for_a_ca_certificate_posing_as_a_node(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    certificate, signer = forge_node_certificate(
        corridor.cas["CN"], node_id="CN-CQ", country="CN", ca=True
    )
    keys = corridor.keystore()
    keys.add(certificate)
    assert refused(make_verifier(keys, clock), send(signer=signer)) == "untrusted-chain"


@pytest.mark.parametrize(
    ("sent_at", "case"),
    [(START + timedelta(days=2), "expired"), (START - timedelta(hours=1), "not yet valid")],
)
def test_certificate_not_valid_at_time(
    corridor: Corridor, send: Send, sent_at: datetime, case: str
) -> None:
    certificate, signer = forge_node_certificate(
        corridor.cas["CN"], node_id="CN-CQ", country="CN", not_after=START + timedelta(days=1)
    )
    keys = corridor.keystore()
    keys.add(certificate)
    verifier = make_verifier(keys, FakeClock(sent_at))
    headers = send(signer=signer, time=sent_at)
    assert refused(verifier, headers) == "certificate-not-valid-at-time", case


def test_country_mismatch_between_node_and_ca(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    certificate, signer = forge_node_certificate(corridor.cas["LA"], node_id="CN-CQ", country="CN")
    keys = corridor.keystore()
    keys.add(certificate)
    assert refused(make_verifier(keys, clock), send(signer=signer)) == "country-mismatch"


def test_country_mismatch_between_source_and_certificate(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    laos_signer = corridor.nodes["LA-VTE"].signer
    headers = send(signer=laos_signer, recipient="VN-HAN")  # says CN-CQ, signed by LA-VTE
    verifier = make_verifier(corridor.keystore(), clock, node_id="VN-HAN")
    assert refused(verifier, headers) == "country-mismatch"


def test_source_mismatch_within_a_country(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    headers = send(source="urn:ilstc:node:CN-KMG")  # Kunming, with Chongqing's key
    assert refused(make_verifier(corridor.keystore(), clock), headers) == "source-mismatch"


def test_revoked_from_the_revocation_time_on(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    keys = corridor.keystore()
    keys.revoke(corridor.nodes["CN-CQ"].key_id, START + timedelta(hours=1))
    clock.advance(2 * 3600)
    verifier = make_verifier(keys, clock)
    before = send(time=START + timedelta(minutes=30), message_id="before")
    at = send(time=START + timedelta(hours=1), message_id="at")
    after = send(time=START + timedelta(hours=2), message_id="after")
    assert verifier.verify(before, VALUE).envelope.id == mid("before")
    assert refused(verifier, at) == "revoked"
    assert refused(verifier, after) == "revoked"


def test_revocation_drops_the_cached_chain_check(corridor: Corridor) -> None:
    keys = corridor.keystore()
    key_id = corridor.nodes["CN-CQ"].key_id
    checked = keys.node_key(key_id)
    assert keys.node_key(key_id) is checked  # cached: no second chain check
    assert keys.revoke(key_id, START)
    assert keys.node_key(key_id) is not checked
    assert not keys.revoke(key_id, START + timedelta(hours=1))  # the earliest time wins
    assert keys.revoked_at(key_id) == START


def test_bad_signature_for_tampered_value_header_or_algorithm(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    verifier = make_verifier(corridor.keystore(), clock)
    headers = send()
    assert refused(verifier, headers, VALUE + b"\x00") == "bad-signature"
    assert refused(verifier, replace_header(headers, "ce_subject", b"CQ-other")) == "bad-signature"
    assert (
        refused(verifier, replace_header(headers, "content-type", b"text/xml")) == "bad-signature"
    )
    switched = replace_header(headers, "ce_sigalg", b"ecdsa-p256-sha256")
    assert refused(verifier, switched) == "bad-signature"
    other_signature = dict(send("VN-HAN"))["ce_signature"]
    assert refused(verifier, replace_header(headers, "ce_signature", other_signature)) == (
        "bad-signature"
    )


def test_wrong_recipient(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    verifier = make_verifier(corridor.keystore(), clock)
    assert refused(verifier, send(recipient="VN-HAN")) == "wrong-recipient"
    assert refused(verifier, send(recipient=None)) == "wrong-recipient"


def test_clock_skew_and_too_old(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    clock.advance(RETENTION.total_seconds())
    verifier = make_verifier(corridor.keystore(), clock)
    now = clock.now()
    assert verifier.max_age == RETENTION - timedelta(minutes=5)
    ahead = send(time=now + timedelta(minutes=6), message_id="ahead")
    assert refused(verifier, ahead) == "clock-skew"
    slightly_ahead = send(time=now + timedelta(minutes=4), message_id="slightly-ahead")
    assert verifier.verify(slightly_ahead, VALUE).envelope.id == mid("slightly-ahead")
    old = send(time=now - verifier.max_age - timedelta(seconds=1), message_id="old")
    assert refused(verifier, old) == "too-old"
    just_in = send(time=now - verifier.max_age, message_id="just-in")
    assert verifier.verify(just_in, VALUE).envelope.id == mid("just-in")


def test_replay_while_in_flight_after_acceptance_and_after_release(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    verifier = make_verifier(corridor.keystore(), clock)
    headers = send()
    first = verifier.verify(headers, VALUE)
    assert refused(verifier, headers) == "replay"  # duplicate while the first is in flight
    verifier.release(first)  # delivery failed: the same message may come again
    again = verifier.verify(headers, VALUE)
    verifier.mark_accepted(again)
    assert refused(verifier, headers) == "replay"


def test_replay_is_per_sender(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    verifier = make_verifier(corridor.keystore(), clock)
    verifier.mark_accepted(verifier.verify(send("CN-CQ", message_id="0001"), VALUE))
    same_id_other_sender = send("VN-HAN", message_id="0001")
    assert verifier.verify(same_id_other_sender, VALUE).sender == "VN-HAN"


def test_replay_across_a_sqlite_store_reopen(
    corridor: Corridor, clock: FakeClock, send: Send, tmp_path: Path
) -> None:
    path = tmp_path / "replay.sqlite"
    headers = send()
    with SqliteReplayStore(path, RETENTION, clock) as store:
        verifier = make_verifier(corridor.keystore(), clock, replay=store)
        verifier.mark_accepted(verifier.verify(headers, VALUE))
    clock.advance(60)
    with SqliteReplayStore(path, RETENTION, clock) as reopened:
        verifier = make_verifier(corridor.keystore(), clock, replay=reopened)
        assert refused(verifier, headers) == "replay"


def test_the_first_failing_check_wins(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    verifier = make_verifier(corridor.keystore(), clock)
    wrong_everything = send(recipient="VN-HAN", time=START + timedelta(hours=1))
    assert refused(verifier, wrong_everything, b"tampered") == "bad-signature"
    assert refused(verifier, wrong_everything) == "wrong-recipient"


def test_envelope_time_is_what_the_sender_signed(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    headers = send(time=START + timedelta(seconds=1.5))
    assert parse_envelope(headers).time == START + timedelta(seconds=1.5)
    assert make_verifier(corridor.keystore(), clock).verify(headers, VALUE).sender == "CN-CQ"


def test_retention_must_cover_the_skew_window(corridor: Corridor, clock: FakeClock) -> None:
    with pytest.raises(ConfigError):
        Verifier(
            node_id="LA-VTE",
            keys=corridor.keystore(),
            replay=MemoryReplayStore(timedelta(minutes=10), clock),
            clock=clock,
        )


def test_a_revoked_key_cannot_sign_new_records_by_backdating_ce_time(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    keys = corridor.keystore()
    revoked_at = START + timedelta(hours=1)
    keys.revoke(corridor.nodes["CN-CQ"].key_id, revoked_at)
    clock.advance(3 * 3600)
    verifier = make_verifier(keys, clock)
    # The thief dates the record before the revocation; Kafka appended it just now.
    backdated = send(time=START + timedelta(minutes=30), message_id="backdated")
    with pytest.raises(SignatureError) as caught:
        verifier.verify(backdated, VALUE, appended_at=clock.now())
    assert caught.value.code == "revoked"
    # A record really sent before the revocation and read late keeps verifying.
    verifier.verify(backdated, VALUE, appended_at=START + timedelta(minutes=30, seconds=1))


def test_an_expired_certificate_cannot_sign_by_backdating_ce_time(
    corridor: Corridor, send: Send
) -> None:
    certificate, signer = forge_node_certificate(
        corridor.cas["CN"], node_id="CN-CQ", country="CN", not_after=START + timedelta(days=1)
    )
    keys = corridor.keystore()
    keys.add(certificate)
    now = START + timedelta(days=3)
    verifier = make_verifier(keys, FakeClock(now))
    headers = send(signer=signer, time=START + timedelta(hours=23))  # inside the validity
    with pytest.raises(SignatureError) as caught:
        verifier.verify(headers, VALUE, appended_at=now)
    assert caught.value.code == "certificate-not-valid-at-time"
    assert "judged at" in str(caught.value)
    # Within the allowed skew of the append time is still fine (clocks differ a little).
    verifier.verify(headers, VALUE, appended_at=START + timedelta(hours=23, minutes=4))
