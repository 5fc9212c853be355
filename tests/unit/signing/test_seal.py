"""Sealed values: seal, sign, verify, unseal; nobody but the recipient can read them."""

from __future__ import annotations

import dataclasses

import pytest
from cryptography.hazmat.primitives.asymmetric import x25519

from broker.clock import FakeClock
from broker.errors import ConfigError, SignatureError
from broker.signing.algorithms import key_id
from broker.signing.seal import SEAL_ALGORITHM, seal_value, unseal_value
from broker.signing.verify import VerifiedMessage
from tests.unit.signing.conftest import START, VALUE, Corridor, Send, make_verifier, mid


def sealed_message(corridor: Corridor, clock: FakeClock, send: Send) -> VerifiedMessage:
    keys = corridor.keystore()
    recipient = keys.current_key("LA-VTE", START)
    ciphertext, seal = seal_value(VALUE, sender="CN-CQ", recipient=recipient, message_id=mid("m-1"))
    headers = send(value=ciphertext, seal=seal, message_id=mid("m-1"))
    return make_verifier(keys, clock).verify(headers, ciphertext)


def unseal_failure(message: VerifiedMessage, sealing_key: x25519.X25519PrivateKey) -> str:
    with pytest.raises(SignatureError) as caught:
        unseal_value(message, sealing_key)
    return caught.value.code


def test_the_recipient_unseals(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    message = sealed_message(corridor, clock, send)
    assert VALUE not in message.value
    assert message.envelope.seal is not None
    assert message.envelope.seal.algorithm == SEAL_ALGORITHM
    assert unseal_value(message, corridor.nodes["LA-VTE"].sealing_key) == VALUE


def test_a_third_node_cannot_unseal(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    message = sealed_message(corridor, clock, send)
    third = corridor.nodes["VN-HAN"].sealing_key
    assert unseal_failure(message, third) == "unseal-failed"  # sealed to another key id
    seal = message.envelope.seal
    assert seal is not None
    pretending = message._replace(
        envelope=message.envelope._replace(
            seal=seal.__class__(seal.algorithm, key_id(third.public_key()), seal.ephemeral_key)
        )
    )
    assert unseal_failure(pretending, third) == "unseal-failed"  # the AEAD says no


def test_the_signature_covers_the_ciphertext_and_seal_headers(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    keys = corridor.keystore()
    recipient = keys.current_key("LA-VTE", START)
    ciphertext, seal = seal_value(VALUE, sender="CN-CQ", recipient=recipient, message_id=mid("m-2"))
    headers = send(value=ciphertext, seal=seal, message_id=mid("m-2"))
    verifier = make_verifier(keys, clock)
    flipped = ciphertext[:-1] + bytes([ciphertext[-1] ^ 1])
    with pytest.raises(SignatureError) as caught:
        verifier.verify(headers, flipped)
    assert caught.value.code == "bad-signature"
    other_epk = [
        (name, b"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=" if name == "ce_sealepk" else value)
        for name, value in headers
    ]
    with pytest.raises(SignatureError) as caught:
        verifier.verify(other_epk, ciphertext)
    assert caught.value.code == "bad-signature"


def test_the_ciphertext_is_bound_to_sender_recipient_and_id(
    corridor: Corridor, clock: FakeClock, send: Send
) -> None:
    message = sealed_message(corridor, clock, send)
    key = corridor.nodes["LA-VTE"].sealing_key
    other_id = message._replace(envelope=message.envelope._replace(id="m-other"))
    assert unseal_failure(other_id, key) == "unseal-failed"
    other_sender = message._replace(sender="CN-KMG")
    assert unseal_failure(other_sender, key) == "unseal-failed"
    tampered = message._replace(value=message.value[:-1] + b"\x00")
    assert unseal_failure(tampered, key) == "unseal-failed"


def test_plain_messages_do_not_unseal(corridor: Corridor, clock: FakeClock, send: Send) -> None:
    message = make_verifier(corridor.keystore(), clock).verify(send(), VALUE)
    assert unseal_failure(message, corridor.nodes["LA-VTE"].sealing_key) == "unseal-failed"


def test_no_sealing_to_a_certificate_without_a_sealing_key(corridor: Corridor) -> None:
    recipient = corridor.keystore().current_key("LA-VTE", START)
    bare = dataclasses.replace(recipient, seal_key=None)
    with pytest.raises(ConfigError):
        seal_value(VALUE, sender="CN-CQ", recipient=bare, message_id=mid("m-3"))
