"""The two signature algorithms of the corridor, by their `ce_sigalg` names.

`ed25519` is the default (deterministic, fast, small); `ecdsa-p256-sha256` exists for national
PKIs whose HSMs only do NIST curves. ECDSA signatures travel DER-encoded, which is what
`openssl dgst -sign` writes and `-verify` reads, so another implementation needs no conversion.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes

from broker.errors import SignatureError
from broker.signing.reasons import ConfigCode, Reason, config_error

ED25519 = "ed25519"
ECDSA_P256_SHA256 = "ecdsa-p256-sha256"
ALGORITHMS: tuple[str, ...] = (ED25519, ECDSA_P256_SHA256)

SigningKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
VerifyingKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey

_ECDSA_SHA256 = ec.ECDSA(hashes.SHA256())


def generate_signing_key(algorithm: str) -> SigningKey:
    if algorithm == ED25519:
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == ECDSA_P256_SHA256:
        return ec.generate_private_key(ec.SECP256R1())
    raise config_error(
        ConfigCode.BAD_ARGUMENT,
        algorithm,
        f"unknown signature algorithm; known: {', '.join(ALGORITHMS)}",
    )


def algorithm_of(key: SigningKey | VerifyingKey) -> str | None:
    """The `ce_sigalg` name for a key, or None when the corridor does not accept that key."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return ED25519
    if isinstance(key.curve, ec.SECP256R1):
        return ECDSA_P256_SHA256
    return None


def key_id(public_key: CertificatePublicKeyTypes) -> str:
    """Lowercase hex SHA-256 of the SubjectPublicKeyInfo DER (`ce_keyid`, `ce_sealkeyid`)."""
    spki = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(spki).hexdigest()


def sign(key: SigningKey, data: bytes) -> bytes:
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return key.sign(data)
    return key.sign(data, _ECDSA_SHA256)


def verify(key: VerifyingKey, signature: bytes, data: bytes) -> None:
    """Raise `SignatureError(bad-signature)` unless `signature` is valid for `data`."""
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, data)
        else:
            key.verify(signature, data, _ECDSA_SHA256)
    except InvalidSignature as exc:
        raise SignatureError(Reason.BAD_SIGNATURE, "signature does not match") from exc


@dataclass(frozen=True, slots=True)
class Signer:
    """A private signing key with its `ce_sigalg` and `ce_keyid` worked out once."""

    key_id: str
    sigalg: str
    private_key: SigningKey = field(repr=False)

    @classmethod
    def from_key(cls, private_key: SigningKey) -> Signer:
        sigalg = algorithm_of(private_key)
        if sigalg is None:
            raise config_error(
                ConfigCode.BAD_ARGUMENT,
                type(private_key).__name__,
                "only Ed25519 and ECDSA P-256 keys sign corridor messages",
            )
        return cls(key_id(private_key.public_key()), sigalg, private_key)

    def sign(self, data: bytes) -> bytes:
        return sign(self.private_key, data)
