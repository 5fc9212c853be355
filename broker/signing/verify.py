"""Verification of received records, before anything else touches their data.

`Verifier.verify` checks, in this order (the first failure is the `SignatureError.code`):

  malformed-envelope             headers do not parse, or ce_source is not a node URN
  unknown-key-id                 no certificate known for ce_keyid
  untrusted-chain                the certificate was not issued by a CA of the trust list
  certificate-not-valid-at-time  ce_time before the certificate's validity, or the judged time
                                 (below) after it
  country-mismatch               node certificate C= differs from its CA's C=, or the
                                 ce_source node id's country prefix differs from the cert's C=
  source-mismatch                ce_source is another node of the same country
  revoked                        key revoked at or before the judged time
  bad-signature                  ce_sigalg is not the key's algorithm, or the signature fails
                                 (v3: over the root message the record's proof leads to)
  wrong-recipient                ce_recipient is not this node
  clock-skew                     ce_time later than now + allowed skew
  too-old                        ce_time earlier than now - max_age (max_age = replay retention
                                 - allowed skew, so every message still accepted has its id in
                                 the replay store)
  replay                         ce_source + ce_id accepted before, or being processed now

The judged time is the later of ce_time and the broker's append time of the record minus the
allowed skew (the append time capped at the receiver's clock). The sender chooses ce_time; it
does not choose when Kafka appended its record (inbox topics use LogAppendTime), so a key that
expired or was revoked cannot sign new records by backdating ce_time beyond the allowed skew.

A v3 (batch-signed) record's signature signs its batch's root message: each record is checked
in full, but a root message that verified before under the same key with the same signature is
not verified again (`RootCache`: bounded, remembers successes only), so a batch of N records
costs one signature verification and N short hash paths.

Accepting is two-step, so that a crash between verify and delivery loses nothing: `verify`
reserves the id in memory (a duplicate arriving meanwhile is a `replay`), the runtime delivers,
then calls `mark_accepted` (the id goes to the durable store) or `release` (delivery failed; the
same message may come again). After a crash the in-memory reservations are gone and the
re-consumed record verifies again, which is what at-least-once delivery needs.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from broker.clock import Clock
from broker.errors import SignatureError
from broker.signing import algorithms
from broker.signing.envelope import Envelope, Header, parse_envelope
from broker.signing.identity import country_of, node_id_from_urn
from broker.signing.keystore import KeyStore
from broker.signing.reasons import ConfigCode, Reason, config_error
from broker.signing.replay import ReplayStore

DEFAULT_ALLOWED_SKEW = timedelta(minutes=5)
DEFAULT_ROOT_CACHE = 4096  # verified batch roots remembered (a batch is up to 1024 records)


class RootCache:
    """(key id, root message, signature) triples that verified, the least recently used dropped
    first beyond `capacity`. Only successes go in: a failed signature is checked again each time,
    so a sender making each record its own batch pays one verification per record, as v2 does."""

    __slots__ = ("_capacity", "_verified")

    def __init__(self, capacity: int = DEFAULT_ROOT_CACHE) -> None:
        if capacity < 1:
            raise config_error(ConfigCode.BAD_ARGUMENT, capacity, "root cache needs capacity >= 1")
        self._capacity = capacity
        self._verified: OrderedDict[tuple[str, bytes, bytes], None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._verified)

    def verify(
        self, key_id: str, key: algorithms.VerifyingKey, signature: bytes, message: bytes
    ) -> None:
        """Raise `SignatureError(bad-signature)` unless `signature` signs `message` under `key`."""
        entry = (key_id, message, signature)
        if entry in self._verified:
            self._verified.move_to_end(entry)
            return
        algorithms.verify(key, signature, message)
        self._verified[entry] = None
        if len(self._verified) > self._capacity:
            self._verified.popitem(last=False)


class VerifiedMessage(NamedTuple):
    """A record that passed every check; only now may its value be used (a NamedTuple: cheap)."""

    envelope: Envelope
    value: bytes
    sender: str  # node id of the sender, from ce_source, checked against its certificate
    key_id: str

    def __repr__(self) -> str:  # the value may be large, and sealed or not, it is not for logs
        return f"VerifiedMessage(sender={self.sender!r}, envelope={self.envelope!r})"


class Verifier:
    """Verifies the records addressed to one node (see the module docstring for the checks)."""

    def __init__(
        self,
        *,
        node_id: str,
        keys: KeyStore,
        replay: ReplayStore,
        clock: Clock,
        allowed_skew: timedelta = DEFAULT_ALLOWED_SKEW,
        roots: RootCache | None = None,
    ) -> None:
        if replay.retention <= 2 * allowed_skew:
            raise config_error(
                ConfigCode.BAD_ARGUMENT,
                replay.retention,
                f"replay retention must exceed twice the allowed clock skew ({allowed_skew})",
            )
        self.node_id = node_id
        self.keys = keys
        self.max_age = replay.retention - allowed_skew
        self._replay = replay
        self._clock = clock
        self._allowed_skew = allowed_skew
        self._in_flight: set[str] = set()
        self._roots = RootCache() if roots is None else roots

    def verify(
        self, headers: Sequence[Header], value: bytes, *, appended_at: datetime | None = None
    ) -> VerifiedMessage:
        """Check a record; `appended_at` is when the broker appended it (see the module doc)."""
        envelope = parse_envelope(headers)
        sender = node_id_from_urn(envelope.source)
        if sender is None:
            raise SignatureError(Reason.MALFORMED_ENVELOPE, "ce_source is not a node URN")
        key = self.keys.node_key(envelope.keyid)
        sent_at = envelope.time
        now = self._clock.now()
        judged_at = sent_at
        if appended_at is not None:
            judged_at = max(sent_at, min(appended_at, now) - self._allowed_skew)
        if not key.not_before <= sent_at or judged_at > key.not_after:
            raise SignatureError(
                Reason.CERTIFICATE_NOT_VALID_AT_TIME,
                f"certificate valid {key.not_before:%Y-%m-%dT%H:%M:%SZ} to "
                f"{key.not_after:%Y-%m-%dT%H:%M:%SZ}, header ce_time {sent_at.isoformat()}, "
                f"judged at {judged_at.isoformat()}",
            )
        if key.country != key.ca_country or country_of(sender) != key.country:
            raise SignatureError(
                Reason.COUNTRY_MISMATCH,
                f"sender {sender}, certificate C={key.country}, CA C={key.ca_country}",
            )
        if envelope.source != key.source:
            raise SignatureError(Reason.SOURCE_MISMATCH, f"key of {key.node_id} used by {sender}")
        revoked_at = self.keys.revoked_at(key.key_id)
        if revoked_at is not None and judged_at >= revoked_at:
            raise SignatureError(Reason.REVOKED, f"key revoked from {revoked_at.isoformat()}")
        if envelope.sigalg != key.sigalg:
            raise SignatureError(
                Reason.BAD_SIGNATURE, f"key is {key.sigalg}, not {envelope.sigalg}"
            )
        if envelope.proof is None:
            algorithms.verify(key.public_key, envelope.signature, envelope.signing_input(value))
        else:  # v3: the root message its proof leads to, verified once per batch
            message = envelope.signed_message(value)
            self._roots.verify(key.key_id, key.public_key, envelope.signature, message)
        if envelope.recipient != self.node_id:
            raise SignatureError(
                Reason.WRONG_RECIPIENT, f"addressed to {envelope.recipient}, not {self.node_id}"
            )
        if sent_at - now > self._allowed_skew:
            raise SignatureError(Reason.CLOCK_SKEW, f"ce_time {sent_at.isoformat()} is ahead")
        if now - sent_at > self.max_age:
            raise SignatureError(Reason.TOO_OLD, f"ce_time older than {self.max_age}")
        replay_key = _replay_key(envelope)
        if replay_key in self._in_flight or self._replay.seen(replay_key):
            raise SignatureError(Reason.REPLAY, f"message id {envelope.id!r} seen before")
        self._in_flight.add(replay_key)
        return VerifiedMessage(envelope, value, sender, key.key_id)

    def mark_accepted(self, message: VerifiedMessage) -> None:
        """The message was delivered: remember it durably."""
        replay_key = _replay_key(message.envelope)
        self._in_flight.discard(replay_key)
        self._replay.add(replay_key)

    def release(self, message: VerifiedMessage) -> None:
        """Delivery failed: forget the reservation so the same message may be retried."""
        self._in_flight.discard(_replay_key(message.envelope))


def _replay_key(envelope: Envelope) -> str:
    """`<ce_source> <ce_id>`: CloudEvents makes source + id unique, so one sender cannot burn
    another's ids (the source URN holds no space, so the key is unambiguous)."""
    return f"{envelope.source} {envelope.id}"
