"""Interop: the `openssl` command line checks project signatures from the spec alone.

The signing input is rebuilt here from docs/signing.md (and only compared to the project's
function afterwards); openssl gets nothing but that file, the signature bytes and the public key
it extracts itself from the node certificate. The other way round, openssl signs with the
project's encrypted key file and the project's `Verifier` accepts the result.
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import subprocess
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

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
