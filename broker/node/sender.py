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

Batched: the copies that are ready together (several submissions in the same turn of the event
loop: the outbox hands over the files it found together, a caller gathers submits) are signed,
prepared and produced as one batch: one ledger sync for all of them, one produce round trip,
and one signature per recipient that verifies batch signatures (directory `envelope = 3`,
`broker.node.batches`); a recipient that says 2 gets one signature per record.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from broker.codec import SchemaKind
from broker.errors import FormatError
from broker.model import Declaration
from broker.node.batches import signed_for
from broker.node.config import Partner
from broker.node.ledger import DeliveryStatus
from broker.node.parts import NodeParts
from broker.node.topics import CorridorTopics
from broker.policy import apply_policy
from broker.routing import route, with_known_itinerary
from broker.signing.records import Draft, declaration_draft
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
        self._batch: list[_Copy] = []  # ready to go out with the next flush
        self._flushes: set[asyncio.Task[None]] = set()  # running (a reference keeps them alive)

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
        already = {
            row.recipient
            for row in parts.ledger.by_message(message_id)
            if row.status is not DeliveryStatus.PREPARED
        }
        pending = [p for p in plan.recipients if p.node_id not in already]
        seal_all = any(p.seal for p in plan.recipients)
        began = parts.clock.monotonic()
        copies = [self._copy(p, declaration, seal_all, fmt, began) for p in pending]
        for copy in copies:
            self._enqueue(copy)
        # Every copy's outcome is awaited, so a failure leaves a true status for each.
        outcomes = await asyncio.gather(*(c.done for c in copies), return_exceptions=True)
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
            SentTo(copy.partner.node_id, delivery, copy.withheld)
            for copy, delivery in zip(copies, deliveries, strict=True)
        ]
        order = [p.node_id for p in plan.recipients]
        sent.sort(key=lambda s: order.index(s.recipient))
        return SubmitResult(
            declaration.functional_reference, message_id, tuple(sent), plan.unserved_countries
        )

    def _copy(
        self, partner: Partner, declaration: Declaration, seal: bool, fmt: str, began: float
    ) -> _Copy:
        """The copy for `partner`: the record prepared before (to resend it as is), or a new
        one to sign with the batch it goes out in."""
        parts = self._parts
        message_id = str(declaration.message_id)
        reference = declaration.functional_reference
        stored = parts.ledger.prepared_record(message_id, partner.node_id)
        if stored is not None:
            withheld = apply_policy(declaration, partner.allow_fields).withheld
            record = _loads(stored)
            return _Copy(partner, message_id, reference, fmt, began, withheld, record=record)
        now = parts.clock.now()
        shared = apply_policy(declaration, partner.allow_fields)
        inbox = self._topics.inbox(partner.node_id)
        draft = declaration_draft(
            parts.identity,
            value=parts.codec.encode_declaration(shared.declaration, topic=inbox),
            message_id=message_id,
            reference=reference,
            recipient=partner.node_id,
            time=now,
            dataschema=self._dataschema,
            seal_to=parts.keys.current_key(partner.node_id, now) if seal else None,
        )
        return _Copy(partner, message_id, reference, fmt, began, shared.withheld, draft=draft)

    def _enqueue(self, copy: _Copy) -> None:
        if not self._batch:  # after the other submissions ready in this turn of the loop
            asyncio.get_running_loop().call_soon(self._flush_soon)
        self._batch.append(copy)

    def _flush_soon(self) -> None:
        batch, self._batch = self._batch, []
        task = asyncio.ensure_future(self._flush(batch))
        self._flushes.add(task)
        task.add_done_callback(self._flushes.discard)

    async def _flush(self, batch: list[_Copy]) -> None:
        """Sign, prepare (one ledger sync) and produce the batch; each copy's `done` says."""
        parts = self._parts
        records: list[OutboundRecord] = []
        try:
            self._sign(batch)
            with parts.ledger.transaction():  # one commit for the batch's rows
                for copy in batch:
                    assert copy.record is not None
                    if copy.draft is not None:  # new: prepared before it is produced
                        parts.ledger.record_prepared(
                            copy.message_id,
                            copy.partner.node_id,
                            copy.reference,
                            hashlib.sha256(copy.record.value).hexdigest(),
                            _dumps(copy.record),
                            parts.clock.now(),
                        )
                    records.append(copy.record)
            parts.ledger.sync()  # prepared before produced: a resend is the very same record
        except Exception as exc:  # noqa: BLE001 - each submission gets the error
            for copy in batch:
                copy.settle(exc)
            return
        outcomes = await asyncio.gather(
            *(self._producer.send(record) for record in records), return_exceptions=True
        )
        for copy, outcome in zip(batch, outcomes, strict=True):
            if not isinstance(outcome, BaseException):
                try:
                    self._sent(copy)
                except Exception as exc:  # noqa: BLE001 - the ledger refused: this one fails
                    outcome = exc
            copy.settle(outcome)

    def _sign(self, batch: list[_Copy]) -> None:
        """Sign the new copies of `batch`, one recipient at a time, as each verifies."""
        unsigned: defaultdict[str, list[_Copy]] = defaultdict(list)
        for copy in batch:
            if copy.record is None:
                unsigned[copy.partner.node_id].append(copy)
        for copies in unsigned.values():
            drafts = [c.draft for c in copies if c.draft is not None]
            signed = signed_for(self._parts.identity, copies[0].partner.envelope, drafts)
            topic = self._topics.inbox(copies[0].partner.node_id)
            for copy, record in zip(copies, signed, strict=True):
                copy.record = OutboundRecord(topic, record.value, record.key, record.headers)

    def _sent(self, copy: _Copy) -> None:
        parts = self._parts
        assert copy.record is not None
        node = parts.config.node_id
        parts.ledger.record_sent(
            copy.message_id,
            copy.partner.node_id,
            copy.reference,
            parts.clock.now(),
            hashlib.sha256(copy.record.value).hexdigest(),
        )
        parts.metrics.sent.labels(node, copy.partner.node_id, copy.format).inc()
        parts.metrics.publish_latency.labels(node, copy.partner.node_id).observe(
            parts.clock.monotonic() - copy.began
        )


@dataclass(eq=False)
class _Copy:
    """One recipient's copy of a declaration on its way out; `done` says how it went."""

    partner: Partner
    message_id: str
    reference: str
    format: str
    began: float
    withheld: tuple[str, ...]
    record: OutboundRecord | None = None  # signed (or prepared by an earlier attempt)
    draft: Draft | None = None  # new: signed with the batch it goes out in
    done: asyncio.Future[Delivery] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )

    def settle(self, outcome: Delivery | BaseException) -> None:
        if self.done.done():  # its submission was cancelled meanwhile (shutdown)
            return
        if isinstance(outcome, asyncio.CancelledError):
            self.done.cancel()
        elif isinstance(outcome, BaseException):
            self.done.set_exception(outcome)
        else:
            self.done.set_result(outcome)


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
