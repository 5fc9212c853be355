"""The real transport: aiokafka against Apache Kafka. The only module that imports aiokafka.

Producers are idempotent with `acks=all`, so an acknowledged record survives the loss of a broker
(with min.insync.replicas >= 2) and a retried send is never written twice. Consumers never
auto-commit: the node commits only after it has delivered or dead-lettered a record.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError, for_code
from aiokafka.structs import OffsetAndMetadata

from broker.errors import TransportError
from broker.transport.base import (
    Delivery,
    InboundRecord,
    OutboundRecord,
    TopicSpec,
)
from broker.transport.base import (
    TopicPartition as TopicPartitionKey,
)
from broker.transport.settings import KafkaSettings, client_kwargs

log = logging.getLogger(__name__)


def _wrap(action: str, exc: KafkaError) -> TransportError:
    error = TransportError(f"{action}: {type(exc).__name__}: {exc}")
    # A few Kafka errors will fail the same way on every retry (authorization, bad config).
    if not getattr(exc, "retriable", True):
        error.retriable = False  # type: ignore[misc]  # per-instance override of the class default
    return error


class KafkaProducer:
    """The aiokafka client is made in `start` (inside the event loop) and gone after `stop`."""

    def __init__(self, settings: KafkaSettings, *, linger_ms: int = 0) -> None:
        self._settings = settings
        self._linger_ms = linger_ms
        self._started: AIOKafkaProducer | None = None

    @property
    def _client(self) -> AIOKafkaProducer:
        if self._started is None:
            raise TransportError("producer used before start()")
        return self._started

    async def start(self) -> None:
        self._started = AIOKafkaProducer(
            **client_kwargs(self._settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=self._linger_ms,
        )
        try:
            await self._started.start()
        except KafkaError as exc:
            await self.stop()
            raise _wrap("starting producer", exc) from exc

    async def stop(self, flush_timeout_s: float = 10.0) -> None:
        """Deliver what is buffered, waiting at most `flush_timeout_s` (Kafka may be away)."""
        if self._started is not None:
            client, self._started = self._started, None
            try:
                await asyncio.wait_for(client.stop(), flush_timeout_s)
            except TimeoutError:
                # Unacknowledged records are abandoned; their senders never saw an ack, so
                # gateway files stay in the outbox and submits have raised or been cancelled.
                log.warning("Kafka unreachable: producer closed with records unsent")
                await client.client.close()

    async def send(self, record: OutboundRecord) -> Delivery:
        try:
            future = await self._client.send(
                record.topic, record.value, key=record.key, headers=list(record.headers)
            )
            meta = await future
        except KafkaError as exc:
            raise _wrap(f"producing to {record.topic}", exc) from exc
        return Delivery(meta.topic, meta.partition, meta.offset)

    async def send_many(self, records: Sequence[OutboundRecord]) -> list[Delivery]:
        # Enqueue all first: the client batches them into few requests; then await every ack
        # (return_exceptions: no future is left unobserved when one of them fails).
        futures: list[asyncio.Future[Any]] = []
        failure: BaseException | None = None
        for r in records:
            try:
                futures.append(
                    await self._client.send(r.topic, r.value, key=r.key, headers=list(r.headers))
                )
            except KafkaError as exc:
                failure = exc
                break
        outcomes = await asyncio.gather(*futures, return_exceptions=True)
        failure = failure or next((o for o in outcomes if isinstance(o, BaseException)), None)
        metas: list[Any] = [o for o in outcomes if not isinstance(o, BaseException)]
        if isinstance(failure, KafkaError):
            raise _wrap(f"producing {len(records)} records", failure) from failure
        if failure is not None:
            raise failure
        return [Delivery(m.topic, m.partition, m.offset) for m in metas]


class KafkaConsumer:
    """The aiokafka client is made in `start` (inside the event loop) and gone after `stop`."""

    def __init__(
        self, settings: KafkaSettings, topics: Sequence[str], group_id: str | None
    ) -> None:
        self._settings = settings
        self._topics = list(topics)
        self._group_id = group_id
        self._started: AIOKafkaConsumer | None = None

    @property
    def _client(self) -> AIOKafkaConsumer:
        if self._started is None:
            raise TransportError("consumer used before start()")
        return self._started

    async def start(self) -> None:
        self._started = AIOKafkaConsumer(
            *self._topics,
            **client_kwargs(self._settings),
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # The node's handler for one batch must finish within this, else it is evicted.
            max_poll_interval_ms=300_000,
        )
        try:
            await self._started.start()
        except KafkaError as exc:
            await self.stop()
            raise _wrap("starting consumer", exc) from exc

    async def stop(self) -> None:
        if self._started is not None:
            client, self._started = self._started, None
            try:
                await client.stop()
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # we are being cancelled ourselves
                # aiokafka's fetcher re-raises its own cancelled fetch when a broker is gone.

    async def fetch(self, max_records: int, timeout_s: float) -> list[InboundRecord]:
        try:
            batches = await self._client.getmany(
                timeout_ms=int(timeout_s * 1000), max_records=max_records
            )
        except KafkaError as exc:
            raise _wrap("fetching", exc) from exc
        return [
            InboundRecord(
                topic=r.topic,
                partition=r.partition,
                offset=r.offset,
                key=r.key,
                value=r.value if r.value is not None else b"",
                headers=tuple(r.headers),
                timestamp_ms=r.timestamp,
            )
            for records in batches.values()
            for r in records
        ]

    async def commit(self, next_offsets: Mapping[TopicPartitionKey, int]) -> None:
        if not next_offsets:
            return
        offsets = {
            TopicPartition(topic, partition): OffsetAndMetadata(offset, "")
            for (topic, partition), offset in next_offsets.items()
        }
        try:
            await self._client.commit(offsets)
        except KafkaError as exc:
            raise _wrap("committing offsets", exc) from exc

    async def lag(self) -> dict[TopicPartitionKey, int]:
        assigned = list(self._client.assignment())
        if not assigned:
            return {}
        try:
            ends = await self._client.end_offsets(assigned)
            result = {}
            for tp in assigned:
                committed = await self._client.committed(tp)
                result[(tp.topic, tp.partition)] = ends[tp] - (committed or 0)
        except KafkaError as exc:
            raise _wrap("reading consumer lag", exc) from exc
        return result

    async def caught_up(self) -> bool:
        assigned = list(self._client.assignment())
        try:
            ends = await self._client.end_offsets(assigned)
            for tp in assigned:
                if await self._client.position(tp) < ends[tp]:
                    return False
        except KafkaError as exc:
            raise _wrap("reading end offsets", exc) from exc
        return bool(assigned)


class KafkaAdmin:
    def __init__(self, settings: KafkaSettings) -> None:
        self._client = AIOKafkaAdminClient(**client_kwargs(settings))

    async def start(self) -> None:
        try:
            await self._client.start()
        except KafkaError as exc:
            await self._client.close()
            raise _wrap("starting admin client", exc) from exc

    async def ensure_topics(self, specs: Sequence[TopicSpec]) -> list[str]:
        try:
            existing = set(await self._client.list_topics())
            wanted = [s for s in specs if s.name not in existing]
            if not wanted:
                return []
            response = await self._client.create_topics(
                [
                    NewTopic(
                        s.name, s.partitions, s.replication_factor, topic_configs=dict(s.configs)
                    )
                    for s in wanted
                ]
            )
        except KafkaError as exc:
            raise _wrap("creating topics", exc) from exc
        created = []
        for topic, code, *message in response.topic_errors:
            if code == 0:
                created.append(topic)
            elif for_code(code) is not TopicAlreadyExistsError:  # a racing node made it: fine
                raise _wrap(f"creating topic {topic}", for_code(code)(*message))
        return created

    async def close(self) -> None:
        await self._client.close()


class KafkaTransport:
    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings

    def producer(self) -> KafkaProducer:
        return KafkaProducer(self.settings)

    def consumer(self, topics: Sequence[str], group_id: str | None) -> KafkaConsumer:
        return KafkaConsumer(self.settings, topics, group_id)

    async def admin(self) -> KafkaAdmin:
        admin = KafkaAdmin(self.settings)
        await admin.start()
        return admin
