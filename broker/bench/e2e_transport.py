"""The corridor transport path (envelope + sign + produce + consume + verify) against raw aiokafka.

Three sides move the same pre-encoded Avro payloads through the same local Kafka with the same
producer settings (acks=all, idempotent) and the same consumer; the only difference is the
corridor's work around each record:
- `raw_aiokafka`: nothing (the floor);
- `transport`: envelope v2, one Ed25519 signature and one verification per record;
- `transport_batch`: envelope v3, one signature per send chunk (all for one recipient, as the
  writer rule wants) and, on the reading side, each record verified in full with the root
  verified once per batch (`RootCache`).
Records are pipelined (sent without waiting for each ack) on every side.

Each side keeps one producer and one consumer, started (and its partitions assigned) before any
timing, so a round measures records moving, not group joins. Rounds alternate the sides
(`rounds.alternating`); every wait is bounded and says what it waited for.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from broker.bench.rounds import alternating, ratio_of_medians, summarize, within
from broker.codec import SchemaKind
from broker.node.parts import NodeParts
from broker.signing.keystore import KeyStore
from broker.signing.records import declaration_draft, declaration_record, sign_batch
from broker.signing.replay import MemoryReplayStore
from broker.signing.verify import Verifier
from broker.transport.base import InboundRecord, OutboundRecord
from broker.transport.kafka import KafkaConsumer, KafkaProducer, KafkaTransport
from broker.transport.settings import KafkaSettings

_CHUNK = 500  # records in flight per send_many (and records per batch signature)
RAW, TRANSPORT, TRANSPORT_BATCH = "raw_aiokafka", "transport", "transport_batch"
START_TIMEOUT_S = 60.0  # producer start, consumer group join and assignment


@dataclass(frozen=True)
class RoundResult:
    side: str
    records: int
    seconds: float
    cpu_seconds: float  # this process only: the broker's CPU is not in it

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    @property
    def cpu_us_per_record(self) -> float:
        return self.cpu_seconds * 1e6 / self.records if self.records else 0.0


Build = Callable[[int, int], list[OutboundRecord]]  # (first number, count) -> records to send


class Side:
    """One way of moving records: `build(first, n)` makes a chunk to send, `check` reads each."""

    def __init__(
        self,
        name: str,
        settings: KafkaSettings,
        topic: str,
        build: Build,
        check: Callable[[InboundRecord], None] | None,
    ) -> None:
        self.name = name
        self.topic = topic
        self._build = build
        self._check = check
        transport = KafkaTransport(settings)
        self._producer: KafkaProducer = transport.producer()
        self._consumer: KafkaConsumer = transport.consumer([topic], f"{topic}.reader")
        self._sent = 0

    async def start(self) -> None:
        await within(self._producer.start(), START_TIMEOUT_S, f"{self.name}: producer to start")
        await within(self._consumer.start(), START_TIMEOUT_S, f"{self.name}: consumer to start")
        await within(self._assigned(), START_TIMEOUT_S, f"{self.name}: partitions of {self.topic}")

    async def _assigned(self) -> None:
        while not self._consumer.assignment():
            await self._consumer.fetch(1, 0.2)  # drives the group join; reads nothing yet

    async def stop(self) -> None:
        await self._producer.stop()
        await self._consumer.stop()

    async def _read(self, count: int) -> None:
        seen = 0
        while seen < count:
            for record in await self._consumer.fetch(1000, 1.0):
                if self._check is not None:
                    self._check(record)
                seen += 1

    async def _write(self, count: int) -> None:
        for start in range(0, count, _CHUNK):
            batch = self._build(self._sent, min(_CHUNK, count - start))
            self._sent += len(batch)
            await self._producer.send_many(batch)

    async def round(self, count: int, timeout_s: float) -> RoundResult:
        """Produce `count` records and read them back, timed from first send to last read."""
        cpu = time.process_time()
        began = time.perf_counter()
        reader = asyncio.create_task(self._read(count))
        try:
            await within(self._write(count), timeout_s, f"{self.name}: {count} records produced")
            await within(
                asyncio.shield(reader), timeout_s, f"{self.name}: {count} records consumed"
            )
        finally:
            reader.cancel()
        return RoundResult(self.name, count, time.perf_counter() - began, time.process_time() - cpu)


def raw_side(settings: KafkaSettings, topic: str, payload: bytes) -> Side:
    """Unsigned payloads, nothing checked: the floor."""

    def build(first: int, count: int) -> list[OutboundRecord]:
        return [OutboundRecord(topic, payload, str(first + i).encode()) for i in range(count)]

    return Side(RAW, settings, topic, build, None)


def _verifying(parts: NodeParts, recipient: str) -> Callable[[InboundRecord], None]:
    """Full verification (chain cached, replay store in memory) as the recipient would do it."""
    keys = KeyStore(parts.keys.trust_list)
    keys.add(parts.identity.certificate)
    verifier = Verifier(
        node_id=recipient,
        keys=keys,
        clock=parts.clock,
        replay=MemoryReplayStore(timedelta(days=1), parts.clock),
    )

    def verify(record: InboundRecord) -> None:
        verifier.mark_accepted(verifier.verify(record.headers, record.value))

    return verify


def transport_side(parts: NodeParts, settings: KafkaSettings, topic: str, payload: bytes) -> Side:
    """Envelope, signature and verification (with replay check) around the same payloads."""
    recipient = parts.config.partners[0].node_id
    schema = parts.codec.writer_dataschema(SchemaKind.DECLARATION)

    def build(first: int, count: int) -> list[OutboundRecord]:
        out = []
        for i in range(first, first + count):
            signed = declaration_record(
                parts.identity,
                value=payload,
                message_id=str(uuid.uuid4()),
                reference=f"BENCH{i:08d}",
                recipient=recipient,
                time=parts.clock.now(),
                dataschema=schema,
            )
            out.append(OutboundRecord(topic, signed.value, signed.key, signed.headers))
        return out

    return Side(TRANSPORT, settings, topic, build, _verifying(parts, recipient))


def transport_batch_side(
    parts: NodeParts, settings: KafkaSettings, topic: str, payload: bytes
) -> Side:
    """The same, batch-signed: one signature per send chunk for the one recipient (envelope v3);
    every record is still verified in full, its batch's root once."""
    recipient = parts.config.partners[0].node_id
    schema = parts.codec.writer_dataschema(SchemaKind.DECLARATION)

    def build(first: int, count: int) -> list[OutboundRecord]:
        now = parts.clock.now()
        drafts = [
            declaration_draft(
                parts.identity,
                value=payload,
                message_id=str(uuid.uuid4()),
                reference=f"BENCH{i:08d}",
                recipient=recipient,
                time=now,
                dataschema=schema,
            )
            for i in range(first, first + count)
        ]
        return [
            OutboundRecord(topic, signed.value, signed.key, signed.headers)
            for signed in sign_batch(parts.identity, drafts)
        ]

    return Side(TRANSPORT_BATCH, settings, topic, build, _verifying(parts, recipient))


def batch_summary(results: Sequence[RoundResult]) -> dict[str, float | int]:
    """The batch-signed side beside raw aiokafka, from the same alternating rounds: its median
    rate, range, spread and CPU per record, `ratio_batch` (median / raw median) and the lowest and
    highest ratio of neighbouring rounds. Empty when the rounds have no batch side."""
    batch = [r.rate for r in results if r.side == TRANSPORT_BATCH]
    raw = [r.rate for r in results if r.side == RAW]
    if not batch or not raw:
        return {}
    summary = summarize(batch)
    pairs = summarize([b / r for b, r in zip(batch, raw, strict=False) if r])
    cpu = [r.cpu_us_per_record for r in results if r.side == TRANSPORT_BATCH]
    return {
        f"{TRANSPORT_BATCH}_throughput_per_s": round(summary.median, 1),
        f"{TRANSPORT_BATCH}_low_per_s": round(summary.low, 1),
        f"{TRANSPORT_BATCH}_high_per_s": round(summary.high, 1),
        f"{TRANSPORT_BATCH}_spread": round(summary.spread, 3),
        f"{TRANSPORT_BATCH}_rounds": summary.rounds,
        f"{TRANSPORT_BATCH}_cpu_us_per_record": round(summarize(cpu).median, 1),
        "ratio_batch": round(ratio_of_medians(batch, raw), 3),
        "ratio_batch_low": round(pairs.low, 3),
        "ratio_batch_high": round(pairs.high, 3),
    }


async def alternating_rounds(
    sides: list[Side], *, rounds: int, count: int, min_round_s: float, timeout_s: float
) -> list[RoundResult]:
    """One untimed warm-up round per side, then `rounds` alternating rounds per side.

    A round is at least `count` records and long enough to last `min_round_s` at the rate its side
    reached in the warm-up, so a fast side is not measured over a few hundred milliseconds.
    """
    by_name = {side.name: side for side in sides}
    sized: dict[str, int] = {}
    for side in sides:
        warm = await side.round(max(1, count // 5), timeout_s)
        sized[side.name] = max(count, int(warm.rate * min_round_s))
    results = []
    for name in alternating([side.name for side in sides], rounds):
        results.append(await by_name[name].round(sized[name], timeout_s))
    return results
