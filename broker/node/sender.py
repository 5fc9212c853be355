"""Sending: national document -> parse -> route -> policy -> Avro -> (seal) -> sign -> Kafka.

Each recipient gets its own record in its own inbox, keyed by the declaration reference so an
amendment or cancellation stays behind the original in the same partition. If any recipient of
a declaration requires sealing, every copy is sealed, each to its own recipient: a clear copy
to a transit country would make the sealing of the others pointless.

Crash-safe: each recipient's record is written to the ledger (`prepared`) before it is produced,
and marked `sent` as Kafka acknowledges it. A retried submit (after a Kafka outage or a crash)
skips recipients that acknowledged this message id and resends the very same record to the
others, byte for byte, which their duplicate detection acknowledges again instead of calling it
a replay. The ledger keeps the SHA-256 of each recipient's value: a receipt must quote it.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass

from broker.codec import SchemaKind
from broker.errors import FormatError
from broker.model import Declaration
from broker.node.config import Partner
from broker.node.ledger import DeliveryStatus
from broker.node.parts import NodeParts
from broker.node.topics import CorridorTopics
from broker.policy import apply_policy
from broker.routing import route, with_known_itinerary
from broker.signing.records import declaration_record
from broker.transport.base import Delivery, OutboundRecord, Producer

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SentTo:
    recipient: str
    delivery: Delivery | None  # None: acknowledged by an earlier attempt
    withheld: tuple[str, ...]


@dataclass(frozen=True)
class SubmitResult:
    reference: str
    message_id: str
    sent: tuple[SentTo, ...]
    unserved_countries: tuple[str, ...]


class Sender:
    def __init__(self, parts: NodeParts, producer: Producer) -> None:
        self._parts = parts
        self._producer = producer
        self._topics = CorridorTopics.of(parts.config.topics)
        self._dataschema = parts.codec.writer_dataschema(SchemaKind.DECLARATION)

    async def submit(
        self, data: bytes, fmt: str | None = None, *, source: str = ""
    ) -> SubmitResult:
        """Parse and send; raises FormatError (bad document) or TransportError (Kafka)."""
        parts = self._parts
        fmt = fmt or parts.config.format
        labels = {"sender": parts.config.node_id, "format": fmt}
        try:
            declaration = parts.formats.get(fmt).parse(data, source=source)
        except FormatError:
            parts.metrics.normalization_errors.labels(parts.config.node_id, fmt).inc()
            raise
        parts.metrics.submitted.labels(**labels).inc()
        return await self.send(declaration, fmt)

    async def send(self, declaration: Declaration, fmt: str) -> SubmitResult:
        parts = self._parts
        node = parts.config.node_id
        declaration = with_known_itinerary(
            declaration, parts.config.country, parts.config.transit_routes
        )
        plan = route(declaration, parts.config.country, parts.config.partners)
        message_id = str(declaration.message_id)
        reference = declaration.functional_reference
        already = {
            row.recipient
            for row in parts.ledger.by_message(message_id)
            if row.status is not DeliveryStatus.PREPARED
        }
        pending = [p for p in plan.recipients if p.node_id not in already]
        seal_all = any(p.seal for p in plan.recipients)
        began = parts.clock.monotonic()
        prepared = [self._prepared(p, declaration, seal_all) for p in pending]
        # One round trip for all recipients (the producer pipelines the requests); each
        # acknowledgement is recorded as it comes, so a failure leaves a true status.
        sends = [
            self._send_one(partner, record, reference, fmt, began)
            for partner, (record, _) in zip(pending, prepared, strict=True)
        ]
        outcomes = await asyncio.gather(*sends, return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        deliveries = [o for o in outcomes if not isinstance(o, BaseException)]
        if plan.unserved_countries:
            log.warning(
                "no partner node serves %s",
                ",".join(plan.unserved_countries),
                extra={"message_id": message_id, "node": node},
            )
        sent = [SentTo(p.node_id, None, ()) for p in plan.recipients if p.node_id in already]
        sent += [
            SentTo(partner.node_id, delivery, withheld)
            for partner, delivery, (_, withheld) in zip(pending, deliveries, prepared, strict=True)
        ]
        order = [p.node_id for p in plan.recipients]
        sent.sort(key=lambda s: order.index(s.recipient))
        return SubmitResult(
            declaration.functional_reference, message_id, tuple(sent), plan.unserved_countries
        )

    async def _send_one(
        self, partner: Partner, record: OutboundRecord, reference: str, fmt: str, began: float
    ) -> Delivery:
        parts = self._parts
        delivery = await self._producer.send(record)
        node = parts.config.node_id
        parts.ledger.record_sent(
            str(_message_id(record)),
            partner.node_id,
            reference,
            parts.clock.now(),
            hashlib.sha256(record.value).hexdigest(),
        )
        parts.metrics.sent.labels(node, partner.node_id, fmt).inc()
        parts.metrics.publish_latency.labels(node, partner.node_id).observe(
            parts.clock.monotonic() - began
        )
        return delivery

    def _prepared(
        self, partner: Partner, declaration: Declaration, seal: bool
    ) -> tuple[OutboundRecord, tuple[str, ...]]:
        """The record for `partner` as prepared before (to resend it as is), or a new one,
        written to the ledger before it is produced."""
        parts = self._parts
        message_id = str(declaration.message_id)
        stored = parts.ledger.prepared_record(message_id, partner.node_id)
        if stored is not None:
            withheld = apply_policy(declaration, partner.allow_fields).withheld
            return _loads(stored), withheld
        record, withheld = self._record_for(partner, declaration, seal)
        parts.ledger.record_prepared(
            message_id,
            partner.node_id,
            declaration.functional_reference,
            hashlib.sha256(record.value).hexdigest(),
            _dumps(record),
            parts.clock.now(),
        )
        return record, withheld

    def _record_for(
        self, partner: Partner, declaration: Declaration, seal_it: bool
    ) -> tuple[OutboundRecord, tuple[str, ...]]:
        """The signed (and, if `seal_it`, sealed) record, and what policy withheld."""
        parts = self._parts
        now = parts.clock.now()
        shared = apply_policy(declaration, partner.allow_fields)
        inbox = self._topics.inbox(partner.node_id)
        value = parts.codec.encode_declaration(shared.declaration, topic=inbox)
        signed = declaration_record(
            parts.identity,
            value=value,
            message_id=str(declaration.message_id),
            reference=declaration.functional_reference,
            recipient=partner.node_id,
            time=now,
            dataschema=self._dataschema,
            seal_to=parts.keys.current_key(partner.node_id, now) if seal_it else None,
        )
        record = OutboundRecord(inbox, signed.value, signed.key, signed.headers)
        return record, shared.withheld


def _message_id(record: OutboundRecord) -> str:
    return dict(record.headers)["ce_id"].decode("ascii")


def _dumps(record: OutboundRecord) -> bytes:
    """A prepared record for the ledger (hex: the bytes must come back exactly)."""
    return json.dumps(
        {
            "topic": record.topic,
            "key": None if record.key is None else record.key.hex(),
            "value": record.value.hex(),
            "headers": [[name, value.hex()] for name, value in record.headers],
        }
    ).encode("ascii")


def _loads(data: bytes) -> OutboundRecord:
    stored = json.loads(data)
    return OutboundRecord(
        stored["topic"],
        bytes.fromhex(stored["value"]),
        None if stored["key"] is None else bytes.fromhex(stored["key"]),
        tuple((name, bytes.fromhex(value)) for name, value in stored["headers"]),
    )
