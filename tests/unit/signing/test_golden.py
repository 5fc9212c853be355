"""Golden vectors (tests/data/signing/golden-ed25519.json): byte-exact signing input and signature.

Ed25519 signatures are deterministic, so a fixed key (RFC 8032 section 7.1, TEST 1) and fixed
headers and value give one exact signature; any change to the signing input breaks these tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from broker.signing.algorithms import Signer
from broker.signing.envelope import Header, parse_envelope, signing_input

ROOT = Path(__file__).resolve().parents[3]
GOLDEN: dict[str, Any] = json.loads(
    (ROOT / "tests/data/signing/golden-ed25519.json").read_text("utf-8")
)
VECTORS = GOLDEN["vectors"]


def headers_of(vector: dict[str, Any]) -> list[Header]:
    return [(name, value.encode("utf-8")) for name, value in vector["headers"]]


def test_the_key_is_the_rfc8032_test_key() -> None:
    key = ed25519.Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(GOLDEN["private_key_seed_hex"])
    )
    raw_public = key.public_key().public_bytes_raw()
    assert raw_public.hex() == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert hashlib.sha256(spki).hexdigest() == GOLDEN["key_id"] == Signer.from_key(key).key_id
    assert key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == GOLDEN["public_key_pem"].encode("ascii")


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_signing_input_and_signature_byte_for_byte(vector: dict[str, Any]) -> None:
    headers, value = headers_of(vector), bytes.fromhex(vector["value_hex"])
    expected_input = vector["signing_input"].encode("utf-8")
    assert signing_input(headers, value) == expected_input
    key = ed25519.Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(GOLDEN["private_key_seed_hex"])
    )
    signature = Signer.from_key(key).sign(expected_input)
    assert base64.b64encode(signature).decode("ascii") == vector["signature_base64"]
    assert parse_envelope(headers).signature == signature
    key.public_key().verify(signature, expected_input)


def test_the_spec_shows_the_first_vector_verbatim() -> None:
    spec = (ROOT / "docs/signing.md").read_text("utf-8")
    vector = VECTORS[0]
    assert vector["signing_input"] in spec
    assert vector["signature_base64"] in spec
    for name, value in vector["headers"]:
        assert f"{name}: {value}" in spec
