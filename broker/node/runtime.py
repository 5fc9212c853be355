"""A running node: its loops (inbox, key directory, gateway outbox, housekeeping) and its API.

`CorridorNode.submit` is the Python entry point for sending; `run` consumes until `stop` is set,
then finishes the batch in hand, commits it and closes (drain). Several processes running the
same node share its inbox as one consumer group, each taking some partitions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Mapping
from datetime import timedelta

from broker.directory.follow import DirectoryFollower
from broker.errors import BrokerError, ConfigError, SignatureError, TransportError
from broker.node.ledger import DeliveryStatus
from broker.node.outbox import OutboxSender
from broker.node.parts import NodeParts
from broker.node.receiver import DeliverCallback, Outcome, Receiver
from broker.node.sender import Sender, SubmitResult
from broker.node.topics import CorridorTopics
from broker.signing.keydir import KeyDirectory
from broker.signing.verify import Verifier
from broker.transport.base import Consumer, InboundRecord, TopicPartition

log = logging.getLogger(__name__)

BATCH = 200
IDLE_POLL_S = 0.5
RETRY_BACKOFF_S = 2.0
MAX_HOLD_BACKOFF_S = 30.0


def next_offsets(records: list[InboundRecord]) -> dict[TopicPartition, int]:
    offsets: dict[TopicPartition, int] = {}
    for record in records:
        key = (record.topic, record.partition)
        offsets[key] = max(offsets.get(key, 0), record.offset + 1)
    return offsets


class CorridorNode:
    def __init__(self, parts: NodeParts, *, deliver: DeliverCallback | None = None) -> None:
        self.parts = parts
        self.node_id = parts.config.node_id
        self._producer = parts.transport.producer()
        self._verifier = Verifier(
            node_id=self.node_id,
            keys=parts.keys,
            replay=parts.replay,
            clock=parts.clock,
            allowed_skew=timedelta(seconds=parts.config.max_clock_skew_s),
        )
        self._sender = Sender(parts, self._producer)
        self._receiver = Receiver(parts, self._producer, self._verifier, deliver)
        self._directory = KeyDirectory(parts.keys, parts.ledger)
        self._corridor = DirectoryFollower.for_node(parts)  # None: the directory file only
        self.topics = CorridorTopics.of(parts.config.topics)
        self._keys_consumer: Consumer | None = None
        self._inbox: Consumer | None = None
        self._started = False
        self._holds = 0  # consecutive batches held by a retriable fault
        self._next_purge = 0.0

    @property
    def ready(self) -> bool:
        """Started, and no partition held by a fault (what `/readyz` answers)."""
        return self._started and self._holds == 0

    @property
    def held(self) -> bool:
        return self._holds > 0

    # ------------------------------------------------------------------ lifecycle
    async def start(self, *, receive: bool = True) -> None:
        """Connect and load the key directory; `receive=False` only sends (joins no group)."""
        await self._producer.start()
        self._keys_consumer = self.parts.transport.consumer([self.topics.keys], None)
        await self._keys_consumer.start()
        await self._catch_up_keys()
        if self._corridor is not None:
            await self._corridor.start()
        if receive:
            self._inbox = await self._new_inbox_consumer()
        if self.parts.gateway is not None:
            self.parts.gateway.create()
        self._started = True

    async def stop(self) -> None:
        self._started = False
        for consumer in (self._inbox, self._keys_consumer):
            if consumer is not None:
                await consumer.stop()
        if self._corridor is not None:
            await self._corridor.stop()
        await self._producer.stop()

    async def _new_inbox_consumer(self) -> Consumer:
        consumer = self.parts.transport.consumer(
            [self.topics.inbox(self.node_id)], self.topics.group(self.node_id)
        )
        await consumer.start()
        return consumer

    # ------------------------------------------------------------------ API
    async def submit(
        self, data: bytes, fmt: str | None = None, *, source: str = ""
    ) -> SubmitResult:
        return await self._sender.submit(data, fmt, source=source)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume, apply keys, drain the gateway outbox and keep books until `stop` is set."""
        loops = [self._inbox_loop(stop), self._keys_loop(stop), self._housekeeping_loop(stop)]
        if self.parts.gateway is not None:
            loops.append(self._gateway_loop(stop))
        if self._corridor is not None:
            loops.append(self._corridor.run(stop))
        await asyncio.gather(*loops)

    # ------------------------------------------------------------------ loops
    async def _inbox_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.process_inbox_batch()
            except TransportError as exc:
                self._hold(f"inbox: {exc}")
            if self.held:
                await self._restart_inbox(stop)

    async def process_inbox_batch(self) -> int:
        """Handle one fetched batch and commit what was handled; returns how many records.

        Records are handled in order until one is held by a retriable fault (a full or
        unwritable disk, Kafka away): the answers of those before it are produced, their offsets
        committed, and the rest of the batch is read again after a backoff.
        """
        assert self._inbox is not None, "start() first"
        records = await self._inbox.fetch(BATCH, IDLE_POLL_S)
        handled = []
        for record in records:
            result = await self._receiver.handle(record)
            if result.outcome is Outcome.HELD:
                self._hold(result.reason, result.message_id, record.coordinates)
                break
            handled.append(record)
        # Written and answered first; a failure here leaves the batch uncommitted, and reading it
        # again is harmless (the ledger knows what was delivered and what it answered).
        try:
            await self._receiver.flush()
        except (OSError, sqlite3.Error, ConfigError) as exc:  # a local fault: read it again
            self._hold(f"writing the batch: {type(exc).__name__}: {exc}")
            return 0
        await self._inbox.commit(next_offsets(handled))
        if len(handled) == len(records) and self._holds:
            self._resume()
        return len(handled)

    @property
    def _extra(self) -> dict[str, str]:
        return {"node": self.node_id}

    def _hold(self, reason: str, message_id: str = "", source: str = "") -> None:
        self._holds += 1
        self.parts.metrics.inbox_held.labels(self.node_id).set(1)
        log.warning(
            "inbox held (attempt %d): %s",
            self._holds,
            reason,
            extra={"node": self.node_id, "message_id": message_id, "source": source},
        )

    def _resume(self) -> None:
        log.info(
            "inbox resumed after %d held attempt(s)", self._holds, extra={"node": self.node_id}
        )
        self._holds = 0
        self.parts.metrics.inbox_held.labels(self.node_id).set(0)

    async def _restart_inbox(self, stop: asyncio.Event | None = None) -> None:
        """Re-read from the committed offsets after a backoff that grows while the fault lasts:
        the held record and the unhandled rest of its batch come back."""
        self._receiver.discard_pending()  # they will be answered again when re-read
        if self._inbox is not None:
            with contextlib.suppress(TransportError):
                self._record_lag(await self._inbox.lag())  # the gauge shows what waits
            with contextlib.suppress(BrokerError):
                await self._inbox.stop()
        backoff = min(MAX_HOLD_BACKOFF_S, RETRY_BACKOFF_S * 2 ** min(self._holds - 1, 5))
        if stop is None:
            await asyncio.sleep(backoff)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
        with contextlib.suppress(TransportError):
            self._inbox = await self._new_inbox_consumer()

    async def _catch_up_keys(self, timeout_s: float = 60.0) -> None:
        """Apply every announcement already on the key directory before serving."""
        assert self._keys_consumer is not None
        deadline = self.parts.clock.monotonic() + timeout_s
        while not await self._keys_consumer.caught_up():
            if self.parts.clock.monotonic() > deadline:
                raise TransportError(
                    f"could not read {self.topics.keys} to its end in {timeout_s}s"
                )
            await self._apply_keys(timeout_s=0.2)

    async def _apply_keys(self, timeout_s: float) -> int:
        assert self._keys_consumer is not None
        records = await self._keys_consumer.fetch(BATCH, timeout_s)
        for record in records:
            try:
                result = self._directory.apply(record.headers, record.value, key=record.key)
            except SignatureError as exc:
                self.parts.metrics.verification_failures.labels(self.node_id, exc.code).inc()
                log.warning(
                    "key announcement refused: %s",
                    exc,
                    extra={"node": self.node_id, "source": record.coordinates},
                )
                continue
            if result.changed:
                log.info(
                    "key directory: %s %s for %s",
                    result.kind,
                    result.key_id[:16],
                    result.node_id,
                    extra={"node": self.node_id},
                )
        return len(records)

    async def _keys_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._apply_keys(timeout_s=IDLE_POLL_S)
            except (TransportError, sqlite3.Error) as exc:  # the record is read again later
                log.warning("key directory: %s", exc, extra={"node": self.node_id})
                await self._restart_keys()
                await asyncio.sleep(RETRY_BACKOFF_S)

    async def _restart_keys(self) -> None:
        """Read the key directory again from the start (it has no committed offsets)."""
        if self._keys_consumer is not None:
            with contextlib.suppress(BrokerError):
                await self._keys_consumer.stop()
        self._keys_consumer = self.parts.transport.consumer([self.topics.keys], None)
        with contextlib.suppress(TransportError):
            await self._keys_consumer.start()

    async def _gateway_loop(self, stop: asyncio.Event, settle_s: float = 0.2) -> None:
        gateway = self.parts.gateway
        assert gateway is not None

        async def submit(data: bytes, name: str) -> SubmitResult:
            return await self.submit(data, source=name)

        await OutboxSender(gateway, submit, self.node_id).run(stop, settle_s)

    async def _housekeeping_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                self.keep_books()
            except sqlite3.Error as exc:  # a busy or full disk must not stop the node
                log.error("bookkeeping failed: %s", exc, extra={"node": self.node_id})
            if self._inbox is not None:
                with contextlib.suppress(TransportError):
                    self._record_lag(await self._inbox.lag())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)

    def keep_books(self) -> None:
        """Mark overdue receipts, refresh the receipt gauges, forget what is past replaying."""
        parts = self.parts
        if parts.clock.monotonic() >= self._next_purge:
            self._next_purge = parts.clock.monotonic() + 600.0
            if parts.gateway is not None:
                parts.gateway.purge_handled(parts.replay.retention.total_seconds())
            parts.ledger.forget_early_receipts(parts.clock.now() - parts.replay.retention)
        parts.ledger.mark_overdue(
            parts.clock.now(), timedelta(seconds=parts.config.receipt_timeout_s)
        )
        counts = parts.ledger.counts_by_recipient()
        for partner in parts.config.partners:
            pending = counts.get((partner.node_id, DeliveryStatus.SENT), 0)
            overdue = counts.get((partner.node_id, DeliveryStatus.OVERDUE), 0)
            parts.metrics.receipts_pending.labels(self.node_id, partner.node_id).set(pending)
            parts.metrics.receipts_overdue.labels(self.node_id, partner.node_id).set(overdue)

    def _record_lag(self, lag: Mapping[TopicPartition, int]) -> None:
        for (topic, partition), value in lag.items():
            self.parts.metrics.consumer_lag.labels(self.node_id, topic, str(partition)).set(value)
