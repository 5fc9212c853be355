"""Corridor PKI: national customs CAs, node certificates, and their files on disk.

Each customs administration runs a self-signed CA (`C=<CC>`, CA:TRUE, path length 0); it issues
certificates only to its own nodes (`CN=<node id>`, `C=<CC>`, SAN `urn:ilstc:node:<node id>`).
A node has two key pairs: a signing key (Ed25519 by default, ECDSA P-256 as the alternative) and
an X25519 sealing key whose public half rides in the node certificate (see `identity`).

Layout on disk (private keys encrypted PKCS#8, mode 0600):
  CA folder:   ca.crt.pem   ca.key.pem
  node folder: node.crt.pem node.key.pem seal.key.pem
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pycountry
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from broker.clock import Clock
from broker.signing.algorithms import ED25519, Signer, SigningKey, generate_signing_key, key_id
from broker.signing.identity import (
    ca_urn,
    certificate_country,
    certificate_node_id,
    certificate_seal_key,
    country_of,
    is_country,
    is_node_id,
    node_urn,
    seal_key_uri,
)
from broker.signing.keyfile import (
    read_sealing_key,
    read_signing_key,
    write_private_key,
    write_public_file,
)
from broker.signing.reasons import ConfigCode, config_error

log = logging.getLogger(__name__)

DEFAULT_CA_VALIDITY = timedelta(days=3650)
DEFAULT_NODE_VALIDITY = timedelta(days=730)
ORGANIZATION = "ILSTC Customs Corridor"
CA_CERT_FILE, CA_KEY_FILE = "ca.crt.pem", "ca.key.pem"
NODE_CERT_FILE, NODE_KEY_FILE, SEAL_KEY_FILE = "node.crt.pem", "node.key.pem", "seal.key.pem"


@dataclass(frozen=True, slots=True)
class CertificateAuthority:
    """A national customs CA: its certificate and (in memory only) its signing key."""

    country: str
    certificate: x509.Certificate = field(repr=False)
    signer: Signer

    @property
    def source(self) -> str:
        return ca_urn(self.country)


@dataclass(frozen=True, slots=True)
class NodeIdentity:
    """What a node needs to send and receive: certificate, signing key, sealing key."""

    node_id: str
    certificate: x509.Certificate = field(repr=False)
    signer: Signer
    sealing_key: x25519.X25519PrivateKey = field(repr=False)

    @property
    def source(self) -> str:
        return node_urn(self.node_id)

    @property
    def key_id(self) -> str:
        return self.signer.key_id


def _bad_argument(value: str, reason: str) -> Exception:
    return config_error(ConfigCode.BAD_ARGUMENT, value, reason)


def _signature_hash(key: SigningKey) -> hashes.SHA256 | None:
    return hashes.SHA256() if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _key_usage(
    *, digital_signature: bool, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )


def create_ca(
    country: str,
    *,
    clock: Clock,
    algorithm: str = ED25519,
    validity: timedelta = DEFAULT_CA_VALIDITY,
    key: SigningKey | None = None,
    serial_number: int | None = None,
) -> CertificateAuthority:
    """A national CA; `key` and `serial_number` are for reproducible test vectors only."""
    entry = pycountry.countries.get(alpha_2=country) if is_country(country) else None
    if entry is None:
        raise _bad_argument(country, "not an ISO 3166 alpha-2 country code")
    key = key or generate_signing_key(algorithm)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(
                NameOID.COMMON_NAME,
                f"{getattr(entry, 'common_name', entry.name)} Customs Corridor CA",
            ),
        ]
    )
    now = clock.now().replace(microsecond=0)
    usage = _key_usage(digital_signature=True, key_cert_sign=True, crl_sign=True)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial_number or x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, _signature_hash(key))
    )
    signer = Signer.from_key(key)
    log.info("created customs CA for %s, key id %s", country, signer.key_id)
    return CertificateAuthority(country, certificate, signer)


def issue_node(
    ca: CertificateAuthority,
    node_id: str,
    *,
    clock: Clock,
    algorithm: str = ED25519,
    validity: timedelta = DEFAULT_NODE_VALIDITY,
    key: SigningKey | None = None,
    sealing_key: x25519.X25519PrivateKey | None = None,
    serial_number: int | None = None,
) -> NodeIdentity:
    """A fresh node identity (new key pairs; rotation issues a second one beside the first).

    `key`, `sealing_key` and `serial_number` are for reproducible test vectors only."""
    if not is_node_id(node_id):
        raise _bad_argument(node_id, "node id must look like CN-CQ (country, hyphen, site)")
    if country_of(node_id) != ca.country:
        raise _bad_argument(node_id, f"the {ca.country} CA issues certificates to its nodes only")
    key = key or generate_signing_key(algorithm)
    sealing_key = sealing_key or x25519.X25519PrivateKey.generate()
    now = clock.now().replace(microsecond=0)
    ca_key = ca.signer.private_key
    usage = _key_usage(digital_signature=True)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(
            x509.Name(
                [
                    x509.NameAttribute(NameOID.COUNTRY_NAME, ca.country),
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                    x509.NameAttribute(NameOID.COMMON_NAME, node_id),
                ]
            )
        )
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial_number or x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(min(now + validity, ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.UniformResourceIdentifier(node_urn(node_id)),
                    seal_key_uri(sealing_key.public_key()),
                ]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, _signature_hash(ca_key))
    )
    signer = Signer.from_key(key)
    log.info("issued node certificate for %s, key id %s", node_id, signer.key_id)
    return NodeIdentity(node_id, certificate, signer, sealing_key)


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def read_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except OSError as exc:
        raise config_error(ConfigCode.FILE_IO, path, exc.strerror or "unreadable") from exc
    except ValueError as exc:
        raise config_error(ConfigCode.BAD_CERTIFICATE, path, "not a PEM certificate") from exc


def _prepare(directory: Path) -> None:
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise config_error(ConfigCode.FILE_IO, directory, exc.strerror or "") from exc


def _check_pair(path: Path, certificate: x509.Certificate, signer: Signer) -> None:
    if key_id(certificate.public_key()) != signer.key_id:
        raise config_error(ConfigCode.KEY_FILE_INVALID, path, "key does not match the certificate")


def save_ca(ca: CertificateAuthority, directory: Path, passphrase: SecretStr) -> None:
    _prepare(directory)
    write_public_file(directory / CA_CERT_FILE, certificate_pem(ca.certificate))
    write_private_key(directory / CA_KEY_FILE, ca.signer.private_key, passphrase)


def load_ca(directory: Path, passphrase: SecretStr) -> CertificateAuthority:
    certificate = read_certificate(directory / CA_CERT_FILE)
    signer = Signer.from_key(read_signing_key(directory / CA_KEY_FILE, passphrase))
    _check_pair(directory / CA_KEY_FILE, certificate, signer)
    country = certificate_country(certificate)
    if country is None:
        raise config_error(ConfigCode.BAD_CERTIFICATE, directory, "CA certificate has no C=")
    return CertificateAuthority(country, certificate, signer)


def save_node(node: NodeIdentity, directory: Path, passphrase: SecretStr) -> None:
    _prepare(directory)
    write_public_file(directory / NODE_CERT_FILE, certificate_pem(node.certificate))
    write_private_key(directory / NODE_KEY_FILE, node.signer.private_key, passphrase)
    write_private_key(directory / SEAL_KEY_FILE, node.sealing_key, passphrase)


def load_node(directory: Path, passphrase: SecretStr) -> NodeIdentity:
    certificate = read_certificate(directory / NODE_CERT_FILE)
    signer = Signer.from_key(read_signing_key(directory / NODE_KEY_FILE, passphrase))
    _check_pair(directory / NODE_KEY_FILE, certificate, signer)
    node_id = certificate_node_id(certificate)
    if node_id is None:
        raise config_error(ConfigCode.BAD_CERTIFICATE, directory, "not a node certificate")
    sealing_key = read_sealing_key(directory / SEAL_KEY_FILE, passphrase)
    published = certificate_seal_key(certificate)
    if published is None or published.public_bytes_raw() != (
        sealing_key.public_key().public_bytes_raw()
    ):
        raise config_error(
            ConfigCode.KEY_FILE_INVALID, directory / SEAL_KEY_FILE, "not the certificate's key"
        )
    return NodeIdentity(node_id, certificate, signer, sealing_key)
