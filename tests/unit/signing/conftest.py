"""A small corridor PKI (built once per session) and helpers to send crafted messages.

CAs: CN, LA, VN (Ed25519) and TH (ECDSA P-256), all in the trust list, plus a rogue "CN" CA with
the very same subject name that is not. Nodes: CN-CQ, LA-VTE, VN-HAN (Ed25519), TH-BKK (ECDSA).
Everything is issued at `START`, the FakeClock's default time.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from broker.clock import FakeClock
from broker.signing.algorithms import ECDSA_P256_SHA256, Signer
from broker.signing.envelope import TYPE_DECLARATION, Header, Seal, build_envelope, sign_message
from broker.signing.identity import node_urn
from broker.signing.keystore import KeyStore
from broker.signing.pki import CertificateAuthority, NodeIdentity, create_ca, issue_node
from broker.signing.replay import MemoryReplayStore, ReplayStore
from broker.signing.trust import TrustList
from broker.signing.verify import Verifier

START = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
RETENTION = timedelta(days=7)
DATASCHEMA = "urn:ilstc:schema:declaration.v2:crc64-avro:7a3f9c21d04e8b56"
VALUE = b"\x00\x01declaration-avro-body\xff" * 8


@dataclass(frozen=True)
class Corridor:
    cas: dict[str, CertificateAuthority]
    rogue_ca: CertificateAuthority  # subject "China Customs Corridor CA" too, not in the trust list
    nodes: dict[str, NodeIdentity]
    trust_list: TrustList

    def keystore(self) -> KeyStore:
        keys = KeyStore(self.trust_list)
        for node in self.nodes.values():
            keys.add(node.certificate)
        return keys


@pytest.fixture(scope="session")
def corridor() -> Corridor:
    clock = FakeClock(START)
    cas = {country: create_ca(country, clock=clock) for country in ("CN", "LA", "VN")}
    cas["TH"] = create_ca("TH", clock=clock, algorithm=ECDSA_P256_SHA256)
    nodes = {
        node_id: issue_node(cas[node_id[:2]], node_id, clock=clock)
        for node_id in ("CN-CQ", "LA-VTE", "VN-HAN")
    }
    nodes["TH-BKK"] = issue_node(cas["TH"], "TH-BKK", clock=clock, algorithm=ECDSA_P256_SHA256)
    trust_list = TrustList(ca.certificate for ca in cas.values())
    return Corridor(cas, create_ca("CN", clock=clock), nodes, trust_list)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def make_verifier(
    keys: KeyStore, clock: FakeClock, node_id: str = "LA-VTE", replay: ReplayStore | None = None
) -> Verifier:
    return Verifier(
        node_id=node_id,
        keys=keys,
        replay=replay or MemoryReplayStore(RETENTION, clock),
        clock=clock,
    )


Send = Callable[..., list[Header]]
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def mid(name: str) -> str:
    """A readable test message name as the UUID `ce_id` requires (a UUID is kept as it is)."""
    return name if _UUID.fullmatch(name) else str(uuid.uuid5(uuid.NAMESPACE_URL, name))


@pytest.fixture
def send(corridor: Corridor) -> Send:
    """`send(sender_id, recipient, ...)`: signed headers for `value`, any attribute overridable."""

    def _send(
        sender_id: str = "CN-CQ",
        recipient: str | None = "LA-VTE",
        *,
        value: bytes = VALUE,
        time: datetime = START,
        message_id: str = "CN-CQ-0001",
        source: str | None = None,
        signer: Signer | None = None,
        seal: Seal | None = None,
    ) -> list[Header]:
        sender = corridor.nodes[sender_id]
        signer = signer or sender.signer
        envelope = build_envelope(
            message_id=mid(message_id),
            source=source or node_urn(sender_id),
            type=TYPE_DECLARATION,
            time=time,
            content_type="application/avro",
            signer=signer,
            subject="CQ2026112900001",
            dataschema=DATASCHEMA,
            recipient=recipient,
            seal=seal,
        )
        return sign_message(envelope, value, signer)

    return _send


def replace_header(headers: list[Header], name: str, value: bytes) -> list[Header]:
    return [(n, value if n == name else v) for n, v in headers]


def forge_node_certificate(
    issuer: CertificateAuthority,
    *,
    node_id: str,
    country: str,
    not_before: datetime = START,
    not_after: datetime = START + timedelta(days=365),
    ca: bool = False,
) -> tuple[x509.Certificate, Signer]:
    """A node certificate with whatever fields a test needs, signed by `issuer`."""
    key = ed25519.Ed25519PrivateKey.generate()
    issuer_key = issuer.signer.private_key
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, country),
                    x509.NameAttribute(NameOID.COMMON_NAME, node_id),
                ]
            )
        )
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, ca, ca, False, False), critical=True
        )
        .add_extension(
            x509.SubjectAlternativeName([x509.UniformResourceIdentifier(node_urn(node_id))]),
            critical=False,
        )
        .sign(
            issuer_key,
            hashes.SHA256() if isinstance(issuer_key, ec.EllipticCurvePrivateKey) else None,
        )
    )
    return certificate, Signer.from_key(key)
