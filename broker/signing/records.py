"""Every signed record of the corridor is built here, and only here (pure: no I/O).

- declarations and receipts, node to node: the value (framed Avro) is sealed to the recipient
  when asked, then signed; record key = the subject (declaration reference, or the referenced
  message id for a receipt), so a receiver can check the key against the signed `ce_subject`.
  One at a time (`declaration_record`, `receipt_record`: envelope v2, one signature each), or in
  batches for one recipient (`declaration_draft`/`receipt_draft`, then `sign_batch`: envelope v3,
  one signature over a Merkle root, each record still verifiable alone);
- key announcements (certificate, revocation) on the keys topic, signed by a national CA;
- signed directory entries: canonical JSON on a compacted topic, any signer (the corridor
  directory uses them the way the key directory uses announcements).

A `SignedRecord` has no topic: which topic a record goes to is the node's topic layout's call.
The envelope rules (headers, signing input) are in `broker.signing.envelope` and docs/signing.md.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import NamedTuple, Protocol

from cryptography import x509

from broker.signing import algorithms
from broker.signing.algorithms import Signer
from broker.signing.envelope import MAX_BATCH as MAX_BATCH  # re-exported for sign_batch callers
from broker.signing.envelope import (
    TYPE_DECLARATION,
    TYPE_KEY_ANNOUNCEMENT,
    TYPE_RECEIPT,
    Envelope,
    Header,
    Seal,
    build_envelope,
    format_time,
    sign_message,
)
from broker.signing.envelope import (
    sign_batch as sign_envelopes,
)
from broker.signing.pki import CertificateAuthority, certificate_pem
from broker.signing.reasons import ConfigCode, config_error
from broker.signing.seal import seal_value
from broker.signing.trust import NodeKey

AVRO = "application/avro"
JSON = "application/json"
# Key announcement bodies (docs/signing.md section 5).
NODE_CERTIFICATE = "node-certificate"
REVOCATION = "revocation"
# RFC 5280 CRLReason names, hyphenated.
REVOCATION_REASONS = frozenset(
    {"unspecified", "key-compromise", "affiliation-changed", "superseded", "cessation-of-operation"}
)


class SignedRecord(NamedTuple):
    """Key, value and headers of one signed Kafka record (the topic is chosen by the caller)."""

    key: bytes
    value: bytes
    headers: tuple[Header, ...]


class Draft(NamedTuple):
    """An unsigned record (sealed already if asked): what `sign_batch` signs with others."""

    key: bytes
    value: bytes
    envelope: Envelope  # unsigned v2


class Signatory(Protocol):
    """Who signs: a node identity (`urn:ilstc:node:...`) or a national CA (`urn:ilstc:ca:...`)."""

    @property
    def signer(self) -> Signer: ...
    @property
    def source(self) -> str: ...


class Sender(Signatory, Protocol):
    @property
    def node_id(self) -> str: ...


def signed_record(
    signatory: Signatory,
    *,
    type: str,
    message_id: str,
    time: datetime,
    content_type: str,
    value: bytes,
    key: bytes,
    subject: str | None = None,
    dataschema: str | None = None,
    recipient: str | None = None,
    seal: Seal | None = None,
    extensions: Mapping[str, str] | None = None,
) -> SignedRecord:
    """The generic signed record; the functions below are its corridor uses.

    `seal`: the `ce_seal*` attributes of a `value` that is already sealed (`seal_value`)."""
    envelope = build_envelope(
        message_id=message_id,
        source=signatory.source,
        type=type,
        time=time,
        content_type=content_type,
        signer=signatory.signer,
        subject=subject,
        dataschema=dataschema,
        recipient=recipient,
        seal=seal,
        extensions=extensions,
    )
    return SignedRecord(key, value, tuple(sign_message(envelope, value, signatory.signer)))


def _node_draft(
    sender: Sender,
    *,
    type: str,
    value: bytes,
    message_id: str,
    subject: str,
    recipient: str,
    time: datetime,
    dataschema: str,
    seal_to: NodeKey | None,
) -> Draft:
    seal = None
    if seal_to is not None:  # seal, then sign: the signature covers the ciphertext
        value, seal = seal_value(
            value, sender=sender.node_id, recipient=seal_to, message_id=message_id
        )
    envelope = build_envelope(
        message_id=message_id,
        source=sender.source,
        type=type,
        time=time,
        content_type=AVRO,
        signer=sender.signer,
        subject=subject,
        dataschema=dataschema,
        recipient=recipient,
        seal=seal,
    )
    return Draft(subject.encode("utf-8"), value, envelope)


def sign_record(sender: Signatory, draft: Draft) -> SignedRecord:
    """Sign one draft on its own (envelope v2): what `declaration_record`/`receipt_record` do."""
    headers = sign_message(draft.envelope, draft.value, sender.signer)
    return SignedRecord(draft.key, draft.value, tuple(headers))


def sign_batch(sender: Signatory, drafts: Sequence[Draft]) -> list[SignedRecord]:
    """Sign 1 to `MAX_BATCH` drafts for ONE recipient with one signature (envelope v3, docs/
    signing.md section 3.3); the records come back in the order of `drafts`.

    Only for recipients whose directory entry says `envelope >= 3`; others get `*_record`."""
    signed = sign_envelopes([(d.envelope, d.value) for d in drafts], sender.signer)
    return [SignedRecord(d.key, d.value, tuple(h)) for d, h in zip(drafts, signed, strict=True)]


def declaration_draft(
    sender: Sender,
    *,
    value: bytes,
    message_id: str,
    reference: str,
    recipient: str,
    time: datetime,
    dataschema: str,
    seal_to: NodeKey | None = None,
) -> Draft:
    """An unsigned declaration for `sign_batch` (arguments as `declaration_record`)."""
    return _node_draft(
        sender,
        type=TYPE_DECLARATION,
        value=value,
        message_id=message_id,
        subject=reference,
        recipient=recipient,
        time=time,
        dataschema=dataschema,
        seal_to=seal_to,
    )


def receipt_draft(
    sender: Sender,
    *,
    value: bytes,
    message_id: str,
    referenced_message_id: str,
    recipient: str,
    time: datetime,
    dataschema: str,
    seal_to: NodeKey | None = None,
) -> Draft:
    """An unsigned receipt for `sign_batch` (arguments as `receipt_record`)."""
    return _node_draft(
        sender,
        type=TYPE_RECEIPT,
        value=value,
        message_id=message_id,
        subject=referenced_message_id,
        recipient=recipient,
        time=time,
        dataschema=dataschema,
        seal_to=seal_to,
    )


def declaration_record(
    sender: Sender,
    *,
    value: bytes,
    message_id: str,
    reference: str,
    recipient: str,
    time: datetime,
    dataschema: str,
    seal_to: NodeKey | None = None,
) -> SignedRecord:
    """A declaration (framed Avro `value`) for `recipient`, sealed to `seal_to` if given."""
    draft = declaration_draft(
        sender,
        value=value,
        message_id=message_id,
        reference=reference,
        recipient=recipient,
        time=time,
        dataschema=dataschema,
        seal_to=seal_to,
    )
    return sign_record(sender, draft)


def receipt_record(
    sender: Sender,
    *,
    value: bytes,
    message_id: str,
    referenced_message_id: str,
    recipient: str,
    time: datetime,
    dataschema: str,
    seal_to: NodeKey | None = None,
) -> SignedRecord:
    """A receipt (framed Avro `value`) about `referenced_message_id`, back to its sender."""
    draft = receipt_draft(
        sender,
        value=value,
        message_id=message_id,
        referenced_message_id=referenced_message_id,
        recipient=recipient,
        time=time,
        dataschema=dataschema,
        seal_to=seal_to,
    )
    return sign_record(sender, draft)


def canonical_json(body: Mapping[str, object]) -> bytes:
    """Keys sorted, `", "` and `": "` separators, ASCII escapes: one byte string per body, and
    the one the CloudEvents SDK's JSON format writes back when a relay re-serializes it."""
    return json.dumps(body, sort_keys=True).encode("ascii")


def directory_entry(
    signatory: Signatory,
    *,
    type: str,
    key: str,
    body: Mapping[str, object],
    time: datetime,
    message_id: str | None = None,
) -> SignedRecord:
    """A signed JSON entry for a compacted topic: record key = `ce_subject` = `key`."""
    return signed_record(
        signatory,
        type=type,
        message_id=message_id or str(uuid.uuid4()),
        time=time,
        content_type=JSON,
        value=canonical_json(body),
        key=key.encode("utf-8"),
        subject=key,
    )


REVOKED_KEY_PREFIX = "revoked:"


def announcement_key(kind: str, key_id: str) -> str:
    """Record key (= ce_subject) of an announcement: `<key id>`, or `revoked:<key id>` for a
    revocation, so that compaction keeps both and an old certificate announcement published
    again cannot take a revocation's place."""
    return REVOKED_KEY_PREFIX + key_id if kind == REVOCATION else key_id


def certificate_announcement(
    ca: CertificateAuthority,
    certificate: x509.Certificate,
    *,
    at: datetime,
    message_id: str | None = None,
) -> SignedRecord:
    """A key announcement publishing `certificate`, signed by the CA that issued it."""
    return _announcement(ca, certificate, NODE_CERTIFICATE, {}, at=at, message_id=message_id)


def revocation_announcement(
    ca: CertificateAuthority,
    certificate: x509.Certificate,
    *,
    revoked_at: datetime,
    reason: str,
    at: datetime,
    message_id: str | None = None,
) -> SignedRecord:
    """Revoke a node key from `revoked_at` on (which may lie in the past: when it leaked)."""
    if reason not in REVOCATION_REASONS:
        raise config_error(ConfigCode.BAD_ARGUMENT, reason, "unknown revocation reason")
    more = {"revoked_at": format_time(revoked_at), "reason": reason}
    return _announcement(ca, certificate, REVOCATION, more, at=at, message_id=message_id)


def _announcement(
    ca: CertificateAuthority,
    certificate: x509.Certificate,
    kind: str,
    more: Mapping[str, object],
    *,
    at: datetime,
    message_id: str | None,
) -> SignedRecord:
    """A CA-signed key announcement of `kind` about `certificate`, keyed by its key id."""
    body = {"kind": kind, "certificate": certificate_pem(certificate).decode("ascii"), **more}
    kid = algorithms.key_id(certificate.public_key())
    return directory_entry(
        ca,
        type=TYPE_KEY_ANNOUNCEMENT,
        key=announcement_key(kind, kid),
        body=body,
        time=at,
        message_id=message_id,
    )
