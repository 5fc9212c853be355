"""Sending: national document -> parse -> route -> policy -> Avro -> (seal) -> sign -> Kafka.

Each recipient gets its own record in its own inbox, keyed by the declaration reference so an
amendment or cancellation stays behind the original in the same partition. A retried submit
(after a Kafka outage, say) skips recipients that already acknowledged this message id, and
resends the same id to the others, which is what their duplicate detection expects.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from broker.codec import SchemaKind
from broker.errors import FormatError
from broker.model import Declaration
from broker.node.config import Partner
from broker.node.parts import NodeParts
from broker.node.topics import CorridorTopics
from broker.policy import apply_policy
from broker.routing import route, with_known_itinerary
from broker.signing.envelope import TYPE_DECLARATION, build_envelope, sign_message
from broker.signing.seal import seal_value
from broker.transport.base import Delivery, OutboundRecord, Producer

log = logging.getLogger(__name__)
AVRO = "application/avro"


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
        self._fingerprint = parts.codec.writer_fingerprint_hex(SchemaKind.DECLARATION)

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
        already = {row.recipient for row in parts.ledger.by_message(message_id)}
        pending = [p for p in plan.recipients if p.node_id not in already]
        began = parts.clock.monotonic()
        prepared = [self._record_for(partner, declaration) for partner in pending]
        # One round trip for all recipients: the producer pipelines the records.
        deliveries = await self._producer.send_many([record for record, _ in prepared])
        elapsed = parts.clock.monotonic() - began
        now = parts.clock.now()
        for partner in pending:
            parts.ledger.record_sent(
                message_id, partner.node_id, declaration.functional_reference, now
            )
            parts.metrics.sent.labels(node, partner.node_id, fmt).inc()
            parts.metrics.publish_latency.labels(node, partner.node_id).observe(elapsed)
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

    def _record_for(
        self, partner: Partner, declaration: Declaration
    ) -> tuple[OutboundRecord, tuple[str, ...]]:
        """The signed (and, for this partner, sealed) record, and what policy withheld."""
        parts = self._parts
        now = parts.clock.now()
        shared = apply_policy(declaration, partner.allow_fields)
        value = parts.codec.encode_declaration(shared.declaration)
        message_id = str(declaration.message_id)
        seal = None
        if partner.seal:
            recipient_key = parts.keys.current_key(partner.node_id, now)
            value, seal = seal_value(
                value, sender=parts.config.node_id, recipient=recipient_key, message_id=message_id
            )
        envelope = build_envelope(
            message_id=message_id,
            source=parts.identity.source,
            type=TYPE_DECLARATION,
            time=now,
            content_type=AVRO,
            signer=parts.identity.signer,
            subject=declaration.functional_reference,
            dataschema=self._fingerprint,
            recipient=partner.node_id,
            seal=seal,
        )
        headers = sign_message(envelope, value, parts.identity.signer)
        record = OutboundRecord(
            self._topics.inbox(partner.node_id),
            value,
            declaration.functional_reference.encode("utf-8"),
            tuple(headers),
        )
        return record, shared.withheld
