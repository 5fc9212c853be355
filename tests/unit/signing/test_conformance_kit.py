"""The conformance kit (conformance/): committed files equal what the generator produces, and the
Python implementation reaches every vector's expected outcome (the Java and Go verifiers check the
same file in tests/integration/test_conformance_verifiers.py)."""

from __future__ import annotations

import base64
import importlib.util
import json
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import x25519

from broker.clock import FakeClock
from broker.codec.schemas import SchemaSet
from broker.errors import SignatureError
from broker.signing.envelope import Header, parse_time
from broker.signing.keydir import KeyDirectory
from broker.signing.keystore import KeyStore
from broker.signing.replay import MemoryReplayStore
from broker.signing.seal import unseal_value
from broker.signing.trust import TrustList
from broker.signing.verify import Verifier

ROOT = Path(__file__).resolve().parents[3]
KIT: dict[str, Any] = json.loads((ROOT / "conformance/vectors.json").read_text("utf-8"))
CONTEXT = KIT["context"]
VECTORS = KIT["vectors"]


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "conformance_generate", ROOT / "conformance/generate.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_kit_is_what_the_generator_produces() -> None:
    for path, text in _generator().outputs().items():
        assert path.read_text("utf-8") == text, f"{path.name} is stale: run conformance/generate.py"


def test_every_refusal_reason_of_the_verifier_has_a_vector() -> None:
    codes = {v["expected"].get("code") for v in VECTORS if v["kind"] == "message"}
    assert codes >= {
        "malformed-envelope",
        "unknown-key-id",
        "untrusted-chain",
        "certificate-not-valid-at-time",
        "country-mismatch",
        "source-mismatch",
        "revoked",
        "bad-signature",
        "wrong-recipient",
        "clock-skew",
        "too-old",
        "replay",
        "unseal-failed",
    }
    announced = {v["expected"].get("code") for v in VECTORS if v["kind"] == "announcement"}
    assert "malformed-announcement" in announced


def test_batch_signatures_have_the_vectors_the_specification_lists() -> None:
    """docs/signing.md section 3.3: the odd last leaf, a batch of one, ECDSA, mixed types."""
    proofs = {
        v["name"]: {n: base64.b64decode(h) for n, h in v["headers"]}.get("ce_sigproof")
        for v in VECTORS
        if v["expected"]["outcome"] == "accept" and "root_message_base64" in v["expected"]
    }
    leaves = {p.split(b";")[0] + b"/" + p.split(b";")[1] for p in proofs.values() if p}
    assert leaves >= {b"0/5", b"3/5", b"4/5", b"0/1", b"1/3", b"0/2", b"1/2"}
    refused = {v["name"] for v in VECTORS if v["name"].startswith("batch:")}
    assert len(refused) == 13


def test_published_fingerprints_are_those_of_the_schema_files() -> None:
    published = json.loads((ROOT / "conformance/fingerprints.json").read_text("utf-8"))["schemas"]
    schemas = {f"schemas/{v.path.name}": v for v in SchemaSet(ROOT / "schemas").all()}
    assert {entry["file"] for entry in published} == set(schemas)
    for entry in published:
        version = schemas[entry["file"]]
        assert bytes.fromhex(entry["fingerprint_hex"]) == version.fingerprint
        assert entry["dataschema"] == version.uri


def _headers(vector: dict[str, Any]) -> list[Header]:
    return [(name, base64.b64decode(value)) for name, value in vector["headers"]]


def _verifier() -> Verifier:
    clock = FakeClock(parse_time(CONTEXT["now"]))
    trust = TrustList(x509.load_pem_x509_certificate(p.encode()) for p in CONTEXT["trust_list_pem"])
    keys = KeyStore(trust)
    for pem in CONTEXT["known_certificates_pem"]:
        keys.add(x509.load_pem_x509_certificate(pem.encode()))
    for revocation in CONTEXT["revocations"]:
        revoked_at = parse_time(revocation["revoked_at"])
        assert revoked_at is not None
        keys.revoke(revocation["key_id"], revoked_at)
    replay = MemoryReplayStore(timedelta(seconds=CONTEXT["replay_retention_seconds"]), clock)
    for seen in CONTEXT["replay_seen"]:
        replay.add(seen)
    return Verifier(
        node_id=CONTEXT["receiver"],
        keys=keys,
        replay=replay,
        clock=clock,
        allowed_skew=timedelta(seconds=CONTEXT["allowed_skew_seconds"]),
    )


def _outcome(vector: dict[str, Any]) -> dict[str, Any]:
    headers, value = _headers(vector), base64.b64decode(vector["value_base64"])
    generate = _generator()
    try:
        if vector["kind"] == "announcement":
            trust = TrustList(
                x509.load_pem_x509_certificate(p.encode()) for p in CONTEXT["trust_list_pem"]
            )
            key = base64.b64decode(vector["key_base64"])
            result = KeyDirectory(KeyStore(trust)).apply(headers, value, key=key)
            return {"outcome": "accept", "kind": result.kind, "node_id": result.node_id}
        appended_at = parse_time(vector["appended_at"])
        message = _verifier().verify(headers, value, appended_at=appended_at)
        plain = value
        if message.envelope.seal is not None:
            key = base64.b64decode(CONTEXT["receiver_sealing_private_key_base64"])
            plain = unseal_value(message, x25519.X25519PrivateKey.from_private_bytes(key))
    except SignatureError as exc:
        return {"outcome": "refuse", "code": exc.code}
    version = SchemaSet(ROOT / "schemas").by_fingerprint(plain[2:10])
    return {
        "outcome": "accept",
        "sender": message.sender,
        "signing_input": message.envelope.signing_input(value),
        "signed_message": message.envelope.signed_message(value),
        "version": message.envelope.version,
        "plaintext": plain,
        "decoded": generate.decoded_json(version, plain),
    }


@pytest.mark.parametrize("vector", VECTORS, ids=[v["name"] for v in VECTORS])
def test_the_python_implementation_meets_every_vector(vector: dict[str, Any]) -> None:
    expected, got = vector["expected"], _outcome(vector)
    assert got["outcome"] == expected["outcome"], got
    if expected["outcome"] == "refuse":
        assert got["code"] == expected["code"]
    elif vector["kind"] == "announcement":
        assert got["kind"] == expected["announcement"]["kind"]
        assert got["node_id"] == expected["announcement"]["node_id"]
    else:
        assert got["sender"] == expected["sender"]
        assert got["signing_input"] == base64.b64decode(expected["signing_input_base64"])
        batched = "root_message_base64" in expected
        assert got["version"] == 3 if batched else got["version"] in (1, 2)
        if batched:  # v3: the signing input is the leaf, the key signed the root message
            assert got["signed_message"] == base64.b64decode(expected["root_message_base64"])
        assert got["plaintext"] == base64.b64decode(expected["plaintext_base64"])
        assert got["decoded"] == expected["decoded"]
