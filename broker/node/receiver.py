"""Receiving: Kafka -> verify -> dedupe -> (unseal) -> Avro -> render -> deliver -> receipt.

Nothing is dropped: a record that fails verification, decoding or anything unexpected goes to
this node's dead-letter topic with its reason, and the partition moves on (a poison record never
blocks it). Only a Kafka failure (`TransportError`) propagates: the batch is then not committed
and is read again, which the delivery ledger makes harmless.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

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
from broker.model import Declaration, Receipt, ReceiptError, ReceiptStatus
from broker.node.deadletter import dead_letter_record
from broker.node.parts import NodeParts
from broker.node.topics import CorridorTopics
from broker.signing.envelope import TYPE_DECLARATION, TYPE_RECEIPT, parse_envelope
from broker.signing.identity import node_id_from_urn
from broker.signing.reasons import Reason
from broker.signing.records import receipt_record
from broker.signing.seal import unseal_value
from broker.signing.verify import VerifiedMessage, Verifier
from broker.transport.base import InboundRecord, OutboundRecord, Producer

log = logging.getLogger(__name__)


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
        self._topics = CorridorTopics.of(parts.config.topics)
        self._receipt_schema = parts.codec.writer_dataschema(SchemaKind.RECEIPT)
        # Receipts and dead letters of the batch in hand, produced together by `flush`.
        self._outgoing: list[OutboundRecord] = []

    async def flush(self) -> None:
        """Produce the batch's receipts and dead letters; the offsets are committed after this."""
        outgoing, self._outgoing = self._outgoing, []
        if outgoing:
            await self._producer.send_many(outgoing)

    def discard_pending(self) -> None:
        """Forget unsent receipts and dead letters: the batch will be read (and answered) again."""
        self._outgoing.clear()

    async def handle(self, record: InboundRecord) -> None:
        try:
            message = self._verifier.verify(record.headers, record.value)
        except SignatureError as exc:
            self._refused(record, exc)
            return
        except BrokerError as exc:  # the verifier's own machinery (replay store I/O, ...)
            log.error("cannot verify: %s", exc, extra=self._about(record, None))
            self._dead_letter(record, "internal-error", f"{type(exc).__name__}: {exc}")
            return
        if not _is_uuid(message.envelope.id):  # receipts reference it as a UUID
            self._verifier.release(message)
            self._dead_letter(record, Reason.MALFORMED_ENVELOPE, "ce_id is not a UUID")
            return
        try:
            if message.envelope.type == TYPE_DECLARATION:
                await self._on_declaration(record, message)
            elif message.envelope.type == TYPE_RECEIPT:
                self._on_receipt(record, message)
            else:
                self._verifier.release(message)
                self._dead_letter(record, "unsupported-type", message.envelope.type)
        except TransportError:
            self._verifier.release(message)
            raise
        except BrokerError as exc:
            self._verifier.release(message)
            code = exc.code if isinstance(exc, SignatureError) else type(exc).__name__
            self._dead_letter(record, code, str(exc))
        except Exception as exc:  # a poison record must not stop the partition
            self._verifier.release(message)
            log.exception("unexpected failure", extra=self._about(record, message.envelope.id))
            self._dead_letter(record, "internal-error", f"{type(exc).__name__}: {exc}")
        except BaseException:  # cancelled mid-delivery: the record will come again
            self._verifier.release(message)
            raise

    def _refused(self, record: InboundRecord, exc: SignatureError) -> None:
        if exc.code == Reason.REPLAY and self._is_redelivery(record):
            self._acknowledge_again(record)
            return
        self._parts.metrics.verification_failures.labels(self._node, exc.code).inc()
        self._dead_letter(record, exc.code, str(exc))

    # ------------------------------------------------------------------ declarations
    async def _on_declaration(self, record: InboundRecord, message: VerifiedMessage) -> None:
        parts = self._parts
        envelope = message.envelope
        value = message.value
        if envelope.seal is not None:
            value = unseal_value(message, parts.identity.sealing_key)
        try:
            declaration = parts.codec.decode_declaration(value)
        except CodecError as exc:
            self._reject(record, message, exc.problems, str(exc), "undecodable")
            return
        fmt = parts.config.format
        try:
            # Deliver what the sender's format could say; missing items become warnings.
            rendered = parts.formats.get(fmt).render(declaration, require_mandatory=False)
        except FormatError as exc:
            self._reject(record, message, exc.problems, str(exc), "unrenderable")
            return
        for pattern in {pattern_of(path) for path in rendered.loss.paths}:
            parts.metrics.loss_fields.labels(self._node, fmt, pattern).inc()
        delivered = Delivered(
            message.sender,
            envelope.id,
            declaration.functional_reference,
            declaration,
            rendered.data,
            fmt,
            envelope.time,
            parts.clock.now(),
        )
        if self._deliver is not None:
            await self._deliver(delivered)
        if parts.gateway is not None:
            extension = parts.formats.get(fmt).file_extension
            parts.gateway.deliver(delivered.reference, envelope.id, extension, rendered.data)
        # NCTS code 13 "missing condition": accepted with errors, like CUSRES can say.
        warnings = tuple(ReceiptError.from_problem(p, default_code="13") for p in rendered.warnings)
        now = parts.clock.now()
        parts.ledger.record_delivered(envelope.id, record.coordinates, now, _as_json(warnings))
        self._verifier.mark_accepted(message)
        parts.metrics.delivered.labels(message.sender, self._node, fmt).inc()
        parts.metrics.end_to_end_latency.labels(message.sender, self._node).observe(
            max(0.0, (now - envelope.time).total_seconds())
        )
        self._send_receipt(message.sender, envelope.id, record.value, warnings)
        log.info("delivered", extra=self._about(record, envelope.id))

    def _reject(
        self,
        record: InboundRecord,
        message: VerifiedMessage,
        problems: tuple[Problem, ...],
        summary: str,
        code: str,
    ) -> None:
        """The sender's document is wrong: tell it why, field by field (NCTS IE906 style)."""
        errors = tuple(ReceiptError.from_problem(p) for p in problems)
        if not errors:
            errors = (ReceiptError(code=code, reason=summary[:1024] or code),)
        parts = self._parts
        parts.ledger.record_delivered(
            message.envelope.id,
            record.coordinates,
            parts.clock.now(),
            _as_json(errors, rejected=True),
        )
        self._verifier.mark_accepted(message)
        parts.metrics.rejected.labels(message.sender, self._node, parts.config.format).inc()
        self._send_receipt(
            message.sender, message.envelope.id, record.value, errors, accepted=False
        )
        log.warning("rejected: %s", code, extra=self._about(record, message.envelope.id))

    # ------------------------------------------------------------------ receipts
    def _on_receipt(self, record: InboundRecord, message: VerifiedMessage) -> None:
        parts = self._parts
        receipt = parts.codec.decode_receipt(message.value)
        # Read again after a crash, it is recognised as a redelivery, not a replay.
        parts.ledger.record_delivered(message.envelope.id, record.coordinates, parts.clock.now())
        accepted = receipt.status is ReceiptStatus.ACCEPTED
        detail = "; ".join(f"{e.code} {e.field or ''}: {e.reason}" for e in receipt.errors)
        known = parts.ledger.record_receipt(
            str(receipt.referenced_message_id), message.sender, accepted, detail, parts.clock.now()
        )
        self._verifier.mark_accepted(message)
        parts.metrics.receipts.labels(self._node, message.sender, receipt.status.value).inc()
        if not known:
            log.warning(
                "receipt for a message this node did not send",
                extra={"message_id": message.envelope.id, "node": self._node},
            )

    def _send_receipt(
        self,
        recipient: str,
        referenced: str,
        received: bytes,
        errors: tuple[ReceiptError, ...],
        *,
        accepted: bool = True,
    ) -> None:
        parts = self._parts
        now = parts.clock.now()
        receipt = Receipt(
            message_id=uuid.uuid4(),
            referenced_message_id=uuid.UUID(referenced),
            received_sha256=hashlib.sha256(received).digest(),
            receiving_node=self._node,
            status=ReceiptStatus.ACCEPTED if accepted else ReceiptStatus.REJECTED,
            issue_time=now,
            errors=errors,
        )
        signed = receipt_record(
            parts.identity,
            value=parts.codec.encode_receipt(receipt),
            message_id=str(receipt.message_id),
            referenced_message_id=referenced,
            recipient=recipient,
            time=now,
            dataschema=self._receipt_schema,
        )
        self._outgoing.append(
            OutboundRecord(self._topics.inbox(recipient), signed.value, signed.key, signed.headers)
        )

    # ------------------------------------------------------------------ redelivery, dead letters
    def _is_redelivery(self, record: InboundRecord) -> bool:
        """The same record read again after a crash (same coordinates), not a replay attack."""
        message_id = parse_envelope(record.headers).id
        return self._parts.ledger.delivered_from(message_id) == record.coordinates

    def _acknowledge_again(self, record: InboundRecord) -> None:
        """The crash may have come before the receipt went out: send the same answer again."""
        envelope = parse_envelope(record.headers)
        sender = node_id_from_urn(envelope.source)
        answer = self._parts.ledger.answer_given(envelope.id)
        if sender is None or envelope.type != TYPE_DECLARATION or answer is None:
            return  # receipts get no receipt; nothing recorded, nothing to repeat
        given = json.loads(answer)
        errors = tuple(ReceiptError.model_validate(e) for e in given["errors"])
        self._send_receipt(
            sender, envelope.id, record.value, errors, accepted=not given["rejected"]
        )

    def _dead_letter(self, record: InboundRecord, code: str, reason: str) -> None:
        parts = self._parts
        letter = dead_letter_record(
            record,
            topic=self._topics.dead_letters(self._node),
            code=code,
            reason=reason,
            node_id=self._node,
            at=parts.clock.now(),
        )
        self._outgoing.append(letter)
        parts.metrics.dead_lettered.labels(self._node, code).inc()
        log.warning("dead-lettered: %s: %s", code, reason, extra=self._about(record, None))

    def _about(self, record: InboundRecord, message_id: str | None) -> dict[str, str]:
        return {"node": self._node, "message_id": message_id or "", "source": record.coordinates}


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _as_json(errors: tuple[ReceiptError, ...], *, rejected: bool = False) -> str:
    """What a receipt said, kept in the ledger so a redelivery gets the same answer."""
    return json.dumps({"rejected": rejected, "errors": [e.model_dump() for e in errors]})
