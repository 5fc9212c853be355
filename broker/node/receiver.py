"""Receiving: Kafka -> verify -> bind -> dedupe -> (unseal) -> Avro -> render -> deliver -> receipt.

`Receiver.handle` turns one record into a `Handled` with a named `Outcome` (delivered, rejected,
dead-lettered, redelivered, recorded, held for retry); `Receiver.settle` is the one place that
turns outcomes into records (receipts, dead letters) and metrics. The receiver rules (what a
record must satisfy before its data is used) are listed in docs/signing.md, "Receiver rules".

- Delivery identity is (sender, ce_id): the ledger and the replay store are keyed by both, so a
  partner can neither overwrite nor burn another sender's message.
- What a declaration says is bound to who signed it: the payload's message id is ce_id, its
  reference is ce_subject, the Kafka key is ce_subject, and a change or cancellation is taken
  only from the node that sent the original of that reference.
- Poison never blocks: whatever a record is, it ends delivered, rejected (a signed receipt says
  why) or dead-lettered, and the partition moves on. Only a retriable fault (Kafka, a full or
  unwritable disk) holds the partition, which is then retried from the committed offset.
- The same message read again (a crash before the commit, a sender resending after its own
  crash, a `dlq replay`) is recognised by (sender, ce_id) and the digest of its value and gets
  the same receipt again, byte for byte; the same id with other bytes is a replay attack.
- Durable per batch: what the records of a fetched batch come to is kept in memory (`_Staged`)
  and written in one step by `commit` (called by `flush`) before any answer is produced and the
  offsets are committed: the batch's receipts signed together, its deliveries and shared records
  fsynced together, the ledger and the replay store synced once. A crash before that step leaves
  nothing acknowledged, and the batch is read again.
- Logs: one INFO line per batch lists the message ids delivered (`message_id`, comma-separated,
  so a grep for an id finds it); each record's line is DEBUG. Anything unusual (rejected, dead
  letter, read again, held) keeps its own line per record.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Any

from broker.codec import SchemaKind
from broker.errors import (
    BrokerError,
    CodecError,
    FormatError,
    Problem,
    SignatureError,
    TransportError,
)
from broker.formats.base import pattern_of
from broker.formats.receipts import render_receipt
from broker.model import Declaration, MessageFunction, Receipt, ReceiptError, ReceiptStatus
from broker.node.batches import envelope_of, signed_for
from broker.node.deadletter import dead_letter_record, reduced, shown
from broker.node.gateway import HandledRecord
from broker.node.ledger import ReceiptCheck
from broker.node.parts import NodeParts
from broker.node.topics import CorridorTopics
from broker.signing.envelope import TYPE_DECLARATION, TYPE_RECEIPT, Envelope, parse_envelope
from broker.signing.identity import node_id_from_urn
from broker.signing.reasons import Reason
from broker.signing.records import Draft, receipt_draft
from broker.signing.seal import unseal_value
from broker.signing.verify import VerifiedMessage, Verifier
from broker.transport.base import Header, InboundRecord, OutboundRecord, Producer

log = logging.getLogger(__name__)
# A receipt answers with the first MAX_RECEIPT_ERRORS problems and says how many more there were.
MAX_RECEIPT_ERRORS = 100
MAX_ORIGINAL_VALUE_CHARS = 256


class Outcome(StrEnum):
    """What handling one record came to."""

    DELIVERED = "delivered"  # rendered and handed to the national system, receipt ACCEPTED
    REJECTED = "rejected"  # the sender's document is wrong: receipt REJECTED, field by field
    DEAD_LETTERED = "dead-lettered"  # not acted on: to the dead-letter topic with its reason
    REDELIVERED = "redelivered"  # the same message again: answered again, not delivered again
    RECORDED = "recorded"  # a receipt, applied to what this node sent
    HELD = "held-for-retry"  # a retriable fault: the partition waits and retries this record


class Code(StrEnum):
    """Dead-letter codes of the receive path, besides the verifier's `Reason`s."""

    NOT_A_PARTNER = "not-a-partner"
    BINDING_MISMATCH = "binding-mismatch"
    UNKNOWN_ORIGINAL = "unknown-original"
    RECEIPT_MISMATCH = "receipt-mismatch"
    UNDECODABLE_RECEIPT = "undecodable-receipt"
    UNSUPPORTED_TYPE = "unsupported-type"
    INTERNAL_ERROR = "internal-error"


@dataclass(frozen=True)
class Delivered:
    """A received declaration, rendered for the national system."""

    sender: str
    message_id: str
    reference: str
    declaration: Declaration
    document: bytes
    format: str
    sent_at: datetime  # ce_time at the sender
    delivered_at: datetime


DeliverCallback = Callable[[Delivered], Awaitable[None]]


@dataclass(frozen=True)
class Handled:
    """The outcome of one record and the answers it needs (produced by `flush`)."""

    outcome: Outcome
    record: InboundRecord
    message_id: str = ""
    sender: str = ""
    code: str = ""  # dead-letter or rejection code, or what holds the partition
    reason: str = ""
    answers: tuple[OutboundRecord, ...] = ()
    latency_s: float | None = None  # ce_time to delivery
    metric_labels: dict[str, str] = field(default_factory=dict)


class _Refused(Exception):
    """A check failed: the record is dead-lettered with this code and reason."""

    def __init__(self, code: str, reason: str) -> None:
        self.code = code
        self.reason = reason
        super().__init__(f"{code}: {reason}")


class _Duplicate(Exception):
    """(sender, ce_id) was handled before."""


# The header each verification reason is about, so that a dead letter names it.
_HEADER_OF: dict[str, str] = {
    Reason.UNKNOWN_KEY_ID: "ce_keyid",
    Reason.UNTRUSTED_CHAIN: "ce_keyid",
    Reason.REVOKED: "ce_keyid",
    Reason.CERTIFICATE_NOT_VALID_AT_TIME: "ce_time",
    Reason.CLOCK_SKEW: "ce_time",
    Reason.TOO_OLD: "ce_time",
    Reason.COUNTRY_MISMATCH: "ce_source",
    Reason.SOURCE_MISMATCH: "ce_source",
    Reason.BAD_SIGNATURE: "ce_signature",
    Reason.WRONG_RECIPIENT: "ce_recipient",
    Reason.REPLAY: "ce_id",
    Reason.UNSEAL_FAILED: "ce_sealkeyid",
}


def detail_of(exc: SignatureError) -> str:
    """The error's message without the code in front (a dead letter carries the code apart),
    naming the header it is about."""
    detail = str(exc).removeprefix(f"{exc.code}: ")
    header = _HEADER_OF.get(exc.code)
    if header is None or detail.startswith(("header ", "field ")):
        return detail
    return f"header {header}: {detail}"


def value_digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()


class Receiver:
    def __init__(
        self,
        parts: NodeParts,
        producer: Producer,
        verifier: Verifier,
        deliver: DeliverCallback | None = None,
    ) -> None:
        self._parts = parts
        self._producer = producer
        self._verifier = verifier
        self._deliver = deliver
        self._node = parts.config.node_id
        self._partners_of: tuple[object, frozenset[str]] = (None, frozenset())
        self._topics = CorridorTopics.of(parts.config.topics)
        self._receipt_schema = parts.codec.writer_dataschema(SchemaKind.RECEIPT)
        # Answers of the batch in hand, produced together by `flush`.
        self._outgoing: list[tuple[Handled, OutboundRecord]] = []
        # What the batch in hand came to, written by `commit`: by (sender, id), the references
        # its originals own, the partners' receipts in the national format.
        self._staged: dict[tuple[str, str], _Staged] = {}
        self._staged_references: dict[tuple[str, str], str] = {}
        self._receipt_files: list[tuple[Path, bytes]] = []

    def _partners(self) -> frozenset[str]:
        """The partners in force: the corridor directory replaces `parts.config` live."""
        config = self._parts.config
        if self._partners_of[0] is not config:
            self._partners_of = (config, frozenset(p.node_id for p in config.partners))
        return self._partners_of[1]

    # ------------------------------------------------------------------ the one place
    def settle(self, handled: Handled) -> Handled:
        """Turn an outcome into its answers (queued for `flush`), metrics and a log line."""
        metrics = self._parts.metrics
        metrics.outcomes.labels(self._node, handled.outcome.value).inc()
        about = self._about(handled.record, handled.message_id)
        labels = handled.metric_labels
        match handled.outcome:
            case Outcome.DELIVERED:
                metrics.delivered.labels(**labels).inc()
                if handled.latency_s is not None:
                    metrics.end_to_end_latency.labels(handled.sender, self._node).observe(
                        handled.latency_s
                    )
                log.debug("delivered", extra=about)  # and in the batch's INFO line
            case Outcome.REJECTED:
                metrics.rejected.labels(**labels).inc()
                log.warning("rejected: %s", handled.code, extra=about)
            case Outcome.DEAD_LETTERED:
                metrics.dead_lettered.labels(self._node, handled.code).inc()
                if handled.code in Reason.__members__.values():
                    metrics.verification_failures.labels(self._node, handled.code).inc()
                log.warning(
                    "dead-lettered: %s", handled.reason, extra={**about, "reason": handled.code}
                )
            case Outcome.REDELIVERED:
                log.info("read again: answered again, not delivered again", extra=about)
            case Outcome.RECORDED:
                metrics.receipts.labels(**labels).inc()
            case Outcome.HELD:
                log.warning(
                    "held for retry: %s", handled.reason, extra={**about, "reason": handled.code}
                )
        self._outgoing.extend((handled, answer) for answer in handled.answers)
        return handled

    async def flush(self) -> None:
        """Produce the batch's answers; the offsets are committed after this.

        Each answer is its own produce request, so a record Kafka will never take (missing topic,
        not authorized, too large: `retriable` False) is known: a dead letter is reduced to its
        headers and digest, a receipt is kept in the ledger for the operator, and the partition
        moves on. A retriable failure raises: the batch is read again.
        """
        await self.commit()
        outgoing, self._outgoing = self._outgoing, []
        if not outgoing:
            return
        results = await asyncio.gather(
            *(self._producer.send(answer) for _, answer in outgoing), return_exceptions=True
        )
        retry: TransportError | None = None
        for (handled, answer), result in zip(outgoing, results, strict=True):
            if isinstance(result, TransportError):
                if result.retriable:
                    retry = retry or result
                else:
                    await self._never_taken(handled, answer, result)
            elif isinstance(result, BaseException):
                raise result
        if retry is not None:
            raise retry
        letters = [
            (h.record.coordinates, h.code)
            for h, _ in outgoing
            if h.outcome is Outcome.DEAD_LETTERED
        ]
        if letters:
            self._parts.ledger.record_dead_lettered(letters, self._parts.clock.now())
            if self._parts.gateway is not None:  # for the other processes of this node too
                self._parts.gateway.record_dead_lettered([where for where, _ in letters])

    def discard_pending(self) -> None:
        """Forget what the batch came to and its unsent answers: it will be read (and answered)
        again."""
        for staged in self._staged.values():
            self._verifier.release(staged.message)
        self._staged.clear()
        self._staged_references.clear()
        self._receipt_files.clear()
        self._outgoing.clear()

    async def commit(self) -> None:
        """Write what the batch came to in one step, then settle it (answers, metrics, logs).

        The receipts are signed, the gateway's deliveries and shared records fsynced together,
        the ledger rows written and synced, the ids marked accepted in the replay store and
        synced. A record another process of the node answered meanwhile (a copy on another
        partition) is answered with that process's receipt instead. A failure raises with
        nothing settled (the batch is read again; what was written is recognised then).
        """
        staged = list(self._staged.values())
        files = self._receipt_files
        self._staged, self._staged_references, self._receipt_files = {}, {}, []
        if not staged and not files:
            return
        parts = self._parts
        settled: list[Handled] = []
        try:
            receipts = self._signed_receipts(staged)
            if self._deliver is not None:  # before it is recorded: a failure is tried again
                for each in staged:
                    if each.delivered is not None:
                        await self._deliver(each.delivered)
            taken: set[tuple[str, str]] = set()
            if parts.gateway is not None:
                shared = [
                    HandledRecord(
                        each.handled.sender,
                        each.handled.message_id,
                        _shared(each.digest, each.outcome, receipts[index]),
                        each.reference,
                        each.delivery,
                    )
                    for index, each in enumerate(staged)
                    if index in receipts
                ]
                taken = await asyncio.to_thread(parts.gateway.commit, shared, files)
            with parts.ledger.transaction():  # one commit for the batch's rows
                for index, each in enumerate(staged):
                    key = (each.handled.sender, each.handled.message_id)
                    if key in taken:
                        self._verifier.release(each.message)
                        answer = self._again(each.handled.record, None)
                        settled += [
                            answer,
                            *(replace(c, answers=answer.answers) for c in each.copies),
                        ]
                        continue
                    receipt = receipts.get(index)
                    parts.ledger.record_handled(
                        each.handled.sender,
                        each.handled.message_id,
                        value_sha256=each.digest,
                        coordinates=each.handled.record.coordinates,
                        outcome=each.outcome,
                        at=parts.clock.now(),
                        receipt=None if receipt is None else (receipt.value, receipt.headers),
                        reference=each.reference,
                    )
                    answers = () if receipt is None else (receipt,)
                    settled += [replace(h, answers=answers) for h in (each.handled, *each.copies)]
            parts.ledger.sync()
            for each in staged:
                if (each.handled.sender, each.handled.message_id) not in taken:
                    self._verifier.mark_accepted(each.message)
            parts.replay.sync()
        except BaseException:
            for each in staged:
                self._verifier.release(each.message)
            raise
        for handled in settled:
            self.settle(handled)
        delivered = [h.message_id for h in settled if h.outcome is Outcome.DELIVERED]
        if delivered:
            log.info("delivered", extra={"node": self._node, "message_id": ",".join(delivered)})

    def _signed_receipts(self, staged: Sequence[_Staged]) -> dict[int, OutboundRecord]:
        """The batch's receipts, signed together per sender they answer (one batch signature
        for a partner that verifies envelope 3); by index in `staged`."""
        parts = self._parts
        drafts: defaultdict[str, list[tuple[int, Draft]]] = defaultdict(list)
        for index, each in enumerate(staged):
            if each.receipt is None:
                continue
            receipt, recipient = each.receipt, each.handled.sender
            draft = receipt_draft(
                parts.identity,
                value=parts.codec.encode_receipt(receipt, topic=self._topics.inbox(recipient)),
                message_id=str(receipt.message_id),
                referenced_message_id=str(receipt.referenced_message_id),
                recipient=recipient,
                time=receipt.issue_time,
                dataschema=self._receipt_schema,
            )
            drafts[recipient].append((index, draft))
        signed: dict[int, OutboundRecord] = {}
        for recipient, group in drafts.items():
            envelope = envelope_of(parts.config.partners, recipient)
            records = signed_for(parts.identity, envelope, [draft for _, draft in group])
            inbox = self._topics.inbox(recipient)
            for (index, _), record in zip(group, records, strict=True):
                signed[index] = OutboundRecord(inbox, record.value, record.key, record.headers)
        return signed

    async def _never_taken(
        self, handled: Handled, answer: OutboundRecord, error: TransportError
    ) -> None:
        parts = self._parts
        kind = "dead-letter" if handled.outcome is Outcome.DEAD_LETTERED else "receipt"
        if kind == "dead-letter" and answer.value:
            try:
                await self._producer.send(reduced(answer))
                parts.metrics.answers_reduced.labels(self._node).inc()
                log.warning(
                    "dead letter reduced: %s",
                    error,
                    extra=self._about(handled.record, handled.message_id),
                )
                return
            except TransportError as again:
                if again.retriable:
                    raise
                error = again
        parts.ledger.record_unsent(
            answer.topic, kind, str(error), handled.record.coordinates, parts.clock.now()
        )
        parts.metrics.answers_unsent.labels(self._node, kind).inc()
        log.error(
            "%s cannot be produced, kept in the ledger: %s",
            kind,
            error,
            extra=self._about(handled.record, handled.message_id),
        )

    # ------------------------------------------------------------------ handling
    async def handle(self, record: InboundRecord) -> Handled:
        """Handle one record; its outcome is settled now, or by `commit` if it must be written
        first (delivered, rejected, recorded). Answers wait for `flush`."""
        handled = await self.outcome_of(record)
        if handled.outcome in _STAGED or self._is_staged_copy(handled):
            return handled
        return self.settle(handled)

    def _is_staged_copy(self, handled: Handled) -> bool:
        staged = self._staged.get((handled.sender, handled.message_id))
        return staged is not None and any(copy is handled for copy in staged.copies)

    async def outcome_of(self, record: InboundRecord) -> Handled:
        gateway = self._parts.gateway
        if self._parts.ledger.was_dead_lettered(record.coordinates) or (
            gateway is not None and gateway.was_dead_lettered(record.coordinates)
        ):
            return Handled(Outcome.REDELIVERED, record, code="dead-lettered-before")
        message: VerifiedMessage | None = None
        accepted = False
        try:
            message = self._verifier.verify(
                record.headers, record.value, appended_at=_appended_at(record)
            )
            handled = await self._checked(record, message)
            accepted = handled.outcome in _STAGED  # marked accepted by `commit`
            return handled
        except SignatureError as exc:
            if exc.code == Reason.REPLAY:
                return self._again(record, exc)
            return self._dead_letter(record, exc.code, detail_of(exc), message)
        except _Duplicate:
            return self._again(record, None)
        except _Refused as exc:
            return self._dead_letter(record, exc.code, exc.reason, message)
        except (OSError, sqlite3.Error) as exc:  # a local fault: pause, do not dead-letter
            return self._held(record, message, type(exc).__name__, str(exc))
        except BrokerError as exc:
            if exc.retriable:
                return self._held(record, message, type(exc).__name__, str(exc))
            return self._dead_letter(record, type(exc).__name__, str(exc), message)
        except Exception as exc:  # a poison record must not stop the partition
            log.exception("unexpected failure", extra=self._about(record, _id(message)))
            return self._dead_letter(
                record, Code.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}", message
            )
        finally:
            if message is not None and not accepted:
                self._verifier.release(message)

    async def _checked(self, record: InboundRecord, message: VerifiedMessage) -> Handled:
        envelope = message.envelope
        if message.sender not in self._partners():
            raise _Refused(
                Code.NOT_A_PARTNER, f"header ce_source: {message.sender} is not a partner"
            )
        if str(_uuid(envelope.id)) != envelope.id:
            raise _Refused(Reason.MALFORMED_ENVELOPE, "header ce_id is not a canonical UUID")
        if envelope.subject is None:
            raise _Refused(Code.BINDING_MISMATCH, "header ce_subject is missing")
        if record.key != envelope.subject.encode("utf-8"):
            raise _Refused(Code.BINDING_MISMATCH, "record key differs from header ce_subject")
        if self._handled_before(message.sender, envelope.id) is not None:
            raise _Duplicate()  # by another process of this node, or before a fault
        if envelope.type == TYPE_DECLARATION:
            return await self._on_declaration(record, message)
        if envelope.type == TYPE_RECEIPT:
            return self._on_receipt(record, message)
        raise _Refused(Code.UNSUPPORTED_TYPE, f"header ce_type: {envelope.type}")

    # ------------------------------------------------------------------ declarations
    async def _on_declaration(self, record: InboundRecord, message: VerifiedMessage) -> Handled:
        parts = self._parts
        envelope = message.envelope
        sealed = envelope.seal is not None
        value = unseal_value(message, parts.identity.sealing_key) if sealed else message.value
        try:
            declaration = parts.codec.decode_declaration(value)
        except CodecError as exc:
            return self._reject(record, message, exc.problems, _summary(exc), "undecodable")
        _bind(declaration, envelope)
        reference = declaration.functional_reference
        changes = declaration.function is not MessageFunction.ORIGINAL
        if changes and self._original_of(message.sender, reference) is None:
            raise _Refused(
                Code.UNKNOWN_ORIGINAL,
                f"field function: {declaration.function.value} of reference {reference!r}, "
                f"whose original {message.sender} never sent to this node",
            )
        declaration, foreign = self._without_foreign_native_blocks(declaration, message.sender)
        fmt = parts.config.format
        try:
            # Deliver what the sender's format could say; missing items become warnings.
            rendered = parts.formats.get(fmt).render(declaration, require_mandatory=False)
        except FormatError as exc:
            return self._reject(record, message, exc.problems, _summary(exc), "unrenderable")
        for pattern in {pattern_of(path) for path in rendered.loss.paths}:
            parts.metrics.loss_fields.labels(self._node, fmt, pattern).inc()
        now = parts.clock.now()
        delivered = Delivered(
            message.sender, envelope.id, reference, declaration, rendered.data, fmt,
            envelope.time, now,
        )  # fmt: skip
        # NCTS code 13 "missing condition": accepted with errors, like CUSRES can say.
        problems = (*rendered.warnings, *foreign)
        warnings = _receipt_errors(problems, "13", sealed=sealed)
        receipt = self._receipt(message.sender, envelope.id, record.value, warnings, True)
        delivery = None
        if parts.gateway is not None:
            extension = parts.formats.get(fmt).file_extension
            target = parts.gateway.delivery_path(message.sender, reference, envelope.id, extension)
            delivery = (target, rendered.data)
        handled = Handled(
            Outcome.DELIVERED,
            record,
            envelope.id,
            message.sender,
            latency_s=max(0.0, (now - envelope.time).total_seconds()),
            metric_labels={"sender": message.sender, "recipient": self._node, "format": fmt},
        )
        return self._stage(handled, message, "delivered", receipt, declaration, delivery, delivered)

    def _without_foreign_native_blocks(
        self, declaration: Declaration, sender: str
    ) -> tuple[Declaration, tuple[Problem, ...]]:
        """Extensions in this node's own national format came from its own national system;
        from another country they are never rendered as if they were (a foreign DecSign)."""
        own = f"{self._parts.config.format}:"
        if sender[:2] == self._parts.config.country:
            return declaration, ()
        dropped = [key for key in declaration.extensions if key.startswith(own)]
        if not dropped:
            return declaration, ()
        kept = {k: v for k, v in declaration.extensions.items() if not k.startswith(own)}
        problem = Problem(
            f"{len(dropped)} {own}* extension(s) from a foreign sender not rendered",
            field="extensions",
            code="15",  # NCTS 15: condition not allowed
        )
        updated = declaration.model_copy(update={"extensions": MappingProxyType(kept)})
        return updated, (problem,)

    def _reject(
        self,
        record: InboundRecord,
        message: VerifiedMessage,
        problems: tuple[Problem, ...],
        summary: str,
        code: str,
    ) -> Handled:
        """The sender's document is wrong: tell it why, field by field (NCTS IE906 style)."""
        sealed = message.envelope.seal is not None
        errors = _receipt_errors(problems, "14", sealed=sealed)
        if not errors:
            errors = (ReceiptError(code=code, reason=summary[:1024] or code),)
        receipt = self._receipt(message.sender, message.envelope.id, record.value, errors, False)
        handled = Handled(
            Outcome.REJECTED,
            record,
            message.envelope.id,
            message.sender,
            code=code,
            metric_labels={
                "sender": message.sender,
                "recipient": self._node,
                "format": self._parts.config.format,
            },
        )
        return self._stage(handled, message, "rejected", receipt, None)

    def _stage(
        self,
        handled: Handled,
        message: VerifiedMessage,
        outcome: str,
        receipt: Receipt | None,
        declaration: Declaration | None,
        delivery: tuple[Path, bytes] | None = None,
        delivered: Delivered | None = None,
    ) -> Handled:
        """Keep what this record came to for `commit`; a copy later in the batch finds it."""
        original = declaration is not None and declaration.function is MessageFunction.ORIGINAL
        reference = declaration.functional_reference if original and declaration else None
        key = (message.sender, message.envelope.id)
        self._staged[key] = _Staged(
            handled, message, value_digest(handled.record.value), outcome, receipt, reference,
            delivery, delivered,
        )  # fmt: skip
        if reference is not None:
            self._staged_references.setdefault((message.sender, reference), message.envelope.id)
        return handled

    def _handled_before(self, sender: str, message_id: str) -> Answered | None:
        """What this node answered for (sender, id): the batch in hand (whose receipt answers
        every copy in it), its own ledger, else the gateway's shared record (another process of
        the node, another partition)."""
        staged = self._staged.get((sender, message_id))
        if staged is not None:
            return Answered(staged.digest, None)
        before = self._parts.ledger.handled(sender, message_id)
        if before is not None:
            return Answered(before.value_sha256, before.receipt)
        gateway = self._parts.gateway
        shared = None if gateway is None else gateway.handled(sender, message_id)
        if shared is None:
            return None
        return _from_shared(shared)

    def _original_of(self, sender: str, reference: str) -> str | None:
        found = self._staged_references.get((sender, reference))
        if found is None:
            found = self._parts.ledger.original_of(sender, reference)
        if found is None and self._parts.gateway is not None:
            found = self._parts.gateway.original_of(sender, reference)
        return found

    # ------------------------------------------------------------------ receipts
    def _on_receipt(self, record: InboundRecord, message: VerifiedMessage) -> Handled:
        parts = self._parts
        try:
            receipt = parts.codec.decode_receipt(message.value)
        except CodecError as exc:
            raise _Refused(Code.UNDECODABLE_RECEIPT, _summary(exc)) from exc
        referenced = str(receipt.referenced_message_id)
        if message.envelope.subject != referenced:
            raise _Refused(
                Code.RECEIPT_MISMATCH, "header ce_subject is not field referenced_message_id"
            )
        if receipt.receiving_node != message.sender:
            raise _Refused(
                Code.RECEIPT_MISMATCH,
                f"field receiving_node {receipt.receiving_node!r} is not the signer "
                f"{message.sender}",
            )
        accepted = receipt.status is ReceiptStatus.ACCEPTED
        detail = "; ".join(f"{e.code} {e.field or ''}: {e.reason}" for e in receipt.errors[:20])
        check = parts.ledger.record_receipt(
            referenced,
            message.sender,
            accepted,
            detail[:2000],
            parts.clock.now(),
            receipt.received_sha256.hex(),
        )
        if check is ReceiptCheck.WRONG_DIGEST:
            raise _Refused(
                Code.RECEIPT_MISMATCH,
                f"field received_sha256 is not the digest of what {self._node} sent "
                f"{message.sender}",
            )
        if check is ReceiptCheck.TOO_MANY_EARLY:
            raise _Refused(
                Code.RECEIPT_MISMATCH,
                f"field referenced_message_id: {self._node} sent no such message to "
                f"{message.sender} (and keeps no more early receipts from it)",
            )
        if check is ReceiptCheck.AGAIN:  # e.g. answered again by another process of the partner
            parts.metrics.duplicates.labels(self._node, message.sender).inc()
            log.info("duplicate receipt recognised", extra=self._about(record, message.envelope.id))
        if check is ReceiptCheck.EARLY:
            log.warning(
                "receipt before its sent row: kept until the row comes",
                extra=self._about(record, message.envelope.id),
            )
        if parts.gateway is not None:  # the answer, in the national system's own format
            answer = render_receipt(parts.config.format, receipt)
            target = parts.gateway.receipt_path(message.sender, referenced, answer.file_extension)
            self._receipt_files.append((target, answer.data))
        handled = Handled(
            Outcome.RECORDED,
            record,
            message.envelope.id,
            message.sender,
            metric_labels={
                "sender": self._node,
                "recipient": message.sender,
                "status": receipt.status.value,
            },
        )
        return self._stage(handled, message, "recorded", None, None)

    def _receipt(
        self,
        recipient: str,
        referenced: str,
        received: bytes,
        errors: tuple[ReceiptError, ...],
        accepted: bool,
    ) -> Receipt:
        """The receipt for `recipient`; `commit` signs it with the batch's others."""
        return Receipt(
            message_id=uuid.uuid4(),
            referenced_message_id=uuid.UUID(referenced),
            received_sha256=hashlib.sha256(received).digest(),
            receiving_node=self._node,
            status=ReceiptStatus.ACCEPTED if accepted else ReceiptStatus.REJECTED,
            issue_time=self._parts.clock.now(),
            errors=errors,
        )

    # ------------------------------------------------------------------ again, dead letters
    def _again(self, record: InboundRecord, exc: SignatureError | None) -> Handled:
        """(sender, ce_id) handled before: the same bytes get the same answer, other bytes are a
        replay attack (AS4 duplicate elimination: a resend is acknowledged, not delivered)."""
        envelope = parse_envelope(record.headers)
        sender = node_id_from_urn(envelope.source) or ""
        before = self._handled_before(sender, envelope.id)
        if before is None or before.value_sha256 != value_digest(record.value):
            reason = detail_of(exc) if exc is not None else f"message id {envelope.id} seen before"
            if before is not None:
                reason = f"header ce_id {envelope.id} seen before with other content"
            return self._dead_letter(record, Reason.REPLAY, reason, None)
        self._parts.metrics.duplicates.labels(self._node, sender).inc()
        staged = self._staged.get((sender, envelope.id))
        if staged is not None:  # a copy in the batch in hand: answered by `commit`, the same way
            copy = Handled(Outcome.REDELIVERED, record, envelope.id, sender)
            staged.copies.append(copy)
            return copy
        answers: tuple[OutboundRecord, ...] = ()
        if before.receipt is not None:
            value, headers = before.receipt
            answers = (
                OutboundRecord(self._topics.inbox(sender), value, envelope.id.encode(), headers),
            )
        return Handled(Outcome.REDELIVERED, record, envelope.id, sender, answers=answers)

    def _dead_letter(
        self,
        record: InboundRecord,
        code: str,
        reason: str,
        message: VerifiedMessage | None,
    ) -> Handled:
        parts = self._parts
        if code == Reason.MALFORMED_ENVELOPE:
            reason = _with_undecodable_header(record, reason)
        letter = dead_letter_record(
            record,
            topic=self._topics.dead_letters(self._node),
            code=code,
            reason=reason,
            node_id=self._node,
            at=parts.clock.now(),
            max_bytes=parts.codec.max_message_bytes,
        )
        return Handled(
            Outcome.DEAD_LETTERED,
            record,
            _id(message),
            "" if message is None else message.sender,
            code=code,
            reason=reason,
            answers=(letter,),
        )

    def _held(
        self, record: InboundRecord, message: VerifiedMessage | None, code: str, reason: str
    ) -> Handled:
        return Handled(Outcome.HELD, record, _id(message), code=code, reason=reason)

    def _about(self, record: InboundRecord, message_id: str) -> dict[str, str]:
        return {"node": self._node, "message_id": message_id, "source": record.coordinates}


# Outcomes written by `commit` before they are settled.
_STAGED = frozenset({Outcome.DELIVERED, Outcome.REJECTED, Outcome.RECORDED})


@dataclass(frozen=True)
class _Staged:
    """A record of the batch in hand and what it came to, until `commit` writes it."""

    handled: Handled  # its answers are filled in by `commit`
    message: VerifiedMessage  # reserved in the verifier until commit (or discard)
    digest: str
    outcome: str
    receipt: Receipt | None  # unsigned: signed with the batch's other receipts
    reference: str | None  # the reference an original owns
    delivery: tuple[Path, bytes] | None
    delivered: Delivered | None  # for the `deliver` callback, called by `commit`
    copies: list[Handled] = field(default_factory=list)  # the same message again in the batch


@dataclass(frozen=True)
class Answered:
    """An earlier answer: the digest of the value answered and the receipt sent, if any."""

    value_sha256: str
    receipt: tuple[bytes, tuple[Header, ...]] | None


def _shared(digest: str, outcome: str, receipt: OutboundRecord) -> dict[str, object]:
    headers = [[name, value.hex()] for name, value in receipt.headers]
    return {"digest": digest, "outcome": outcome, "receipt": [receipt.value.hex(), headers]}


def _from_shared(body: dict[str, Any]) -> Answered:
    value: str = body["receipt"][0]
    headers: list[list[str]] = body["receipt"][1]
    receipt = (bytes.fromhex(value), tuple((n, bytes.fromhex(v)) for n, v in headers))
    return Answered(str(body["digest"]), receipt)


def _with_undecodable_header(record: InboundRecord, reason: str) -> str:
    """Name the first `ce_*` header that is not UTF-8, its value escaped (`\\xff`), never raw."""
    for name, value in record.headers:
        if not name.startswith("ce_") and name != "content-type":
            continue
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            return f"header {name[:40]}: not UTF-8 ({shown(value[:60])}): {reason}"
    return reason


def _bind(declaration: Declaration, envelope: Envelope) -> None:
    """The payload says what the signed headers say, or the record is not acted on."""
    if str(declaration.message_id) != envelope.id:
        raise _Refused(Code.BINDING_MISMATCH, "field message_id differs from header ce_id")
    if declaration.functional_reference != envelope.subject:
        raise _Refused(
            Code.BINDING_MISMATCH, "field functional_reference differs from header ce_subject"
        )


def _receipt_errors(
    problems: tuple[Problem, ...], default_code: str, *, sealed: bool
) -> tuple[ReceiptError, ...]:
    """The first problems as receipt errors, then one saying how many more; a receipt about a
    sealed declaration quotes no original values (the receipt itself travels in clear)."""
    errors = []
    for problem in problems[:MAX_RECEIPT_ERRORS]:
        error = ReceiptError.from_problem(problem, default_code=default_code)
        value = error.original_value
        value = None if sealed or value is None else value[:MAX_ORIGINAL_VALUE_CHARS]
        errors.append(error.model_copy(update={"original_value": value}))
    if len(problems) > MAX_RECEIPT_ERRORS:
        more = len(problems) - MAX_RECEIPT_ERRORS
        errors.append(ReceiptError(code=default_code, reason=f"and {more} more problem(s)"))
    return tuple(errors)


def _summary(exc: BrokerError) -> str:
    return str(exc.args[0]) if exc.args else type(exc).__name__


def _uuid(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise _Refused(Reason.MALFORMED_ENVELOPE, "header ce_id is not a UUID") from None


def _id(message: VerifiedMessage | None) -> str:
    return "" if message is None else message.envelope.id


def _appended_at(record: InboundRecord) -> datetime | None:
    if record.timestamp_ms <= 0:
        return None
    return datetime.fromtimestamp(record.timestamp_ms / 1000, UTC)
