"""The corridor trust list (national customs CAs) and the one-level chain check under it.

The corridor has no root above the national CAs: each customs administration runs its own CA,
and the partners agree on the set of CA certificates (the trust list, a PEM bundle). A node
certificate is trusted when a listed CA issued it directly. The result of that check is a
`NodeKey`: everything the per-message path needs, worked out once per key id.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519

from broker.errors import SignatureError
from broker.signing.algorithms import VerifyingKey, algorithm_of, key_id
from broker.signing.identity import (
    ca_urn,
    certificate_country,
    certificate_node_id,
    certificate_seal_key,
    is_ca_certificate,
    node_urn,
)
from broker.signing.reasons import ConfigCode, Reason, config_error


@dataclass(frozen=True, slots=True)
class TrustedCa:
    """A national customs CA from the trust list."""

    key_id: str
    country: str
    source: str  # `urn:ilstc:ca:<CC>`, the ce_source of its key announcements
    sigalg: str
    public_key: VerifyingKey = field(repr=False)
    certificate: x509.Certificate = field(repr=False)


@dataclass(frozen=True, slots=True)
class NodeKey:
    """A node certificate that chains to the trust list, reduced to what verification needs."""

    key_id: str
    node_id: str
    source: str  # `urn:ilstc:node:<node id>`
    country: str  # subject C= of the node certificate
    ca_country: str  # subject C= of the CA that issued it
    not_before: datetime  # the later of the node's and the CA's notBefore
    not_after: datetime  # the earlier of the node's and the CA's notAfter
    sigalg: str
    public_key: VerifyingKey = field(repr=False)
    seal_key: x25519.X25519PublicKey | None = field(repr=False)
    certificate: x509.Certificate = field(repr=False)


def _trusted_ca(certificate: x509.Certificate, origin: str) -> TrustedCa:
    def refuse(problem: str) -> Exception:
        return config_error(ConfigCode.BAD_CERTIFICATE, origin, f"trust list entry {problem}")

    if not is_ca_certificate(certificate):
        raise refuse("is not a CA certificate (basicConstraints CA:TRUE)")
    country = certificate_country(certificate)
    if country is None:
        raise refuse("has no two-letter country (C=) in its subject")
    public_key = certificate.public_key()
    if not isinstance(public_key, VerifyingKey) or (sigalg := algorithm_of(public_key)) is None:
        raise refuse("has a key that is neither Ed25519 nor ECDSA P-256")
    try:
        certificate.verify_directly_issued_by(certificate)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise refuse("is not self-signed") from exc
    return TrustedCa(key_id(public_key), country, ca_urn(country), sigalg, public_key, certificate)


class TrustList:
    """The national customs CA certificates the corridor partners agreed to trust."""

    def __init__(self, certificates: Iterable[x509.Certificate], origin: str = "trust list"):
        self._by_key_id = {ca.key_id: ca for ca in (_trusted_ca(c, origin) for c in certificates)}
        if not self._by_key_id:
            raise config_error(ConfigCode.BAD_CERTIFICATE, origin, "trust list is empty")
        self._by_subject: dict[x509.Name, list[TrustedCa]] = {}
        for ca in self._by_key_id.values():
            self._by_subject.setdefault(ca.certificate.subject, []).append(ca)

    @classmethod
    def from_pem(cls, data: bytes, origin: str = "trust list") -> TrustList:
        try:
            certificates = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise config_error(ConfigCode.BAD_CERTIFICATE, origin, "not a PEM bundle") from exc
        return cls(certificates, origin)

    @classmethod
    def load(cls, path: Path) -> TrustList:
        """Load a PEM bundle file, or every `*.pem`/`*.crt` file of a folder."""
        files = (
            sorted(p for p in path.iterdir() if p.suffix in {".pem", ".crt"})
            if path.is_dir()
            else [path]
        )
        try:
            data = b"".join(file.read_bytes() for file in files)
        except OSError as exc:
            raise config_error(
                ConfigCode.BAD_CERTIFICATE, path, exc.strerror or "unreadable"
            ) from exc
        return cls.from_pem(data, str(path))

    def to_pem(self) -> bytes:
        return b"".join(ca.certificate.public_bytes(serialization.Encoding.PEM) for ca in self)

    def __iter__(self) -> Iterator[TrustedCa]:
        return iter(sorted(self._by_key_id.values(), key=lambda ca: (ca.country, ca.key_id)))

    def __len__(self) -> int:
        return len(self._by_key_id)

    def by_key_id(self, key_id: str) -> TrustedCa | None:
        return self._by_key_id.get(key_id)

    def issuer_of(self, certificate: x509.Certificate) -> TrustedCa | None:
        """The listed CA that directly issued `certificate` (issuer name and signature)."""
        for ca in self._by_subject.get(certificate.issuer, ()):
            try:
                certificate.verify_directly_issued_by(ca.certificate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return ca
        return None


def check_node_certificate(certificate: x509.Certificate, trust_list: TrustList) -> NodeKey:
    """Check that a listed CA issued this node certificate, or raise `untrusted-chain`."""

    def untrusted(problem: str) -> SignatureError:
        return SignatureError(Reason.UNTRUSTED_CHAIN, f"node certificate {problem}")

    ca = trust_list.issuer_of(certificate)
    if ca is None:
        raise untrusted("was not issued by a CA of the trust list")
    if is_ca_certificate(certificate):
        raise untrusted("is a CA certificate; CAs sign key announcements only")
    node_id = certificate_node_id(certificate)
    country = certificate_country(certificate)
    if node_id is None or country is None:
        raise untrusted("names no node (CN, C= and SAN urn:ilstc:node:<CN>)")
    try:
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise untrusted("has no keyUsage") from exc
    public_key = certificate.public_key()
    if (
        not isinstance(public_key, VerifyingKey)
        or (sigalg := algorithm_of(public_key)) is None
        or not usage.digital_signature
    ):
        raise untrusted("does not hold an Ed25519/ECDSA P-256 digitalSignature key")
    return NodeKey(
        key_id=key_id(public_key),
        node_id=node_id,
        source=node_urn(node_id),
        country=country,
        ca_country=ca.country,
        not_before=max(certificate.not_valid_before_utc, ca.certificate.not_valid_before_utc),
        not_after=min(certificate.not_valid_after_utc, ca.certificate.not_valid_after_utc),
        sigalg=sigalg,
        public_key=public_key,
        seal_key=certificate_seal_key(certificate),
        certificate=certificate,
    )
