"""Key directory, pure part: CA-signed key announcements and the state they build.

Announcements travel on the compacted topic `customs.v1.keys`, record key = ce_subject = what
is announced (`<key id>` for a certificate, `revoked:<key id>` for a revocation, so compaction
keeps the latest of each and re-publishing an old certificate announcement cannot erase a
revocation; a record whose key is not what its value announces is refused), value = canonical
JSON, headers = a signed envelope of type `keyannouncement.v1` whose signer is the national CA
(ce_source `urn:ilstc:ca:<CC>`):

  {"certificate": PEM, "kind": "node-certificate"}
  {"certificate": PEM, "kind": "revocation", "reason": "key-compromise",
   "revoked_at": "2026-11-29T09:00:00.000000Z"}

The records are built by `broker.signing.records` (`certificate_announcement`,
`revocation_announcement`). Only a CA of the trust list can announce, and only for certificates
it issued itself, so a stolen node key can neither publish a certificate nor lift a revocation.
A revocation carries the certificate too: compaction keeps only the latest record per key id, and
messages dated before the revocation must stay verifiable. Revocations are sticky: once revoked,
a key id stays revoked (a later `node-certificate` record for it changes nothing); the earliest
revocation time wins. A node also keeps every revocation it applied in its own state
(`RevocationMemory`) and applies them again at start, before reading the topic: a tombstone or
any other rewrite of the topic cannot make it trust a revoked key again.
Announcements are not checked against the clock: a node replays the whole topic at start.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from cryptography import x509

from broker.errors import SignatureError
from broker.signing import algorithms
from broker.signing.envelope import TYPE_KEY_ANNOUNCEMENT, Header, parse_envelope, parse_time
from broker.signing.keystore import KeyStore
from broker.signing.reasons import Reason
from broker.signing.records import (
    JSON,
    NODE_CERTIFICATE,
    REVOCATION,
    REVOCATION_REASONS,
    announcement_key,
)
from broker.signing.trust import check_node_certificate

KEYS_TOPIC = "customs.v1.keys"

log = logging.getLogger(__name__)


class RevocationMemory(Protocol):
    """Where a node keeps the revocations it applied (its ledger)."""

    def record_revocation(self, key_id: str, revoked_at: datetime) -> None: ...
    def revocations(self) -> dict[str, datetime]: ...


@dataclass(frozen=True, slots=True)
class AnnouncementResult:
    kind: str
    key_id: str
    node_id: str
    changed: bool  # False when the directory already knew this (a replayed record)


def _malformed(reason: str) -> SignatureError:
    return SignatureError(Reason.MALFORMED_ANNOUNCEMENT, reason)


def _read_body(value: bytes) -> tuple[str, x509.Certificate, dict[str, object]]:
    try:
        body = json.loads(value)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _malformed("value is not JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("certificate"), str):
        raise _malformed("value is not an announcement object with a certificate")
    kind = body.get("kind")
    if kind not in (NODE_CERTIFICATE, REVOCATION):
        raise _malformed(f"unknown announcement kind {str(kind)[:40]!r}")
    try:
        certificate = x509.load_pem_x509_certificate(body["certificate"].encode("ascii"))
    except ValueError as exc:  # UnicodeEncodeError is a ValueError
        raise _malformed("certificate is not PEM") from exc
    return kind, certificate, body


class KeyDirectory:
    """Applies key announcements to a node's `KeyStore` (and remembers its revocations)."""

    def __init__(self, keys: KeyStore, memory: RevocationMemory | None = None) -> None:
        self.keys = keys
        self._memory = memory
        if memory is not None:
            for key_id, revoked_at in memory.revocations().items():
                keys.revoke(key_id, revoked_at)

    def apply(
        self, headers: Sequence[Header], value: bytes, *, key: bytes | None
    ) -> AnnouncementResult:
        """Apply one record of the keys topic; `key` is its record key."""
        envelope = parse_envelope(headers)
        if envelope.type != TYPE_KEY_ANNOUNCEMENT or envelope.content_type != JSON:
            raise _malformed(f"not a key announcement: {envelope.type} {envelope.content_type}")
        ca = self.keys.trust_list.by_key_id(envelope.keyid)
        if ca is None:
            raise SignatureError(Reason.UNKNOWN_KEY_ID, "announcement not signed by a listed CA")
        if envelope.source != ca.source:
            raise SignatureError(
                Reason.SOURCE_MISMATCH, f"{ca.source} key used by {envelope.source}"
            )
        if envelope.sigalg != ca.sigalg:
            raise SignatureError(Reason.BAD_SIGNATURE, f"CA key is {ca.sigalg}")
        algorithms.verify(ca.public_key, envelope.signature, envelope.signed_message(value))
        kind, certificate, body = _read_body(value)
        node_key = check_node_certificate(certificate, self.keys.trust_list)
        if node_key.ca_country != ca.country or node_key.country != ca.country:
            raise SignatureError(
                Reason.COUNTRY_MISMATCH,
                f"the {ca.country} CA announced a {node_key.ca_country} key",
            )
        announced = announcement_key(kind, node_key.key_id)
        if envelope.subject != announced:
            raise _malformed(f"header ce_subject is not {announced!r}, what the {kind} announces")
        if key != announced.encode("ascii"):
            raise _malformed(f"record key is not {announced!r}, what the {kind} announces")
        revoked_at = None
        if kind == REVOCATION:
            revoked_at = parse_time(str(body.get("revoked_at")))
            if revoked_at is None or body.get("reason") not in REVOCATION_REASONS:
                raise _malformed("revocation needs revoked_at (RFC 3339 UTC) and a known reason")
        known = node_key.key_id in self.keys
        self.keys.add(certificate)
        revoked = revoked_at is not None and self.keys.revoke(node_key.key_id, revoked_at)
        if revoked_at is not None and self._memory is not None:
            self._memory.record_revocation(node_key.key_id, revoked_at)
        changed = revoked or not known
        log.info(
            "key announcement %s of %s for %s (changed: %s)",
            kind,
            node_key.key_id,
            node_key.node_id,
            changed,
        )
        return AnnouncementResult(kind, node_key.key_id, node_key.node_id, changed)
