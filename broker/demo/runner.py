"""The corridor demo: a node per directory member, realistic traffic, two attacks, a summary.

Exit status 0 only when every legitimate declaration reached every recipient it was routed to
and came back acknowledged (ACCEPTED receipt), nothing was delivered twice, and both attacks (a
tampered record, and a message id reused for other bytes) ended in the dead-letter topic with
the right reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import statistics
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from broker.clock import Clock, SystemClock
from broker.demo.setup import (
    demo_configs,
    demo_directory,
    demo_passwords,
    ensure_demo_pki,
    identities,
    prepare_demo_corridor,
)
from broker.demo.traffic import MEETING_FLOWS, Planned, corridor_traffic, meeting_traffic
from broker.directory.load import load_corridor
from broker.errors import FormatError
from broker.metrics import MetricsServer
from broker.node.assemble import build_parts
from broker.node.config import NodeConfig
from broker.node.deadletter import read_dead_letter
from broker.node.ledger import DeliveryStatus
from broker.node.receiver import DeliverCallback, Delivered
from broker.node.runtime import CorridorNode
from broker.routing import route, with_known_itinerary
from broker.signing.envelope import format_time, parse_envelope
from broker.signing.identity import node_id_from_urn
from broker.signing.records import signed_record
from broker.transport.base import InboundRecord, OutboundRecord, Transport
from broker.transport.kafka import KafkaTransport
from broker.transport.settings import KafkaSettings

ATTACK_TARGET = "LA-VTE"


@dataclass
class DemoOptions:
    work_dir: Path
    kafka: KafkaSettings  # the administrator's connection (a super user under SASL)
    directory: Path | None = None  # the corridor directory file (default deploy/corridor.toml)
    rate: float = 20.0
    duration: float = 10.0
    lines: int = 5
    keep_running: bool = False
    metrics: bool = True
    metrics_base_port: int | None = None
    settle_timeout_s: float = 60.0


@dataclass
class Books:
    """What the demo expects and what it saw, per (sender, recipient) pair."""

    expected: dict[tuple[str, str], str] = field(default_factory=dict)  # (message id, recipient)
    delivered: dict[tuple[str, str], Delivered] = field(default_factory=dict)
    delivered_again: set[tuple[str, str]] = field(default_factory=set)  # a second delivery


class CorridorDemo:
    def __init__(self, options: DemoOptions, console: Console, clock: Clock | None = None) -> None:
        self.options = options
        self.console = console
        self.clock = clock or SystemClock()
        self.books = Books()
        self.national: Counter[str] = Counter()  # national documents sent, by format
        self.nodes: dict[str, CorridorNode] = {}
        self._servers: list[MetricsServer] = []
        self._transport: Transport = KafkaTransport(options.kafka)  # the attacker, the reader
        self.run_id = "D" + format(int(time.time()) % 46_656_000, "x").upper()

    # ------------------------------------------------------------------ main
    async def run(self) -> int:
        started = self.clock.now()
        work = self.options.work_dir
        directory = self.options.directory or demo_directory()
        corridor = load_corridor(directory)
        await asyncio.to_thread(ensure_demo_pki, work / "pki", self.clock, identities(corridor))
        passwords = demo_passwords(work, corridor)
        report = await prepare_demo_corridor(
            self.options.kafka, corridor, work / "pki", passwords, self.clock
        )
        self.console.print(
            f"directory {directory.name} serial {corridor.serial}: {len(corridor.members)} "
            f"members, {len(corridor.agreements)} agreements; {report.lines()[0]}, "
            f"{report.users} users, {report.acls} ACLs; " + report.lines()[-1]
        )
        for line in (line for line in report.lines() if line.startswith("DRIFT")):
            self.console.print(f"[yellow]{line}[/yellow]")
        configs = demo_configs(
            work,
            corridor,
            directory,
            self.options.kafka,
            passwords,
            metrics=self.options.metrics,
            metrics_base_port=self.options.metrics_base_port,
        )
        stop = asyncio.Event()
        began = time.monotonic()
        await self._start_nodes(configs)
        self.console.print(
            f"{len(configs)} nodes ready in {time.monotonic() - began:.1f} s, each with its own "
            "Kafka user"
        )
        loops = [asyncio.create_task(node.run(stop)) for node in self.nodes.values()]
        try:
            await self._send_traffic()
            attacks = await self._attack()
            await self._settle()
            letters = await self._dead_letters(started)
            ok = self._summary(letters, attacks)
            if self.options.keep_running:
                await self._wait_for_signal()
            return 0 if ok else 1
        finally:
            stop.set()
            await asyncio.gather(*loops, return_exceptions=True)
            for node in self.nodes.values():
                await node.stop()
                node.parts.ledger.close()
            for server in self._servers:
                server.stop()

    async def _start_nodes(self, configs: list[NodeConfig]) -> None:
        """All nodes in this one process, started together: 15 interpreters would need about
        15 x 60 MB and their start-up CPU on two cores; one event loop serves them all."""
        for config in configs:
            parts = build_parts(config, clock=self.clock, registry=CollectorRegistry())
            self.nodes[config.node_id] = CorridorNode(
                parts, deliver=self._on_delivered(config.node_id)
            )
        await asyncio.gather(*(node.start() for node in self.nodes.values()))
        for config in configs:
            if config.metrics_port is not None:
                self._serve_metrics(self.nodes[config.node_id], config.metrics_port)

    def _serve_metrics(self, node: CorridorNode, port: int) -> None:
        try:
            server = MetricsServer(node.parts.metrics.registry, port, lambda: node.ready)
        except OSError:  # the port is taken: any free one will do for a demo
            server = MetricsServer(node.parts.metrics.registry, 0, lambda: node.ready)
        server.start()
        self._servers.append(server)
        self.console.print(f"{node.node_id}: metrics on http://127.0.0.1:{server.port}/metrics")

    def _on_delivered(self, recipient: str) -> DeliverCallback:
        async def record(delivered: Delivered) -> None:
            key = (delivered.message_id, recipient)
            if key in self.books.delivered:
                self.books.delivered_again.add(key)
            self.books.delivered[key] = delivered

        return record

    # ------------------------------------------------------------------ traffic
    async def _send_traffic(self) -> None:
        count = max(1, int(self.options.rate * self.options.duration))
        now = self.clock.now()
        # The meeting's flows: every administration sends, a round each (at least one).
        rounds = max(1, count // (4 * len(MEETING_FLOWS)))
        meeting = list(meeting_traffic(self.run_id, rounds, now, min(self.options.lines, 3)))
        planned = list(corridor_traffic(self.run_id, max(1, count - len(meeting)), now,
                                        self.options.lines))  # fmt: skip
        # Interleaved, so every node is busy all along at a low rate.
        step = max(1, len(planned) // max(1, len(meeting)))
        for index, plan in enumerate(meeting):
            planned.insert(min(len(planned), index * (step + 1)), plan)
        count = len(planned)
        national = sum(1 for plan in planned if plan.document is not None)
        self.console.print(
            f"{count} declarations, {national} of them national documents in real shape "
            "(the rest rendered from the canonical model)"
        )
        began = time.monotonic()
        with Progress(console=self.console, transient=True) as progress:
            task = progress.add_task(f"sending {count} declarations", total=count)
            for index, plan in enumerate(planned):
                await self._submit(plan)
                progress.advance(task)
                ahead = began + (index + 1) / self.options.rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)

    async def _submit(self, plan: Planned) -> None:
        """File the declaration as the national system would: its own national document where
        the plan has one, else rendered in the node's own format, or in canonical JSON where
        that format cannot say it (China's XML has no amendments)."""
        node = self.nodes[plan.sender]
        parts = node.parts
        fmt = parts.config.format
        if plan.document is not None:  # written by the national system itself, in real shape
            document, fmt = plan.document.data, plan.document.fmt
            self.national[fmt] += 1
        else:
            assert plan.declaration is not None
            try:
                document = parts.formats.get(fmt).render(plan.declaration).data
            except FormatError:
                fmt = "canonical-json"
                document = parts.formats.get(fmt).render(plan.declaration).data
        declaration = with_known_itinerary(  # what the node will see and route
            parts.formats.get(fmt).parse(document),
            parts.config.country,
            parts.config.transit_routes,
        )
        message_id = str(declaration.message_id)
        for partner in route(declaration, parts.config.country, parts.config.partners).recipients:
            self.books.expected[(message_id, partner.node_id)] = plan.sender
        await node.submit(
            document, fmt, source=f"{plan.scenario} {declaration.functional_reference}"
        )

    # ------------------------------------------------------------------ attacks
    async def _attack(self) -> dict[str, str]:
        """Tamper with one record to LA-VTE and reuse the id of another: message id -> reason.

        The reuse is what a compromised or faulty sender does: the same id, other bytes, signed
        with the sender's own key. (A replay of the very same bytes is a resend as far as anyone
        can tell: AS4 duplicate elimination acknowledges it again and delivers nothing twice.)
        """
        target = self.nodes[ATTACK_TARGET].topics.inbox(ATTACK_TARGET)
        consumer = self._transport.consumer([target], None)
        await consumer.start()
        try:
            records: list[InboundRecord] = []
            while len(records) < 2:
                batch = await consumer.fetch(10, 5.0)
                if not batch:
                    raise RuntimeError(f"no traffic in {target} to attack")
                records += [r for r in batch if self.run_id in (r.key or b"").decode()]
        finally:
            await consumer.stop()
        tampered, replayed = records[0], records[1]
        value = bytearray(tampered.value)
        value[len(value) // 2] ^= 0x01  # one bit flipped in transit
        reused = self._reuse_id(replayed)
        producer = self._transport.producer()
        await producer.start()
        try:
            await producer.send(
                OutboundRecord(tampered.topic, bytes(value), tampered.key, tampered.headers)
            )
            await producer.send(reused)
        finally:
            await producer.stop()
        return {
            parse_envelope(tampered.headers).id: "bad-signature",
            parse_envelope(replayed.headers).id: "replay",
        }

    def _reuse_id(self, record: InboundRecord) -> OutboundRecord:
        """`record`'s id again over other bytes, signed by its own sender."""
        head = parse_envelope(record.headers)
        identity = self.nodes[node_id_from_urn(head.source) or ""].parts.identity
        signed = signed_record(
            identity, type=head.type, message_id=head.id, time=head.time,
            content_type=head.content_type, value=record.value + b"\x00", key=record.key or b"",
            subject=head.subject, dataschema=head.dataschema, recipient=head.recipient,
            seal=head.seal,
        )  # fmt: skip
        return OutboundRecord(record.topic, signed.value, record.key, signed.headers)

    # ------------------------------------------------------------------ waiting, reading back
    def _acknowledged(self) -> int:
        done = 0
        for (message_id, recipient), sender in self.books.expected.items():
            for row in self.nodes[sender].parts.ledger.by_message(message_id):
                if row.recipient == recipient and row.status is DeliveryStatus.DELIVERED:
                    done += 1
        return done

    def _answered(self) -> int:
        """Expected deliveries whose sender holds a receipt (accepted or rejected)."""
        final = (DeliveryStatus.DELIVERED, DeliveryStatus.REJECTED)
        return sum(
            1
            for (message_id, recipient), sender in self.books.expected.items()
            for row in self.nodes[sender].parts.ledger.by_message(message_id)
            if row.recipient == recipient and row.status in final
        )

    async def _settle(self) -> None:
        """Wait until every expected delivery is answered by a receipt (or the timeout)."""
        total = len(self.books.expected)
        deadline = time.monotonic() + self.options.settle_timeout_s
        with Progress(console=self.console, transient=True) as progress:
            delivered = progress.add_task("delivered", total=total)
            answered = progress.add_task("receipts", total=total)
            while time.monotonic() < deadline:
                got = sum(1 for key in self.books.expected if key in self.books.delivered)
                receipts = self._answered()
                progress.update(delivered, completed=got)
                progress.update(answered, completed=receipts)
                if receipts == total:
                    return
                await asyncio.sleep(0.2)

    async def _dead_letters(self, since: datetime) -> list[tuple[str, str, str, str]]:
        """(sender, receiving node, message id, reason code) of this run's dead letters."""
        found = []
        for node_id in self.nodes:
            topic = self.nodes[node_id].topics.dead_letters(node_id)
            consumer = self._transport.consumer([topic], None)
            await consumer.start()
            try:
                while batch := await consumer.fetch(500, 1.0):
                    for record in batch:
                        letter = read_dead_letter(record)
                        if letter.time < format_time(since):
                            continue
                        with contextlib.suppress(Exception):
                            envelope = parse_envelope(letter.original_headers)
                            sender = node_id_from_urn(envelope.source) or "?"
                            found.append((sender, node_id, envelope.id, letter.code))
            finally:
                await consumer.stop()
        return found

    # ------------------------------------------------------------------ summary
    def _summary(self, letters: list[tuple[str, str, str, str]], attacks: dict[str, str]) -> bool:
        # Grouped by country (China's districts together): 15 nodes make ~60 node pairs.
        per_pair: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        latency: dict[tuple[str, str], list[float]] = defaultdict(list)
        nodes: dict[tuple[str, str], set[str]] = defaultdict(set)
        for key, sender in self.books.expected.items():
            pair = (sender[:2], key[1][:2])
            nodes[pair] |= {sender, key[1]}
            per_pair[pair]["sent"] += 1
            arrived = self.books.delivered.get(key)
            if arrived is not None:
                per_pair[pair]["delivered"] += 1
                latency[pair].append((arrived.delivered_at - arrived.sent_at).total_seconds())
            for row in self.nodes[sender].parts.ledger.by_message(key[0]):
                if row.recipient == key[1] and row.status is DeliveryStatus.DELIVERED:
                    per_pair[pair]["accepted"] += 1
                elif row.recipient == key[1] and row.status is DeliveryStatus.REJECTED:
                    per_pair[pair]["rejected"] += 1
        for sender, receiver, _, _ in letters:
            per_pair[(sender[:2], receiver[:2])]["dead-lettered"] += 1
        table = Table(title=f"ILSTC corridor demo, run {self.run_id} (by country)")
        columns = ("from", "to", "nodes", "sent", "deliv", "rcpt", "rej", "DLQ", "p50ms", "p99ms")
        for column in columns:
            table.add_column(column, justify="left" if column in ("from", "to") else "right")
        for (sender, recipient), counts in sorted(per_pair.items()):
            times = sorted(latency[(sender, recipient)])
            p50 = f"{statistics.median(times) * 1000:.0f}" if times else "-"
            p99 = (
                f"{times[min(len(times) - 1, int(len(times) * 0.99))] * 1000:.0f}" if times else "-"
            )
            table.add_row(
                sender, recipient, str(len(nodes[(sender, recipient)])), str(counts["sent"]),
                str(counts["delivered"]), str(counts["accepted"] + counts["rejected"]),
                str(counts["rejected"]), str(counts["dead-lettered"]), p50, p99,
            )  # fmt: skip
        self.console.print(table)
        if self.national:
            sent = ", ".join(f"{n} {fmt}" for fmt, n in sorted(self.national.items()))
            self.console.print(f"national documents in real shape: {sent}")
        caught = {message_id: code for _, _, message_id, code in letters}
        twice = {message_id for message_id, _ in self.books.delivered_again}
        for message_id, code in attacks.items():
            seen = caught.get(message_id, "NOT dead-lettered")
            self.console.print(f"attack {code:<14} on {ATTACK_TARGET}: {seen}")
        attacks_ok = not twice and all(caught.get(mid) == code for mid, code in attacks.items())
        total = len(self.books.expected)
        delivered = sum(1 for key in self.books.expected if key in self.books.delivered)
        acknowledged = self._acknowledged()
        ok = delivered == total and acknowledged == total and attacks_ok
        verdict = "[green]OK[/green]" if ok else "[red]FAILED[/red]"
        self.console.print(
            f"{verdict}: {delivered}/{total} deliveries, {acknowledged}/{total} acknowledged, "
            f"attacks {'caught' if attacks_ok else 'NOT all caught'}"
        )
        return ok

    async def _wait_for_signal(self) -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        self.console.print("nodes and metrics keep running; SIGINT or SIGTERM stops them")
        await stop.wait()
