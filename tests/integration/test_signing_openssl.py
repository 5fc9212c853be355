"""Interop: the `openssl` command line checks project signatures from the spec alone.

The signing input is rebuilt here from docs/signing.md (and only compared to the project's
function afterwards); openssl gets nothing but that file, the signature bytes and the public key
it extracts itself from the node certificate. The other way round, openssl signs with the
project's encrypted key file and the project's `Verifier` accepts the result. For a batch
signature (envelope v3) of the conformance kit, openssl computes the RFC 9162 leaf hash and every
node of the inclusion proof (`dgst -sha256` over `0x00 || leaf` and `0x01 || left || right`) and
verifies the Ed25519 signature over the root message; only the choice of left or right (the
proof walk of docs/signing.md section 3.3) is made here.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from broker.clock import SystemClock
from broker.signing.algorithms import ECDSA_P256_SHA256, ED25519
from broker.signing.envelope import SIGNATURE_HEADER, Header, signing_input
from broker.signing.keystore import KeyStore
from broker.signing.pki import (
    NODE_CERT_FILE,
    NODE_KEY_FILE,
    NodeIdentity,
    certificate_pem,
    create_ca,
    issue_node,
    save_node,
)
from broker.signing.records import declaration_record
from broker.signing.replay import MemoryReplayStore
from broker.signing.trust import TrustList
from broker.signing.verify import Verifier

pytestmark = [
    pytest.mark.interop,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command"),
]

PASSPHRASE_ENV = "ILSTC_INTEROP_PASSPHRASE"
PASSPHRASE = "interop-passphrase-mekong"
INTEROP_ID = "6f1c2e0a-8a55-4b1e-9d7e-3c2b1a0f9e8d"
VALUE = "报关单 CQ2026112900001 / 12 × HS 870380".encode() * 40
KIT = Path(__file__).resolve().parents[2] / "conformance" / "vectors.json"


@dataclass(frozen=True)
class Node:
    identity: NodeIdentity
    folder: Path  # node.crt.pem, node.key.pem (encrypted), pub.pem (extracted by openssl)


@dataclass(frozen=True)
class Pki:
    trust_list: TrustList
    trust_file: Path
    nodes: dict[str, Node]


def openssl(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, check=False)


def spec_signing_input(headers: list[Header], value: bytes) -> bytes:
    """docs/signing.md: magic line, the headers ce_sigheaders lists and itself sorted by name as
    `name=value`, the value's hash."""
    values = dict(headers)
    names = [*values["ce_sigheaders"].decode("ascii").split(","), "ce_sigheaders"]
    lines = b"".join(name.encode("ascii") + b"=" + values[name] + b"\n" for name in sorted(names))
    value_line = b"value-sha256=" + hashlib.sha256(value).hexdigest().encode("ascii") + b"\n"
    return b"ilstc-ce-signature-v2\n" + lines + value_line


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    clock = SystemClock()
    china, thailand = create_ca("CN", clock=clock), create_ca("TH", clock=clock)
    trust_list = TrustList([china.certificate, thailand.certificate])
    trust_file = root / "trust-list.pem"
    trust_file.write_bytes(trust_list.to_pem())
    nodes = {}
    for ca, node_id, algorithm in (
        (china, "CN-CQ", ED25519),
        (thailand, "TH-BKK", ECDSA_P256_SHA256),
    ):
        identity = issue_node(ca, node_id, clock=clock, algorithm=algorithm)
        folder = root / node_id
        save_node(identity, folder, SecretStr(PASSPHRASE))
        extracted = openssl(
            "x509", "-in", NODE_CERT_FILE, "-pubkey", "-noout", "-out", "pub.pem", cwd=folder
        )
        assert extracted.returncode == 0, extracted.stderr
        nodes[node_id] = Node(identity, folder)
    return Pki(trust_list, trust_file, nodes)


def signed_message(node: NodeIdentity, message_id: str = INTEROP_ID) -> list[Header]:
    record = declaration_record(
        node,
        value=VALUE,
        message_id=message_id,
        reference="报关单 CQ2026112900001",
        recipient="LA-VTE",
        time=SystemClock().now(),
        dataschema="urn:ilstc:schema:declaration.v2:crc64-avro:7a3f9c21d04e8b56",
    )
    return list(record.headers)


def write_input_and_signature(folder: Path, headers: list[Header]) -> None:
    expected = spec_signing_input(headers, VALUE)
    assert signing_input(headers, VALUE) == expected
    (folder / "input.bin").write_bytes(expected)
    (folder / "sig.bin").write_bytes(base64.b64decode(dict(headers)[SIGNATURE_HEADER]))
    tampered = bytearray(expected)
    tampered[expected.index(b"ce_subject=") + 11] ^= 0x01
    (folder / "tampered.bin").write_bytes(bytes(tampered))


def test_openssl_accepts_the_node_certificates(pki: Pki) -> None:
    for node in pki.nodes.values():
        checked = openssl(
            "verify", "-x509_strict", "-CAfile", pki.trust_file, NODE_CERT_FILE, cwd=node.folder
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_openssl_verifies_an_ed25519_signature_from_the_spec(pki: Pki) -> None:
    node = pki.nodes["CN-CQ"]
    write_input_and_signature(node.folder, signed_message(node.identity))
    verify = ("pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-sigfile", "sig.bin")
    good = openssl(*verify, "-in", "input.bin", cwd=node.folder)
    assert good.returncode == 0, good.stdout + good.stderr
    assert b"Signature Verified Successfully" in good.stdout
    assert openssl(*verify, "-in", "tampered.bin", cwd=node.folder).returncode != 0


def test_openssl_verifies_an_ecdsa_p256_der_signature_from_the_spec(pki: Pki) -> None:
    node = pki.nodes["TH-BKK"]
    write_input_and_signature(
        node.folder, signed_message(node.identity, "0d7a6c3e-1f2b-4c5d-8e9f-a0b1c2d3e4f5")
    )
    verify = ("dgst", "-sha256", "-verify", "pub.pem", "-signature", "sig.bin")
    good = openssl(*verify, "input.bin", cwd=node.folder)
    assert good.returncode == 0, good.stdout + good.stderr
    assert b"Verified OK" in good.stdout
    assert openssl(*verify, "tampered.bin", cwd=node.folder).returncode != 0


def test_a_signature_made_by_openssl_with_the_key_file_verifies(
    pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSPHRASE_ENV, PASSPHRASE)
    node = pki.nodes["CN-CQ"]
    headers = [
        h
        for h in signed_message(node.identity, "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d")
        if h[0] != SIGNATURE_HEADER
    ]
    (node.folder / "ours.bin").write_bytes(spec_signing_input(headers, VALUE))
    signed = openssl(
        "pkeyutl",
        "-sign",
        "-rawin",
        "-inkey",
        NODE_KEY_FILE,
        "-passin",
        f"env:{PASSPHRASE_ENV}",
        "-in",
        "ours.bin",
        "-out",
        "ours.sig",
        cwd=node.folder,
    )
    assert signed.returncode == 0, signed.stderr
    signature = base64.b64encode((node.folder / "ours.sig").read_bytes())
    keys = KeyStore(pki.trust_list)
    keys.add(node.identity.certificate)
    clock = SystemClock()
    verifier = Verifier(
        node_id="LA-VTE", keys=keys, replay=MemoryReplayStore(timedelta(days=1), clock), clock=clock
    )
    message = verifier.verify([*headers, (SIGNATURE_HEADER, signature)], VALUE)
    assert message.sender == "CN-CQ"
    assert certificate_pem(node.identity.certificate) == (node.folder / NODE_CERT_FILE).read_bytes()


def proof_walk(index: int, size: int) -> list[bool]:
    """For each hash of the inclusion proof of leaf `index` in a tree of `size`, whether it is the
    left sibling: RFC 9162 section 2.1.3.2 as docs/signing.md writes it, without the hashing."""
    fn, sn, lefts = index, size - 1, []
    while sn != 0:
        lefts.append(fn % 2 == 1 or fn == sn)
        if lefts[-1]:
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        fn, sn = fn >> 1, sn >> 1
    return lefts


def batch_vector(kit: dict[str, Any], name: str) -> tuple[dict[str, Any], list[Header]]:
    (vector,) = [vector for vector in kit["vectors"] if vector["name"] == name]
    return vector, [(header, base64.b64decode(value)) for header, value in vector["headers"]]


def openssl_sha256(folder: Path, name: str, data: bytes) -> bytes:
    (folder / name).write_bytes(data)
    digest = openssl("dgst", "-sha256", "-binary", "-out", f"{name}.sha256", name, cwd=folder)
    assert digest.returncode == 0, digest.stderr
    return (folder / f"{name}.sha256").read_bytes()


def openssl_root(folder: Path, leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """The root the proof leads to from the leaf, every hash computed by openssl."""
    lefts = proof_walk(index, size)
    assert len(lefts) == len(path), "the proof does not hold exactly the hashes it needs"
    r = openssl_sha256(folder, "leaf.bin", b"\x00" + leaf)
    for step, (p, left) in enumerate(zip(path, lefts, strict=True)):
        r = openssl_sha256(folder, f"node{step}.bin", b"\x01" + (p + r if left else r + p))
    return r


def openssl_public_key(folder: Path, kit: dict[str, Any], key_id: str) -> Path:
    """The known certificate whose key id (SHA-256 of the DER SubjectPublicKeyInfo, computed by
    openssl) is the record's ce_keyid, as pub.pem."""
    for number, pem in enumerate(kit["context"]["known_certificates_pem"]):
        (folder / f"cert{number}.pem").write_text(pem, "ascii")
        pub = folder / f"pub{number}.pem"
        extracted = openssl(
            "x509", "-in", f"cert{number}.pem", "-pubkey", "-noout", "-out", pub.name, cwd=folder
        )
        assert extracted.returncode == 0, extracted.stderr
        der = openssl("pkey", "-pubin", "-in", pub.name, "-outform", "DER", cwd=folder)
        assert der.returncode == 0, der.stderr
        if openssl_sha256(folder, f"pub{number}.der", der.stdout).hex() == key_id:
            return pub
    raise AssertionError(f"no known certificate has key id {key_id}")


def test_openssl_verifies_a_batch_signature_from_the_spec(tmp_path: Path) -> None:
    kit = json.loads(KIT.read_text("utf-8"))
    vector, headers = batch_vector(kit, "batch of 5, leaf 3")  # left and right siblings
    values = dict(headers)
    assert values["ce_sigalg"] == b"ed25519"
    value = base64.b64decode(vector["value_base64"])
    leaf = spec_signing_input(headers, value)  # the v2 signing input is the leaf
    assert leaf == base64.b64decode(vector["expected"]["signing_input_base64"])
    index_text, size_text, path_text = values["ce_sigproof"].decode("ascii").split(";")
    index, size, raw = int(index_text), int(size_text), base64.b64decode(path_text)
    path = [raw[at : at + 32] for at in range(0, len(raw), 32)]
    assert set(proof_walk(index, size)) == {True, False}
    root = openssl_root(tmp_path, leaf, index, size, path)
    message = f"ilstc-ce-batch-v1\ntree-size={size}\nroot-sha256={root.hex()}\n".encode("ascii")
    assert message == base64.b64decode(vector["expected"]["root_message_base64"])
    (tmp_path / "root.bin").write_bytes(message)
    (tmp_path / "leaf-as-v2.bin").write_bytes(leaf)
    (tmp_path / "sig.bin").write_bytes(base64.b64decode(values["ce_signature"]))
    pub = openssl_public_key(tmp_path, kit, values["ce_keyid"].decode("ascii"))
    verify = ("pkeyutl", "-verify", "-pubin", "-inkey", pub.name, "-rawin", "-sigfile", "sig.bin")
    good = openssl(*verify, "-in", "root.bin", cwd=tmp_path)
    assert good.returncode == 0, good.stdout + good.stderr
    assert b"Signature Verified Successfully" in good.stdout
    # the batch signature is no signature of the record's signing input (a v2 signature) ...
    assert openssl(*verify, "-in", "leaf-as-v2.bin", cwd=tmp_path).returncode != 0
    # ... and a proof with a flipped hash leads to a root the key never signed
    flipped = [bytes([path[0][0] ^ 0x01]) + path[0][1:], *path[1:]]
    other = openssl_root(tmp_path, leaf, index, size, flipped)
    (tmp_path / "other-root.bin").write_bytes(
        message.replace(root.hex().encode(), other.hex().encode())
    )
    assert openssl(*verify, "-in", "other-root.bin", cwd=tmp_path).returncode != 0
