"""Sealed values: only the recipient node can read them, not the corridor operator.

ECIES-style, one fresh X25519 key pair per message:
  shared   = X25519(ephemeral private, recipient sealing public)
  context  = "ilstc-seal-v1" | sender | recipient | message id   (each field length-prefixed)
  key, iv  = HKDF-SHA256(ikm=shared, salt=ephemeral public || recipient public, info=context),
             44 bytes: a 32-byte AES key and a 12-byte nonce
  value    = AES-256-GCM(key, iv, plaintext, aad=context)    (ciphertext || 16-byte tag)

The key is new for every message, so a derived nonce never repeats. The sender seals, then signs
the ciphertext (the `ce_seal*` headers are signed too); the recipient verifies, then unseals. The
recipient's sealing public key comes from its node certificate (see `identity`).
"""

from __future__ import annotations

import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from broker.errors import SignatureError
from broker.signing.algorithms import key_id
from broker.signing.envelope import Seal
from broker.signing.reasons import ConfigCode, Reason, config_error
from broker.signing.trust import NodeKey
from broker.signing.verify import VerifiedMessage

SEAL_ALGORITHM = "x25519-hkdf-sha256-aes256gcm"
_LABEL = b"ilstc-seal-v1"


def _context(sender: str, recipient: str, message_id: str) -> bytes:
    """Unambiguous binding of who sends what to whom: 2-byte length before each field."""
    fields = (_LABEL, sender.encode("utf-8"), recipient.encode("utf-8"), message_id.encode("utf-8"))
    return b"".join(struct.pack(">H", len(item)) + item for item in fields)


def _cipher(shared: bytes, salt: bytes, context: bytes) -> tuple[AESGCM, bytes]:
    material = HKDF(hashes.SHA256(), 44, salt, context).derive(shared)
    return AESGCM(material[:32]), material[32:]


def seal_value(
    plaintext: bytes,
    *,
    sender: str,
    recipient: NodeKey,
    message_id: str,
    ephemeral: x25519.X25519PrivateKey | None = None,
) -> tuple[bytes, Seal]:
    """Encrypt `plaintext` to `recipient`; returns the record value and its `ce_seal*` headers.

    `ephemeral` is for reproducible test vectors only: a key must never be used twice."""
    if recipient.seal_key is None:
        raise config_error(
            ConfigCode.BAD_CERTIFICATE, recipient.node_id, "certificate publishes no sealing key"
        )
    ephemeral = ephemeral or x25519.X25519PrivateKey.generate()
    ephemeral_public = ephemeral.public_key().public_bytes_raw()
    context = _context(sender, recipient.node_id, message_id)
    aead, nonce = _cipher(
        ephemeral.exchange(recipient.seal_key),
        ephemeral_public + recipient.seal_key.public_bytes_raw(),
        context,
    )
    seal = Seal(SEAL_ALGORITHM, key_id(recipient.seal_key), ephemeral_public)
    return aead.encrypt(nonce, plaintext, context), seal


def unseal_value(message: VerifiedMessage, sealing_key: x25519.X25519PrivateKey) -> bytes:
    """Decrypt a verified sealed message with this node's sealing key, or `unseal-failed`."""
    seal = message.envelope.seal
    if seal is None or seal.algorithm != SEAL_ALGORITHM:
        raise SignatureError(Reason.UNSEAL_FAILED, "value is not sealed with " + SEAL_ALGORITHM)
    public = sealing_key.public_key()
    if seal.key_id != key_id(public):
        raise SignatureError(Reason.UNSEAL_FAILED, "value is sealed to another sealing key")
    context = _context(message.sender, message.envelope.recipient or "", message.envelope.id)
    try:
        peer = x25519.X25519PublicKey.from_public_bytes(seal.ephemeral_key)
        aead, nonce = _cipher(
            sealing_key.exchange(peer), seal.ephemeral_key + public.public_bytes_raw(), context
        )
        return aead.decrypt(nonce, message.value, context)
    except (InvalidTag, ValueError) as exc:  # ValueError: degenerate (low-order) ephemeral key
        raise SignatureError(Reason.UNSEAL_FAILED, "cannot decrypt the sealed value") from exc
