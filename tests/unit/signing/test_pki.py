"""PKI: CA and node certificates, the trust list, key files (0600, encrypted), passphrases."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from broker.clock import FakeClock
from broker.errors import ConfigError
from broker.signing.identity import SEAL_KEY_OID, certificate_seal_key
from broker.signing.keyfile import (
    passphrase_from_env,
    passphrase_from_file,
    read_signing_key,
    write_owner_only,
    write_private_key,
)
from broker.signing.pki import (
    NODE_KEY_FILE,
    SEAL_KEY_FILE,
    certificate_pem,
    create_ca,
    issue_node,
    load_ca,
    load_node,
    save_ca,
    save_node,
)
from broker.signing.trust import TrustList
from tests.unit.signing.conftest import Corridor

PASSPHRASE = SecretStr("correct horse battery staple")


def config_code(error: pytest.ExceptionInfo[ConfigError]) -> str:
    return error.value.problems[0].code


def test_national_ca_certificate(corridor: Corridor) -> None:
    certificate = corridor.cas["CN"].certificate
    subject = certificate.subject
    assert subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "CN"
    assert subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == (
        "China Customs Corridor CA"
    )
    assert certificate.issuer == subject
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca
    certificate.verify_directly_issued_by(certificate)


def test_node_certificate_names_node_and_country(corridor: Corridor) -> None:
    node = corridor.nodes["CN-CQ"]
    certificate = node.certificate
    assert certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "CN-CQ"
    assert certificate.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "CN"
    san = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    raw_seal_key = node.sealing_key.public_key().public_bytes_raw()
    assert san.get_values_for_type(x509.UniformResourceIdentifier) == [
        "urn:ilstc:node:CN-CQ",
        "urn:ilstc:sealkey:x25519:" + raw_seal_key.hex(),
    ]
    certificate.verify_directly_issued_by(corridor.cas["CN"].certificate)
    seal_key = certificate_seal_key(certificate)
    assert seal_key is not None
    assert seal_key.public_bytes_raw() == raw_seal_key
    # No extension with a 128-bit OID arc: Go's crypto/x509 refuses such certificates.
    assert all(len(e.oid.dotted_string) < 20 for e in certificate.extensions)


def test_the_legacy_seal_key_extension_is_still_read(corridor: Corridor) -> None:
    node = corridor.nodes["CN-CQ"]
    ca = corridor.cas["CN"]
    raw = node.sealing_key.public_key().public_bytes_raw()
    legacy = (
        x509.CertificateBuilder()
        .subject_name(node.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(node.certificate.public_key())
        .serial_number(7)
        .not_valid_before(node.certificate.not_valid_before_utc)
        .not_valid_after(node.certificate.not_valid_after_utc)
        .add_extension(x509.UnrecognizedExtension(SEAL_KEY_OID, b"\x04\x20" + raw), critical=False)
        .sign(ca.signer.private_key, None)
    )
    seal_key = certificate_seal_key(legacy)
    assert seal_key is not None
    assert seal_key.public_bytes_raw() == raw


def test_key_id_is_sha256_of_the_subject_public_key_info(corridor: Corridor) -> None:
    node = corridor.nodes["TH-BKK"]
    spki = node.certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert node.key_id == hashlib.sha256(spki).hexdigest()
    assert node.signer.sigalg == "ecdsa-p256-sha256"


def test_a_ca_issues_only_to_its_own_well_named_nodes(corridor: Corridor, clock: FakeClock) -> None:
    for node_id in ("LA-VTE", "cn-cq", "CN", "CN-CHONGQING1"):
        with pytest.raises(ConfigError) as caught:
            issue_node(corridor.cas["CN"], node_id, clock=clock)
        assert config_code(caught) == "bad-argument"
    for country in ("XX", "cn", "CHN"):
        with pytest.raises(ConfigError):
            create_ca(country, clock=clock)
    with pytest.raises(ConfigError):
        create_ca("CN", clock=clock, algorithm="rsa-2048")


def test_trust_list_from_bundle_and_folder(corridor: Corridor, tmp_path: Path) -> None:
    bundle = corridor.trust_list.to_pem()
    assert sorted(ca.country for ca in TrustList.from_pem(bundle)) == ["CN", "LA", "TH", "VN"]
    for country, ca in corridor.cas.items():
        (tmp_path / f"{country}.crt").write_bytes(certificate_pem(ca.certificate))
    (tmp_path / "README.txt").write_text("not a certificate")
    loaded = TrustList.load(tmp_path)
    assert len(loaded) == 4
    key_id = corridor.cas["TH"].signer.key_id
    trusted = loaded.by_key_id(key_id)
    assert trusted is not None
    assert (trusted.country, trusted.source, trusted.sigalg) == (
        "TH",
        "urn:ilstc:ca:TH",
        "ecdsa-p256-sha256",
    )


def test_trust_list_refuses_node_certificates_garbage_and_nothing(
    corridor: Corridor, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        TrustList([corridor.nodes["CN-CQ"].certificate])
    assert config_code(caught) == "bad-certificate"
    with pytest.raises(ConfigError):
        TrustList.from_pem(b"-----BEGIN CERTIFICATE-----\nnonsense\n-----END CERTIFICATE-----\n")
    with pytest.raises(ConfigError):
        TrustList([])
    with pytest.raises(ConfigError):
        TrustList.load(tmp_path / "absent.pem")


def test_saved_keys_are_encrypted_and_owner_only(corridor: Corridor, tmp_path: Path) -> None:
    node = corridor.nodes["CN-CQ"]
    save_node(node, tmp_path / "CN-CQ", PASSPHRASE)
    for name in (NODE_KEY_FILE, SEAL_KEY_FILE):
        path = tmp_path / "CN-CQ" / name
        assert path.stat().st_mode & 0o777 == 0o600
        assert b"BEGIN ENCRYPTED PRIVATE KEY" in path.read_bytes()
    loaded = load_node(tmp_path / "CN-CQ", PASSPHRASE)
    assert (loaded.node_id, loaded.key_id) == ("CN-CQ", node.key_id)
    save_ca(corridor.cas["VN"], tmp_path / "VN", PASSPHRASE)
    assert load_ca(tmp_path / "VN", PASSPHRASE).signer.key_id == corridor.cas["VN"].signer.key_id


def test_group_or_world_readable_key_files_are_refused(corridor: Corridor, tmp_path: Path) -> None:
    save_node(corridor.nodes["LA-VTE"], tmp_path, PASSPHRASE)
    key_file = tmp_path / NODE_KEY_FILE
    for mode in (0o640, 0o604, 0o644):
        key_file.chmod(mode)
        with pytest.raises(ConfigError) as caught:
            read_signing_key(key_file, PASSPHRASE)
        assert config_code(caught) == "key-file-permissions"
        assert "chmod 600" in str(caught.value)


def test_key_file_errors_have_codes(corridor: Corridor, tmp_path: Path) -> None:
    key_file = tmp_path / "node.key.pem"
    write_private_key(key_file, corridor.nodes["CN-CQ"].signer.private_key, PASSPHRASE)
    with pytest.raises(ConfigError) as caught:
        write_private_key(key_file, corridor.nodes["CN-CQ"].signer.private_key, PASSPHRASE)
    assert config_code(caught) == "file-exists"
    with pytest.raises(ConfigError) as caught:
        read_signing_key(key_file, SecretStr("not the passphrase at all"))
    assert config_code(caught) == "wrong-passphrase"
    plain = tmp_path / "plain.key.pem"
    write_owner_only(
        plain,
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    with pytest.raises(ConfigError) as caught:
        read_signing_key(plain, PASSPHRASE)
    assert config_code(caught) == "key-file-invalid"


def test_a_sealing_key_must_match_the_certificate(
    corridor: Corridor, tmp_path: Path, clock: FakeClock
) -> None:
    save_node(corridor.nodes["CN-CQ"], tmp_path / "a", PASSPHRASE)
    other = issue_node(corridor.cas["CN"], "CN-CQ", clock=clock)
    save_node(other, tmp_path / "b", PASSPHRASE)
    os.replace(tmp_path / "b" / SEAL_KEY_FILE, tmp_path / "a" / SEAL_KEY_FILE)
    with pytest.raises(ConfigError) as caught:
        load_node(tmp_path / "a", PASSPHRASE)
    assert config_code(caught) == "key-file-invalid"


def test_passphrase_sources(tmp_path: Path) -> None:
    secret = "tonle-sap-mekong-2026"
    assert passphrase_from_env("ILSTC_TEST_PASS", {"ILSTC_TEST_PASS": secret}).get_secret_value()
    with pytest.raises(ConfigError) as caught:
        passphrase_from_env("ILSTC_TEST_PASS", {})
    assert config_code(caught) == "passphrase-missing"
    with pytest.raises(ConfigError) as caught:
        passphrase_from_env("ILSTC_TEST_PASS", {"ILSTC_TEST_PASS": "short"})
    assert config_code(caught) == "passphrase-weak"
    secret_file = tmp_path / "passphrase"
    write_owner_only(secret_file, secret.encode() + b"\n")
    assert passphrase_from_file(secret_file).get_secret_value() == secret
    secret_file.chmod(0o644)
    with pytest.raises(ConfigError) as caught:
        passphrase_from_file(secret_file)
    assert config_code(caught) == "key-file-permissions"


def test_reprs_show_no_secrets(corridor: Corridor) -> None:
    node, ca = corridor.nodes["CN-CQ"], corridor.cas["CN"]
    assert PASSPHRASE.get_secret_value() not in repr(PASSPHRASE)
    assert PASSPHRASE.get_secret_value() not in str(PASSPHRASE)
    raw_private = node.signer.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    for shown in (repr(node), repr(ca), repr(node.signer), str(node), repr(node.sealing_key)):
        assert raw_private.hex() not in shown
        assert "PRIVATE" not in shown
    assert node.key_id in repr(node)
