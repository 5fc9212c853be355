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
        signed = declaration_record(
            parts.identity,
            value=value,
            message_id=str(declaration.message_id),
            reference=declaration.functional_reference,
            recipient=partner.node_id,
            time=now,
            dataschema=self._dataschema,
            seal_to=parts.keys.current_key(partner.node_id, now) if partner.seal else None,
        )
        record = OutboundRecord(
            self._topics.inbox(partner.node_id), signed.value, signed.key, signed.headers
        )
        return record, shared.withheld
