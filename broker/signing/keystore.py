"""The node certificates one node knows, their revocations, and the chain checks already done.

Certificates arrive from key announcements (or are loaded at start) and are stored as they come;
the chain check against the trust list runs on first use and its result (`NodeKey`) is cached by
key id, so the per-message cost is one dictionary look-up. A revocation drops the cached entry.
Several certificates per node live side by side: that is how key rotation works.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509

from broker.errors import SignatureError
from broker.signing.algorithms import key_id
from broker.signing.identity import certificate_node_id
from broker.signing.reasons import Reason
from broker.signing.trust import NodeKey, TrustList, check_node_certificate


class KeyStore:
    """Node certificates by key id, their revocations, and the cached chain checks."""

    def __init__(self, trust_list: TrustList) -> None:
        self.trust_list = trust_list
        self._certificates: dict[str, x509.Certificate] = {}
        self._key_ids_by_node: dict[str, set[str]] = {}
        self._revoked_at: dict[str, datetime] = {}
        self._checked: dict[str, NodeKey] = {}

    def add(self, certificate: x509.Certificate) -> str:
        """Remember a node certificate (idempotent); returns its key id."""
        kid = key_id(certificate.public_key())
        self._certificates[kid] = certificate
        node_id = certificate_node_id(certificate)
        if node_id is not None:
            self._key_ids_by_node.setdefault(node_id, set()).add(kid)
        return kid

    def __contains__(self, kid: str) -> bool:
        return kid in self._certificates

    def node_key(self, kid: str) -> NodeKey:
        """The checked key for `kid`, or `unknown-key-id` / `untrusted-chain`."""
        checked = self._checked.get(kid)
        if checked is not None:
            return checked
        certificate = self._certificates.get(kid)
        if certificate is None:
            raise SignatureError(Reason.UNKNOWN_KEY_ID, f"no certificate for key id {kid}")
        checked = self._checked[kid] = check_node_certificate(certificate, self.trust_list)
        return checked

    def revoke(self, kid: str, at: datetime) -> bool:
        """Refuse `kid` from `at` on; the earliest revocation time wins. True if it changed."""
        known = self._revoked_at.get(kid)
        if known is not None and known <= at:
            return False
        self._revoked_at[kid] = at
        self._checked.pop(kid, None)
        return True

    def revoked_at(self, kid: str) -> datetime | None:
        return self._revoked_at.get(kid)

    def current_key(self, node_id: str, at: datetime) -> NodeKey:
        """The newest trusted, valid, unrevoked key of `node_id` at `at` (to seal values to)."""
        candidates = []
        for kid in self._key_ids_by_node.get(node_id, ()):
            try:
                node_key = self.node_key(kid)
            except SignatureError:
                continue
            revoked_at = self._revoked_at.get(kid)
            if node_key.not_before <= at <= node_key.not_after and (
                revoked_at is None or at < revoked_at
            ):
                candidates.append(node_key)
        if not candidates:
            raise SignatureError(Reason.UNKNOWN_KEY_ID, f"no usable certificate for {node_id}")
        return max(candidates, key=lambda candidate: candidate.not_before)
