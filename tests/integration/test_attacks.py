"""Attacks from outside the code, on real Kafka, against a running `node run` process.

The receiver under attack is TH-BKK (a real process, configured by TOML). The attacker is a
partner node of another country with a valid certificate (LA-VTE's key, loaded from its key
folder) and a plain aiokafka client that writes whatever it likes to any topic; the legitimate
sender is CN-CQ through the project's own CLI (`customs-broker submit`); a new node id is
certified by a trust-list CA with `customs-broker pki issue-node` and published with
`customs-broker keys publish`. What happened is read back with plain aiokafka consumers and
from the gateway folders, never from the node's insides.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from broker.clock import SystemClock
from broker.codec import Codec, SchemaKind
from broker.codec.avro import write_body
from broker.codec.framing import frame_single_object
from broker.demo.setup import ensure_demo_pki, prepare_corridor
from broker.directory.load import write_small_corridor
from broker.model import MessageFunction
from broker.model.samples import sample_declaration
from broker.node.config import load_node_config
from broker.signing.keyfile import passphrase_from_file
from broker.signing.pki import NodeIdentity, load_node
from broker.signing.records import declaration_record
from broker.transport.kafka import KafkaTransport
from tests.kafka_support import KafkaEndpoint

pytestmark = [pytest.mark.kafka, pytest.mark.slow, pytest.mark.timeout(300)]

PARTNERS = {
    "CN-CQ": ("LA-VTE", "TH-BKK"),
    "LA-VTE": ("CN-CQ", "TH-BKK"),
    "TH-BKK": ("CN-CQ", "LA-VTE"),
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def write_config(root: Path, node_id: str, bootstrap: str, namespace: str, port: int) -> Path:
    path = root / f"{node_id}.toml"
    path.write_text(
        f"""
node_id = "{node_id}"
format = "canonical-json"
state_dir = "state/{node_id}"
gateway_dir = "gateway/{node_id}"
metrics_port = {port}
max_clock_skew_s = {2 if node_id == "TH-BKK" else 300}

[kafka]
bootstrap_servers = "{bootstrap}"

[identity]
node_dir = "pki/nodes/{node_id}"
trust_list = "pki/trust-list.pem"
passphrase_file = "pki/passphrase.txt"

[directory]
file = "corridor.toml"
namespace = "{namespace}"
""",
        encoding="utf-8",
    )
    return path


def cli(*args: str | Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "broker", *map(str, args)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


class Node:
    """`customs-broker node run` in a process of its own."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        with (self.config.parent / f"{self.config.stem}.log").open("a") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "broker", "node", "run", "--config", str(self.config)],
                stdout=subprocess.PIPE, stderr=log, text=True,
            )  # fmt: skip
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert "consuming" in line, line

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        assert self.proc.wait(timeout=60) == 0
        assert self.proc.stdout is not None
        self.proc.stdout.close()


@pytest.fixture
async def corridor(kafka: KafkaEndpoint, tmp_path: Path) -> AsyncIterator[dict[str, Any]]:
    ensure_demo_pki(tmp_path / "pki", SystemClock())
    namespace = f"test.{uuid.uuid4().hex[:10]}"
    ports = {node_id: free_port() for node_id in PARTNERS}
    # The three are partners of each other; LA-NEW (certified below) is no member.
    write_small_corridor(
        tmp_path / "corridor.toml", dict.fromkeys(PARTNERS, "canonical-json"), namespace
    )
    paths = {
        n: write_config(tmp_path, n, kafka.bootstrap_servers, namespace, ports[n]) for n in PARTNERS
    }
    configs = [load_node_config(path) for path in paths.values()]
    await prepare_corridor(
        KafkaTransport(configs[0].kafka), configs, tmp_path / "pki", SystemClock()
    )
    thailand, china = Node(paths["TH-BKK"]), Node(paths["CN-CQ"])
    thailand.start()
    china.start()  # takes the receipts in
    passphrase = passphrase_from_file(tmp_path / "pki" / "passphrase.txt")
    producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap_servers)
    await producer.start()
    try:
        yield {
            "root": tmp_path,
            "paths": paths,
            "namespace": namespace,
            "thailand": thailand,
            "ready_url": f"http://127.0.0.1:{ports['TH-BKK']}/readyz",
            "laos": load_node(tmp_path / "pki" / "nodes" / "LA-VTE", passphrase),
            "producer": producer,
            "bootstrap": kafka.bootstrap_servers,
        }
    finally:
        await producer.stop()
        thailand.stop()
        china.stop()


def declaration_file(root: Path, reference: str) -> tuple[str, Path]:
    declaration = sample_declaration(lines=1, reference=reference).model_copy(
        update={"message_id": uuid.uuid4()}
    )
    path = root / f"{reference}.json"
    path.write_text(declaration.model_dump_json(), encoding="utf-8")
    return str(declaration.message_id), path


async def read_all(bootstrap: str, topic: str) -> list[Any]:
    """Every record of `topic` so far, with a plain consumer (no group, from the start)."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        for _ in range(100):
            partitions = list(consumer.assignment())
            if partitions:
                break
            await asyncio.sleep(0.1)
        ends = await consumer.end_offsets(partitions)
        records: list[Any] = []
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=1000)
            records += [r for batch in batches.values() for r in batch]
        return records
    finally:
        await consumer.stop()


async def dead_letter_codes(ctx: dict[str, Any]) -> list[str]:
    records = await read_all(ctx["bootstrap"], f"{ctx['namespace']}.dlq.TH-BKK")
    return sorted(dict(r.headers)["dlq_code"].decode() for r in records)


async def eventually(check: Any, within_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + within_s
    while asyncio.get_running_loop().time() < deadline:
        if await check():
            return
        await asyncio.sleep(0.3)
    raise AssertionError("condition not met in time")


def delivered(ctx: dict[str, Any]) -> list[str]:
    inbox = ctx["root"] / "gateway" / "TH-BKK" / "inbox"
    return sorted(p.name for p in inbox.glob("*.json")) if inbox.exists() else []


def ready(ctx: dict[str, Any]) -> int:
    try:
        with urllib.request.urlopen(ctx["ready_url"], timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


async def as_partner(
    ctx: dict[str, Any], identity: NodeIdentity, value: bytes, *, message_id: str,
    reference: str, time: datetime | None = None, key: bytes | None = None,
) -> None:  # fmt: skip
    """A record signed with a partner's valid key, produced by a plain Kafka client."""
    signed = declaration_record(
        identity, value=value, message_id=message_id, reference=reference, recipient="TH-BKK",
        time=time or datetime.now(UTC),
        dataschema=Codec().writer_dataschema(SchemaKind.DECLARATION),
    )  # fmt: skip
    await ctx["producer"].send_and_wait(
        f"{ctx['namespace']}.inbox.TH-BKK", signed.value,
        key=signed.key if key is None else key, headers=list(signed.headers),
    )  # fmt: skip


async def test_hostile_partner_records_are_dead_lettered_and_the_inbox_keeps_flowing(
    corridor: dict[str, Any],
) -> None:
    ctx = corridor
    root, codec = ctx["root"], Codec()
    cn_config = ctx["paths"]["CN-CQ"]
    original_id, original = declaration_file(root, "CQ-ATTACK-1")
    cli("submit", "--config", cn_config, original)
    await eventually(lambda: _true(len(delivered(ctx)) == 1))
    [chinese_file] = delivered(ctx)
    assert chinese_file == f"CN-CQ.CQ-ATTACK-1.{original_id}.json"  # names its sender
    genuine = (root / "gateway" / "TH-BKK" / "inbox" / chinese_file).read_bytes()

    laos = ctx["laos"]
    declaration = sample_declaration(lines=1, reference="CQ-ATTACK-1")
    # 1. A cancellation of China's declaration, with China's reference and China's ce_id.
    cancel = declaration.model_copy(
        update={"function": MessageFunction.CANCELLATION, "message_id": uuid.UUID(original_id)}
    )
    await as_partner(
        ctx, laos, codec.encode_declaration(cancel), message_id=original_id,
        reference="CQ-ATTACK-1",
    )  # fmt: skip
    # 2. A payload whose message id is not the signed ce_id.
    await as_partner(
        ctx, laos, codec.encode_declaration(declaration), message_id=str(uuid.uuid4()),
        reference="CQ-ATTACK-1",
    )  # fmt: skip
    # 3. 1 MB of Avro holding a million empty strings, properly signed.
    latest = codec.schemas.latest(SchemaKind.DECLARATION)
    record = {**declaration.model_dump(), "itinerary": [""] * 1_000_000}
    bomb = frame_single_object(latest.fingerprint, write_body(latest.schema, record))
    bomb_id = str(uuid.uuid4())
    await as_partner(ctx, laos, bomb, message_id=bomb_id, reference="LA-BOMB-1")
    # 4. A Kafka-legal record just under 1 MiB whose dead letter would be too large.
    await ctx["producer"].send_and_wait(
        f"{ctx['namespace']}.inbox.TH-BKK", b"\x00" * (1024 * 1024 - 4096), key=b"x",
        headers=[("ce_id", b"not-signed")],
    )  # fmt: skip
    # 5. A new node id certified by a trust-list CA and published on the key directory.
    pki = root / "pki"
    cli(
        "pki", "issue-node", "--ca", pki / "ca" / "LA", "--node", "LA-NEW",
        "--out", pki / "nodes" / "LA-NEW", "--passphrase-file", pki / "passphrase.txt",
        "--ca-passphrase-file", pki / "passphrase.txt",
    )  # fmt: skip
    cli(
        "keys", "publish", "--config", ctx["paths"]["LA-VTE"], "--ca", pki / "ca" / "LA",
        "--certificate", pki / "nodes" / "LA-NEW" / "node.crt.pem",
        "--ca-passphrase-file", pki / "passphrase.txt",
    )  # fmt: skip
    await asyncio.sleep(2)  # the node follows the key directory
    stranger = load_node(pki / "nodes" / "LA-NEW", passphrase_from_file(pki / "passphrase.txt"))
    stranger_id = str(uuid.uuid4())
    other = declaration.model_copy(update={"message_id": uuid.UUID(stranger_id)})
    await as_partner(
        ctx, stranger, codec.encode_declaration(other), message_id=stranger_id,
        reference="CQ-ATTACK-1",
    )  # fmt: skip
    # The legitimate stream goes on behind all of it.
    later_id, later = declaration_file(root, "CQ-ATTACK-2")
    cli("submit", "--config", cn_config, later)
    await eventually(lambda: _true(len(delivered(ctx)) == 2))

    async def five() -> bool:
        return len(await dead_letter_codes(ctx)) == 4

    await eventually(five)
    assert await dead_letter_codes(ctx) == [
        "binding-mismatch", "malformed-envelope", "not-a-partner", "unknown-original",
    ]  # fmt: skip
    assert delivered(ctx) == [chinese_file, f"CN-CQ.CQ-ATTACK-2.{later_id}.json"]
    assert (root / "gateway" / "TH-BKK" / "inbox" / chinese_file).read_bytes() == genuine
    letters = await read_all(ctx["bootstrap"], f"{ctx['namespace']}.dlq.TH-BKK")
    [reduced] = [r for r in letters if dict(r.headers)["dlq_code"] == b"malformed-envelope"]
    assert reduced.value in (b"", None)
    assert b"dlq_value_sha256" in [name.encode() for name, _ in reduced.headers]
    # The bomb got a REJECTED receipt to Laos, which names the field; no topic was made for
    # the stranger and nothing waits: the node is ready.
    receipts = await read_all(ctx["bootstrap"], f"{ctx['namespace']}.inbox.LA-VTE")
    [bomb_receipt] = [r for r in receipts if r.key == bomb_id.encode()]
    assert codec.decode_receipt(bomb_receipt.value).errors[0].field == "itinerary"
    assert len(bomb_receipt.value) < 10_000
    assert ready(ctx) == 200

    async def acknowledged() -> bool:
        status = cli("status", "--config", cn_config, "CQ-ATTACK-2")
        return "TH-BKK   delivered" in status

    await eventually(acknowledged)


async def test_a_revoked_key_stays_revoked_and_cannot_backdate(
    corridor: dict[str, Any],
) -> None:
    ctx = corridor
    pki = ctx["root"] / "pki"
    laos_certificate = pki / "nodes" / "LA-VTE" / "node.crt.pem"
    cli(
        "keys", "revoke", "--config", ctx["paths"]["LA-VTE"], "--ca", pki / "ca" / "LA",
        "--certificate", laos_certificate, "--ca-passphrase-file", pki / "passphrase.txt",
    )  # fmt: skip
    keys_topic = f"{ctx['namespace']}.keys"
    records = await read_all(ctx["bootstrap"], keys_topic)
    kid = ctx["laos"].key_id
    [old] = [r for r in records if r.key == kid.encode()]
    # A hub operator re-publishes the old certificate announcement, also under the
    # revocation's key (so compaction would keep it instead of the revocation).
    for key in (kid.encode(), b"revoked:" + kid.encode()):
        await ctx["producer"].send_and_wait(
            keys_topic, old.value, key=key, headers=list(old.headers)
        )
    ctx["thailand"].stop()
    ctx["thailand"].start()  # a restart replays the key directory
    await asyncio.sleep(3)  # beyond Thailand's allowed clock skew (2 s) after the revocation
    declaration = sample_declaration(lines=1, reference="LA-REVOKED-1").model_copy(
        update={"message_id": uuid.uuid4()}
    )
    message_id = str(declaration.message_id)
    await as_partner(
        ctx, ctx["laos"], Codec().encode_declaration(declaration), message_id=message_id,
        reference="LA-REVOKED-1", time=datetime.now(UTC) - timedelta(seconds=5),  # backdated
    )  # fmt: skip

    async def refused() -> bool:
        return await dead_letter_codes(ctx) == ["revoked"]

    await eventually(refused)
    assert delivered(ctx) == []
    log = (ctx["root"] / "TH-BKK.log").read_text()
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert any(
        e.get("reason") == "malformed-announcement" or "refused" in str(e.get("message"))
        for e in entries
    )


async def _true(value: bool) -> bool:
    return value


os.environ.setdefault("CUSTOMS_METRICS_HOST", "127.0.0.1")
