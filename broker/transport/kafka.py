"""The real transport: aiokafka against Apache Kafka. The only module that imports aiokafka.

Producers are idempotent with `acks=all`, so an acknowledged record survives the loss of a broker
(with min.insync.replicas >= 2) and a retried send is never written twice. Consumers never
auto-commit: the node commits only after it has delivered or dead-lettered a record.
Transactional producers commit records and consumer offsets atomically (checked against Kafka
4.1.1 in tests/contract). Every stop is bounded, so a node stops in seconds during an outage.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaClient, AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    IllegalOperation,
    InvalidProducerEpoch,
    KafkaConnectionError,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    RebalanceInProgressError,
    TopicAlreadyExistsError,
    UnknownMemberIdError,
    for_code,
)
from aiokafka.structs import OffsetAndMetadata

from broker.errors import ProducerFencedError, RebalancedError, TransportError
from broker.transport.base import (
    Delivery,
    GroupMetadata,
    InboundRecord,
    Isolation,
    OutboundRecord,
    RebalanceListener,
    TimestampType,
    TopicSpec,
)
from broker.transport.base import (
    TopicPartition as TopicPartitionKey,
)
from broker.transport.logfilter import install_client_log_rate_limit
from broker.transport.settings import KafkaSettings, client_kwargs

log = logging.getLogger(__name__)

CONSUMER_STOP_TIMEOUT_S = 3.0  # leaving the group politely; during an outage we just close
PRODUCER_STOP_TIMEOUT_S = 5.0  # flushing what is buffered; unacknowledged records are not lost:
# their senders never saw an acknowledgement
# A topic missing from fresh metadata this long does not exist (auto-creation is off in the
# corridor); a topic created a moment ago shows up well within it.
UNKNOWN_TOPIC_WAIT_S = 3.0


def _permanent(text: str) -> TransportError:
    """A refusal that every retry would meet again (unknown topic, record too large, ACLs)."""
    error = TransportError(text)
    error.retriable = False  # type: ignore[misc]  # per-instance override of the class default
    return error


def _wrap(action: str, exc: KafkaError | IllegalOperation) -> TransportError:
    text = f"{action}: {type(exc).__name__}: {exc}"
    if isinstance(exc, ProducerFenced | InvalidProducerEpoch):
        return ProducerFencedError(text)
    if isinstance(
        exc,
        CommitFailedError
        | RebalanceInProgressError
        | IllegalGenerationError
        | UnknownMemberIdError,
    ):
        return RebalancedError(text)
    if isinstance(exc, OutOfOrderSequenceNumber):
        return TransportError(f"{text} (the producer starts a new session)")
    # A few Kafka errors will fail the same way on every retry (authorization, too large).
    if isinstance(exc, IllegalOperation) or not getattr(exc, "retriable", True):
        return _permanent(text)
    return TransportError(text)


async def _bounded(action: str, stopping: Any, timeout_s: float) -> bool:
    """Await a client's `stop()` at most `timeout_s`; False if it had to be abandoned."""
    try:
        await asyncio.wait_for(stopping, timeout_s)
    except TimeoutError:
        log.warning("Kafka unreachable: %s abandoned after %.0fs", action, timeout_s)
        return False
    except KafkaError as exc:  # a dead client complains on the way out; it is closed anyway
        log.warning("%s: %s", action, exc)
    return True


async def _close_connections(client: AIOKafkaProducer | AIOKafkaConsumer) -> None:
    """Last resort after an abandoned stop: drop the sockets so nothing lingers."""
    # The producer's connection pool is public (`client`), the consumer's is not.
    pool = client.client if isinstance(client, AIOKafkaProducer) else client._client
    with contextlib.suppress(KafkaError, OSError, TimeoutError):
        await asyncio.wait_for(pool.close(), 2.0)


def _broken(client: AIOKafkaProducer) -> BaseException | None:
    """The error that ended the client's delivery task, if it ended.

    aiokafka stops delivering for good after a fatal error (a fencing, an authorization
    failure): every later send fails the same way. Such a client must be replaced by a new one
    (new producer id); what it had not delivered was never acknowledged, so its senders retry
    it."""
    task = client._sender.sender_task  # no public accessor
    if task is None or not task.done():
        return None
    if task.cancelled():
        return asyncio.CancelledError()
    error: BaseException | None = task.exception()
    return error or KafkaError("delivery task ended")


def _ack_wait_s(client: AIOKafkaProducer) -> float:
    timeout_ms: int = client._request_timeout_ms  # the client's own setting; no accessor
    return 3 * timeout_ms / 1000 + 5


async def _require_topic(client: AIOKafkaProducer, topic: str) -> None:
    """Fail fast and for good on a topic Kafka does not have (aiokafka would wait the whole
    request timeout, then call it retriable). While Kafka is unreachable, let the send wait."""
    kafka = client.client
    if kafka.cluster.partitions_for_topic(topic) is not None:
        return
    deadline = time.monotonic() + UNKNOWN_TOPIC_WAIT_S
    updated = await kafka.add_topic(topic)
    while kafka.cluster.partitions_for_topic(topic) is None:
        if topic in kafka.cluster.unauthorized_topics:
            raise _permanent(f"producing to {topic}: not authorized")
        if not updated:
            return  # no metadata at all: an outage, which the send itself reports (retriable)
        if time.monotonic() > deadline:
            raise _permanent(f"producing to {topic}: no such topic")
        await asyncio.sleep(0.2)
        updated = await kafka.force_metadata_update()


async def _produce(client: AIOKafkaProducer, records: Sequence[OutboundRecord]) -> list[Delivery]:
    """Enqueue all first (the client batches them into few requests), then await every ack.

    `return_exceptions`: no future is left unobserved when one of them fails."""
    for topic in {r.topic for r in records}:
        await _require_topic(client, topic)
    futures: list[asyncio.Future[Any]] = []
    failure: BaseException | None = None
    for r in records:
        try:
            futures.append(await client.send(r.topic, r.value, key=r.key, headers=list(r.headers)))
        except (KafkaError, IllegalOperation) as exc:
            failure = exc
            break
    # aiokafka resolves each future within its request timeout; the bound is a safety net for
    # a client that went away underneath (a future that never resolves would hang a sender).
    gathering = asyncio.gather(*futures, return_exceptions=True)
    try:
        outcomes = await asyncio.wait_for(gathering, _ack_wait_s(client))
    except TimeoutError as exc:
        raise TransportError(f"no acknowledgement for {len(records)} record(s) in time") from exc
    failure = failure or next((o for o in outcomes if isinstance(o, BaseException)), None)
    if isinstance(failure, KafkaError | IllegalOperation):
        where = records[0].topic if len(records) == 1 else f"{len(records)} records"
        raise _wrap(f"producing to {where}", failure) from failure
    if failure is not None:
        raise failure
    metas: list[Any] = list(outcomes)
    return [Delivery(m.topic, m.partition, m.offset) for m in metas]


class KafkaProducer:
    """The aiokafka client is made in `start` (inside the event loop) and gone after `stop`."""

    def __init__(self, settings: KafkaSettings, *, linger_ms: int = 0) -> None:
        self._settings = settings
        self._linger_ms = linger_ms
        self._started: AIOKafkaProducer | None = None
        self._lost_session: BaseException | None = None
        self._running = False  # between start() and stop(), even while a client is replaced
        self._replacing = asyncio.Lock()

    @property
    def _client(self) -> AIOKafkaProducer:
        if self._started is None:
            raise TransportError("producer used before start()")
        return self._started

    async def start(self) -> None:
        self._running = True
        await self._connect()

    async def _connect(self) -> None:
        client = AIOKafkaProducer(
            **client_kwargs(self._settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=self._linger_ms,
        )
        try:
            await client.start()
        except KafkaError as exc:
            await _bounded("closing producer", client.stop(), PRODUCER_STOP_TIMEOUT_S)
            raise _wrap("starting producer", exc) from exc
        self._started = client

    async def stop(self, flush_timeout_s: float = PRODUCER_STOP_TIMEOUT_S) -> None:
        """Deliver what is buffered, waiting at most `flush_timeout_s` (Kafka may be away)."""
        self._running = False
        if self._started is not None:
            client, self._started = self._started, None
            if not await _bounded("closing producer", client.stop(), flush_timeout_s):
                # Unacknowledged records are abandoned; their senders never saw an ack, so
                # gateway files stay in the outbox and submits have raised or been cancelled.
                await _close_connections(client)

    async def _live(self) -> AIOKafkaProducer:
        """The client to send with; a broken one is replaced (one replacement at a time, and
        one that failed because Kafka was away is tried again on the next send)."""
        async with self._replacing:
            if self._started is None and self._running:
                await self._connect()  # a replacement that failed earlier
            client = self._client
            error = self._lost_session or _broken(client)
            if error is not None:
                log.warning("producer stopped delivering (%r); starting a new one", error)
                self._started, self._lost_session = None, None
                # Sends still waiting on the old client fail now (their senders retry on the
                # new one) instead of waiting for acknowledgements that will never come.
                client._message_accumulator.fail_all(  # no public way
                    KafkaConnectionError("producer replaced after it stopped delivering")
                )
                await _bounded("closing the broken producer", client.stop(), 2.0)
                await self._connect()
            return self._client

    async def _produce(self, records: Sequence[OutboundRecord]) -> list[Delivery]:
        try:
            return await _produce(await self._live(), records)
        except TransportError as exc:
            # The broker lost this producer's sequence (a whole cluster restarted mid-stream):
            # aiokafka goes on failing every batch of that partition, so start a new session.
            if isinstance(exc.__cause__, OutOfOrderSequenceNumber):
                self._lost_session = exc.__cause__
            raise

    async def send(self, record: OutboundRecord) -> Delivery:
        [delivery] = await self._produce([record])
        return delivery

    async def send_many(self, records: Sequence[OutboundRecord]) -> list[Delivery]:
        return await self._produce(records)


class KafkaTransactionalProducer:
    """aiokafka's transactional producer (idempotent, acks=all) behind `TransactionalProducer`.

    aiokafka 0.14 speaks TxnOffsetCommit v0: offsets are committed under the group id only, so
    zombie fencing rests on the transactional id (one per input partition, see
    `transactional_id_for`); the generation in `GroupMetadata` is not checked by the broker.
    """

    def __init__(
        self,
        settings: KafkaSettings,
        transactional_id: str,
        *,
        transaction_timeout_ms: int = 60_000,
    ) -> None:
        self._settings = settings
        self._id = transactional_id
        self._timeout_ms = transaction_timeout_ms
        self._started: AIOKafkaProducer | None = None

    @property
    def transactional_id(self) -> str:
        return self._id

    @property
    def _client(self) -> AIOKafkaProducer:
        if self._started is None:
            raise TransportError("transactional producer used before start()")
        return self._started

    async def start(self) -> None:
        self._started = AIOKafkaProducer(
            **client_kwargs(self._settings),
            acks="all",
            enable_idempotence=True,
            transactional_id=self._id,
            transaction_timeout_ms=self._timeout_ms,
        )
        try:
            await self._started.start()
            # aiokafka registers the id lazily; an empty transaction makes it happen now, so
            # `start` fences the previous owner and aborts its open transaction, as documented.
            await self._started.begin_transaction()
            await self._started.abort_transaction()
        except (KafkaError, IllegalOperation) as exc:
            await self.stop()
            raise _wrap(f"starting transactional producer {self._id}", exc) from exc

    async def stop(self, timeout_s: float = PRODUCER_STOP_TIMEOUT_S) -> None:
        """Close; an open transaction is left to be aborted by the id's next owner (or by
        Kafka after transaction_timeout_ms)."""
        if self._started is not None:
            client, self._started = self._started, None
            if not await _bounded("closing transactional producer", client.stop(), timeout_s):
                await _close_connections(client)
            _observe_fatal_errors(client)

    async def _call(self, action: str, step: Any) -> None:
        try:
            await step
        except (KafkaError, IllegalOperation) as exc:
            raise _wrap(f"{action} ({self._id})", exc) from exc

    async def begin(self) -> None:
        error = _broken(self._client)
        if isinstance(error, ProducerFenced | InvalidProducerEpoch):
            raise _wrap(f"beginning a transaction ({self._id})", error)
        if error is not None:  # not fenced, just broken: register the id again and go on
            log.warning("transactional producer %s broke (%r); starting anew", self._id, error)
            await self.stop(timeout_s=2.0)
            await self.start()
        try:
            await self._client.begin_transaction()
        except (KafkaError, IllegalOperation, AssertionError) as exc:
            # aiokafka asserts on an invalid state transition (begin twice): our caller's bug
            # or a fatal state; either way this producer cannot begin now.
            if isinstance(exc, AssertionError):
                raise TransportError(f"cannot begin a transaction ({self._id}): {exc}") from exc
            raise _wrap(f"beginning a transaction ({self._id})", exc) from exc

    async def send(self, record: OutboundRecord) -> Delivery:
        [delivery] = await _produce(self._client, [record])
        return delivery

    async def send_many(self, records: Sequence[OutboundRecord]) -> list[Delivery]:
        return await _produce(self._client, records)

    async def send_offsets(
        self, next_offsets: Mapping[TopicPartitionKey, int], group: GroupMetadata
    ) -> None:
        offsets = {
            TopicPartition(topic, partition): offset
            for (topic, partition), offset in next_offsets.items()
        }
        await self._call(
            "adding offsets to the transaction",
            self._client.send_offsets_to_transaction(offsets, group.group_id),
        )

    async def commit(self) -> None:
        await self._call("committing the transaction", self._client.commit_transaction())

    async def abort(self) -> None:
        await self._call("aborting the transaction", self._client.abort_transaction())


def _observe_fatal_errors(client: AIOKafkaProducer) -> None:
    """A fenced aiokafka producer leaves failed futures nobody awaits; asyncio would log each
    as "exception was never retrieved" with a traceback. We raised the error already."""
    manager = client._txn_manager  # the futures are only reachable here
    sender = client._sender
    for future in (
        getattr(manager, "_transaction_waiter", None),
        getattr(sender, "sender_task", None),
    ):
        if isinstance(future, asyncio.Future) and future.done() and not future.cancelled():
            future.exception()


class _ListenerAdapter(ConsumerRebalanceListener):  # type: ignore[misc]  # untyped base
    """aiokafka's listener with aiokafka's TopicPartition, turned into ours."""

    def __init__(self, listener: RebalanceListener) -> None:
        self._listener = listener

    async def on_partitions_revoked(self, revoked: Any) -> None:
        await self._listener.on_partitions_revoked(
            frozenset((tp.topic, tp.partition) for tp in revoked)
        )

    async def on_partitions_assigned(self, assigned: Any) -> None:
        await self._listener.on_partitions_assigned(
            frozenset((tp.topic, tp.partition) for tp in assigned)
        )


class KafkaConsumer:
    """The aiokafka client is made in `start` (inside the event loop) and gone after `stop`."""

    def __init__(
        self,
        settings: KafkaSettings,
        topics: Sequence[str],
        group_id: str | None,
        *,
        isolation: Isolation = "read_committed",
        listener: RebalanceListener | None = None,
    ) -> None:
        self._settings = settings
        self._topics = list(topics)
        self._group_id = group_id
        self._isolation = isolation
        self._listener = listener
        self._started: AIOKafkaConsumer | None = None

    @property
    def _client(self) -> AIOKafkaConsumer:
        if self._started is None:
            raise TransportError("consumer used before start()")
        return self._started

    async def start(self) -> None:
        self._started = AIOKafkaConsumer(
            **client_kwargs(self._settings),
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level=self._isolation,
            # The node's handler for one batch must finish within this, else it is evicted.
            max_poll_interval_ms=300_000,
        )
        listener = _ListenerAdapter(self._listener) if self._listener is not None else None
        try:
            self._started.subscribe(self._topics, listener=listener)
            await self._started.start()
        except KafkaError as exc:
            await self.stop()
            raise _wrap("starting consumer", exc) from exc

    async def stop(self, timeout_s: float = CONSUMER_STOP_TIMEOUT_S) -> None:
        if self._started is not None:
            client, self._started = self._started, None
            try:
                if not await _bounded("closing consumer", client.stop(), timeout_s):
                    await _close_connections(client)
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
                timestamp_type=TimestampType(r.timestamp_type),
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
        except (KafkaError, IllegalOperation) as exc:
            raise _wrap("committing offsets", exc) from exc

    def assignment(self) -> frozenset[TopicPartitionKey]:
        return frozenset((tp.topic, tp.partition) for tp in self._client.assignment())

    def group_metadata(self) -> GroupMetadata:
        coordinator = self._client._coordinator  # no public accessor
        if self._group_id is None or coordinator is None:
            raise TransportError("a consumer without a group has no group metadata")
        return GroupMetadata(
            self._group_id, int(coordinator.generation), str(coordinator.member_id)
        )

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
            ends = await self._client.end_offsets(assigned)  # read_committed: last stable offsets
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

    async def partition_leaders(self, topic: str) -> dict[int, int]:
        """Partition -> id of the broker leading it (-1 while none is elected)."""
        try:
            [described] = await self._client.describe_topics([topic])
        except KafkaError as exc:
            raise _wrap(f"describing {topic}", exc) from exc
        return {int(p["partition"]): int(p["leader"]) for p in described["partitions"]}

    async def close(self) -> None:
        await self._client.close()


async def wait_until_reachable(
    settings: KafkaSettings,
    stop: asyncio.Event | None = None,
    *,
    first_delay_s: float = 0.5,
    max_delay_s: float = 15.0,
) -> bool:
    """Wait until Kafka answers a metadata request, retrying with capped exponential backoff
    (with jitter, so a fleet restarting together does not knock in step). True once it
    answers; False if `stop` was set first (SIGTERM while waiting)."""
    install_client_log_rate_limit()
    delay, attempt, began = first_delay_s, 0, time.monotonic()
    while True:
        attempt += 1
        client = AIOKafkaClient(**client_kwargs(settings))
        try:
            await asyncio.wait_for(client.bootstrap(), settings.request_timeout_ms / 1000 + 1)
        except (KafkaError, OSError, TimeoutError) as exc:
            reason = str(exc) if isinstance(exc, KafkaError) else f"{type(exc).__name__}: {exc}"
        else:
            if attempt > 1:
                log.info(
                    "Kafka at %s answers after %.0fs",
                    settings.bootstrap_servers,
                    time.monotonic() - began,
                )
            return True
        finally:
            await client.close()
        log.warning(
            "Kafka at %s unreachable (attempt %d, %s); next try in %.2fs",
            settings.bootstrap_servers,
            attempt,
            reason,
            delay,
        )
        if stop is None:
            await asyncio.sleep(delay)
        else:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
                return False
        delay = min(max_delay_s, delay * 2) * random.uniform(0.8, 1.2)  # noqa: S311 - jitter


class KafkaTransport:
    def __init__(self, settings: KafkaSettings) -> None:
        self.settings = settings
        install_client_log_rate_limit()  # an outage must not flood the log

    def producer(self) -> KafkaProducer:
        return KafkaProducer(self.settings)

    def transactional_producer(self, transactional_id: str) -> KafkaTransactionalProducer:
        return KafkaTransactionalProducer(self.settings, transactional_id)

    def consumer(
        self,
        topics: Sequence[str],
        group_id: str | None,
        *,
        isolation: Isolation = "read_committed",
        listener: RebalanceListener | None = None,
    ) -> KafkaConsumer:
        return KafkaConsumer(
            self.settings, topics, group_id, isolation=isolation, listener=listener
        )

    async def admin(self) -> KafkaAdmin:
        admin = KafkaAdmin(self.settings)
        await admin.start()
        return admin
