"""The operator's commands on real Kafka: topics ensure, keys publish, submit, status, dlq."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest

from broker.cli import main
from broker.model.samples import sample_declaration
from broker.node.config import load_node_config
from broker.node.topics import CorridorTopics
from broker.transport.base import InboundRecord, OutboundRecord
from broker.transport.kafka import KafkaTransport
from tests.integration.test_node_process import NodeProcess, corridor_configs
from tests.kafka_support import KafkaEndpoint

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]


def read_inbox(config_path: Path) -> list[InboundRecord]:
    config = load_node_config(config_path)
    topic = CorridorTopics.of(config.topics).inbox(config.node_id)

    async def read() -> list[InboundRecord]:
        consumer = KafkaTransport(config.kafka).consumer([topic], None)
        await consumer.start()
        found: list[InboundRecord] = []
        try:
            while not await consumer.caught_up():
                found.extend(await consumer.fetch(100, 1.0))
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())


def produce(config_path: Path, record: OutboundRecord) -> None:
    async def send() -> None:
        producer = KafkaTransport(load_node_config(config_path).kafka).producer()
        await producer.start()
        try:
            await producer.send(record)
        finally:
            await producer.stop()

    asyncio.run(send())


def test_operator_commands_end_to_end(
    kafka: KafkaEndpoint, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cn, la = corridor_configs(tmp_path, kafka.bootstrap_servers)
    pki = tmp_path / "pki"
    assert main(["topics", "ensure", "--config", str(cn)]) == 0
    assert "inbox.LA-VTE" in capsys.readouterr().out
    assert main(["topics", "ensure", "--config", str(cn)]) == 0
    assert "nothing (all topics exist)" in capsys.readouterr().out
    for node_id in ("CN-CQ", "LA-VTE"):
        assert main([
            "keys", "publish", "--config", str(cn), "--ca", str(pki / "ca" / node_id[:2]),
            "--certificate", str(pki / "nodes" / node_id / "node.crt.pem"),
            "--ca-passphrase-file", str(pki / "passphrase.txt"),
        ]) == 0  # fmt: skip
        assert "published key" in capsys.readouterr().out

    reference = "CQ-CLI-0001"
    document = tmp_path / "declaration.json"
    declaration = sample_declaration(lines=2, reference=reference).model_copy(
        update={"itinerary": ("CN", "LA"), "entry_place": "LAVTE"}
    )
    document.write_bytes(declaration.model_dump_json().encode())
    assert main(["submit", "--config", str(cn), str(document)]) == 0
    assert f"{reference} -> LA-VTE: " in capsys.readouterr().out
    assert main(["status", "--config", str(cn), reference]) == 0
    assert "LA-VTE   sent" in capsys.readouterr().out
    assert main(["status", "--config", str(cn), "NO-SUCH-REF"]) == 1
    capsys.readouterr()

    # A tampered copy lands in Vientiane's inbox beside the real one.
    [original] = read_inbox(la)
    tampered = bytearray(original.value)
    tampered[7] ^= 0x10
    produce(la, OutboundRecord(original.topic, bytes(tampered), original.key, original.headers))
    receiver = NodeProcess(la)
    receiver.start()
    inbox = tmp_path / "gateway" / "LA-VTE" / "inbox"
    for _ in range(300):
        if list(inbox.glob("*.json")):
            break
        time.sleep(0.1)
    assert receiver.signal(signal.SIGTERM) == 0
    receiver.output()
    assert len(list(inbox.glob("*.json"))) == 1

    assert main(["dlq", "list", "--config", str(la)]) == 0
    listed = capsys.readouterr().out
    assert "bad-signature" in listed
    assert "1 dead letter(s)" in listed
    assert main(["dlq", "replay", "--config", str(la), "--code", "replay"]) == 0
    assert "re-drove 0 of 1 new dead letter(s)" in capsys.readouterr().out  # none of that code
    assert main(["dlq", "replay", "--config", str(la), "--code", "bad-signature"]) == 0
    assert "re-drove 1 of 1 new dead letter(s)" in capsys.readouterr().out  # filtered: kept
    assert main(["dlq", "replay", "--config", str(la)]) == 0
    assert "re-drove 1 of 1" in capsys.readouterr().out
    assert main(["dlq", "replay", "--config", str(la)]) == 0  # each letter is re-driven once
    assert "re-drove 0 of 0" in capsys.readouterr().out
    assert len(read_inbox(la)) == 4  # original, tampered, and two re-driven tampered copies


def test_bad_configuration_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text('node_id = "cn"\nformat = "xml"\n')
    assert main(["status", "--config", str(config), "X"]) == 2
    error = capsys.readouterr().err
    assert "invalid node configuration" in error
    assert "node_id" in error
    assert "identity" in error  # missing, listed with the rest
    assert "Traceback" not in error
