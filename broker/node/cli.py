"""`customs-broker node run|submit|status`, `dlq list|replay`, `topics ensure`, `keys ...`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

from broker.clock import SystemClock
from broker.errors import TransportError
from broker.metrics import MetricsServer
from broker.node.assemble import build_parts
from broker.node.config import NodeConfig, load_node_config
from broker.node.deadletter import read_dead_letter, redrive_record
from broker.node.runtime import CorridorNode, next_offsets
from broker.node.topics import CorridorTopics
from broker.signing.keyfile import passphrase_from_env, passphrase_from_file
from broker.signing.pki import load_ca, read_certificate
from broker.signing.records import certificate_announcement, revocation_announcement
from broker.transport.base import Consumer, InboundRecord, OutboundRecord
from broker.transport.kafka import KafkaTransport, wait_until_reachable

log = logging.getLogger(__name__)


def _config(args: argparse.Namespace) -> NodeConfig:
    from broker.formats.registry import default_registry

    return load_node_config(args.config, frozenset(default_registry().ids()))


def register(sub: Any) -> None:
    def command(group: Any, name: str, handler: Any, text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = group.add_parser(name, help=text)
        parser.add_argument("--config", type=Path, required=True, help="node TOML file")
        parser.set_defaults(handler=handler)
        return parser

    node = sub.add_parser("node", help="run a corridor node").add_subparsers(
        dest="node_command", required=True, metavar="COMMAND"
    )
    command(node, "run", _run, "consume the inbox and serve until SIGTERM/SIGINT")
    submit = command(sub, "submit", _submit, "send a national document to the corridor")
    submit.add_argument("document", type=Path)
    submit.add_argument("--format", help="document format (default: the node's)")
    status = command(sub, "status", _status, "where a declaration is, per recipient")
    status.add_argument("reference")

    dlq = sub.add_parser("dlq", help="dead letters").add_subparsers(
        dest="dlq_command", required=True, metavar="COMMAND"
    )
    command(dlq, "list", _dlq_list, "show the node's dead letters with their reasons")
    replay = command(dlq, "replay", _dlq_replay, "send dead letters back to the inbox")
    replay.add_argument("--code", help="only letters with this reason code")

    topics = sub.add_parser("topics", help="corridor topics").add_subparsers(
        dest="topics_command", required=True, metavar="COMMAND"
    )
    command(topics, "ensure", _topics_ensure, "create this node's and its partners' topics")

    keys = sub.add_parser("keys", help="key directory").add_subparsers(
        dest="keys_command", required=True, metavar="COMMAND"
    )
    for name, handler, text in (
        ("publish", _keys_publish, "announce a node certificate, signed by its national CA"),
        ("revoke", _keys_revoke, "announce a revocation, signed by the national CA"),
    ):
        parser = command(keys, name, handler, text)
        parser.add_argument("--ca", type=Path, required=True, help="national CA folder")
        parser.add_argument("--certificate", type=Path, required=True)
        parser.add_argument("--ca-passphrase-file", type=Path)
        parser.add_argument("--ca-passphrase-env", default="CUSTOMS_CA_PASSPHRASE")


# SIGTERM to exit within 20 s even during an outage (Kubernetes grants 30 s): the batch in hand
# gets DRAIN_S to finish, then is abandoned (it is read again, as after a crash); closing the
# clients is bounded by the transport (about 11 s at worst).
DRAIN_S = 6.0
# `node run` writes a cProfile of itself to `<value>.<pid>.prof` at exit when this is set.
PROFILE_ENV = "CUSTOMS_NODE_PROFILE"


async def _until_stopped(work: Awaitable[None], stop: asyncio.Event, grace_s: float) -> bool:
    """Run `work`; once `stop` is set give it `grace_s`, then cancel it. False if cancelled."""
    task = asyncio.ensure_future(work)
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not task.done():
            await asyncio.wait({task}, timeout=grace_s)
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return False
        task.result()  # its error, if it failed
        return True
    finally:
        stopped.cancel()


async def _serve(config: NodeConfig) -> int:
    parts = build_parts(config)
    node = CorridorNode(parts)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    server = None
    if config.metrics_port is not None:
        server = MetricsServer(parts.metrics.registry, config.metrics_port, lambda: node.ready)
        server.start()
    try:
        # Kafka may not be up yet (a corridor starting, an outage): wait for it, with backoff.
        while True:
            if not await wait_until_reachable(config.kafka, stop):
                print(f"{config.node_id}: stopped while waiting for Kafka", flush=True)
                return 0
            try:
                started = await _until_stopped(node.start(), stop, 0)
            except TransportError as exc:
                if not exc.retriable:
                    raise
                log.warning("start-up: %s; waiting for Kafka again", exc)
                await node.stop()
                continue
            if not started:
                print(f"{config.node_id}: stopped while starting", flush=True)
                return 0
            break
        # Flushed at once: a supervisor (or a test) waits for this line to know the node serves.
        inbox = node.topics.inbox(config.node_id)
        print(f"{config.node_id}: consuming {inbox}; SIGTERM stops", flush=True)
        # Returns after the batch in hand is handled and committed, or abandoned after DRAIN_S.
        await _until_stopped(node.run(stop), stop, DRAIN_S)
    finally:
        await node.stop()
        if server is not None:
            server.stop()
        parts.ledger.close()
    print(f"{config.node_id}: stopped cleanly")
    return 0


def _run(args: argparse.Namespace) -> int:
    profile = os.environ.get(PROFILE_ENV)
    if not profile:
        return asyncio.run(_serve(_config(args)))
    # Where a node's CPU goes, under real traffic: cProfile of the whole process, written at exit.
    import cProfile

    # CUSTOMS_NODE_PROFILE_CLOCK=cpu counts CPU time (what the process spends, not what it waits).
    cpu = os.environ.get(PROFILE_ENV + "_CLOCK") == "cpu"
    profiler = cProfile.Profile(time.process_time) if cpu else cProfile.Profile()
    try:
        return profiler.runcall(asyncio.run, _serve(_config(args)))
    finally:
        profiler.dump_stats(f"{profile}.{os.getpid()}.prof")


async def _send_document(config: NodeConfig, document: Path, fmt: str | None) -> int:
    data = await asyncio.to_thread(document.read_bytes)
    parts = build_parts(config)
    node = CorridorNode(parts)
    try:
        await node.start(receive=False)
        result = await node.submit(data, fmt, source=str(document))
    finally:
        await node.stop()
        parts.ledger.close()
    for sent in result.sent:
        where = (
            f"{sent.delivery.topic}/{sent.delivery.partition}/{sent.delivery.offset}"
            if sent.delivery
            else "acknowledged earlier"
        )
        withheld = f"; withheld by policy: {', '.join(sent.withheld)}" if sent.withheld else ""
        print(f"{result.reference} -> {sent.recipient}: {where}{withheld}")
    for country in result.unserved_countries:
        print(f"warning: no partner node serves {country}")
    return 0


def _submit(args: argparse.Namespace) -> int:
    return asyncio.run(_send_document(_config(args), args.document, args.format))


def _status(args: argparse.Namespace) -> int:
    from broker.node.ledger import NodeLedger

    config = _config(args)
    ledger = NodeLedger(config.state_dir / "node.sqlite3")
    try:
        rows = ledger.by_reference(args.reference)
    finally:
        ledger.close()
    if not rows:
        print(f"{args.reference}: nothing sent under this reference by {config.node_id}")
        return 1
    for row in rows:
        print(
            f"{row.reference}  {row.recipient:<8} {row.status.value:<9} "
            f"sent {row.sent_at:%Y-%m-%d %H:%M:%S}Z  {row.detail}"
        )
    return 0


async def _read_to_end(consumer: Consumer, within_s: float = 30.0) -> list[InboundRecord]:
    """Every record up to the end offsets (a group first waits for its assignment)."""
    records: list[InboundRecord] = []
    deadline = time.monotonic() + within_s
    while not await consumer.caught_up():
        if time.monotonic() > deadline:
            raise TransportError(f"could not read to the end within {within_s:.0f}s")
        records.extend(await consumer.fetch(500, 1.0))
    return records


async def _read_all(config: NodeConfig, topic: str) -> list[InboundRecord]:
    consumer = KafkaTransport(config.kafka).consumer([topic], None)
    await consumer.start()
    try:
        return await _read_to_end(consumer)
    finally:
        await consumer.stop()


def _dlq_list(args: argparse.Namespace) -> int:
    config = _config(args)
    topic = CorridorTopics.of(config.topics).dead_letters(config.node_id)
    records = asyncio.run(_read_all(config, topic))
    for record in records:
        letter = read_dead_letter(record)
        reduced = "  (value left out: too large)" if letter.reduced else ""
        print(
            f"{record.coordinates}  {letter.time}  {letter.code:<20} from {letter.source}  "
            f"{letter.reason}{reduced}"
        )
    print(f"{len(records)} dead letter(s) in {topic}")
    return 0


async def _replay(config: NodeConfig, code: str | None) -> int:
    """Re-drive the letters not re-driven before. The replay group's offsets move only after the
    inbox acknowledged them, and only without a `--code` filter (which leaves others behind)."""
    topics = CorridorTopics.of(config.topics)
    transport = KafkaTransport(config.kafka)
    consumer = transport.consumer(
        [topics.dead_letters(config.node_id)], f"{topics.namespace}.dlq-replay.{config.node_id}"
    )
    await consumer.start()
    try:
        records = await _read_to_end(consumer)
        letters = [read_dead_letter(r) for r in records]
        # A reduced letter kept no value: there is nothing to re-drive.
        chosen = [
            letter
            for letter in letters
            if (code is None or letter.code == code) and not letter.reduced
        ]
        producer = transport.producer()
        await producer.start()
        try:
            inbox = topics.inbox(config.node_id)
            await producer.send_many([redrive_record(letter, inbox) for letter in chosen])
        finally:
            await producer.stop()
        if code is None and records:
            await consumer.commit(next_offsets(records))
    finally:
        await consumer.stop()
    print(f"re-drove {len(chosen)} of {len(letters)} new dead letter(s) to the inbox")
    return 0


def _dlq_replay(args: argparse.Namespace) -> int:
    return asyncio.run(_replay(_config(args), args.code))


async def _ensure(config: NodeConfig) -> list[str]:
    """This node's and its partners' topics, sized as the directory says (`corridor apply` is
    the owner of the whole layout and reports drift; this only creates what is missing)."""
    nodes = [config.node_id, *(p.node_id for p in config.partners)]
    sizes = None
    if config.directory is not None and config.directory.file is not None:
        from broker.directory.load import load_corridor

        sizes = load_corridor(config.directory.file).inbox_partitions
    admin = await KafkaTransport(config.kafka).admin()
    try:
        return await admin.ensure_topics(
            CorridorTopics.of(config.topics).specs(nodes, config.topics, sizes)
        )
    finally:
        await admin.close()


def _topics_ensure(args: argparse.Namespace) -> int:
    created = asyncio.run(_ensure(_config(args)))
    print("created: " + (", ".join(created) if created else "nothing (all topics exist)"))
    return 0


def _announce(args: argparse.Namespace, revoke: bool) -> int:
    config = _config(args)
    passphrase = (
        passphrase_from_file(args.ca_passphrase_file)
        if args.ca_passphrase_file
        else passphrase_from_env(args.ca_passphrase_env)
    )
    ca = load_ca(args.ca, passphrase)
    certificate = read_certificate(args.certificate)
    now = SystemClock().now()
    announcement = (
        revocation_announcement(ca, certificate, revoked_at=now, reason="key-compromise", at=now)
        if revoke
        else certificate_announcement(ca, certificate, at=now)
    )

    keys_topic = CorridorTopics.of(config.topics).keys

    async def send() -> None:
        producer = KafkaTransport(config.kafka).producer()
        await producer.start()
        try:
            await producer.send(
                OutboundRecord(
                    keys_topic, announcement.value, announcement.key, announcement.headers
                )
            )
        finally:
            await producer.stop()

    asyncio.run(send())
    print(f"{'revoked' if revoke else 'published'} key {announcement.key.decode()} on {keys_topic}")
    return 0


def _keys_publish(args: argparse.Namespace) -> int:
    return _announce(args, revoke=False)


def _keys_revoke(args: argparse.Namespace) -> int:
    return _announce(args, revoke=True)
