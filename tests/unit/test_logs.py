"""Structured logs: the receiver's own dead-letter line is JSON with its context, and neither
declaration contents nor private key material reach the log."""

from __future__ import annotations

import base64
import io
import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from broker.clock import FakeClock
from broker.errors import ConfigError
from broker.logs import REDACTED, configure_logging
from broker.model.samples import sample_declaration
from broker.node.config import Partner
from broker.transport.base import OutboundRecord
from broker.transport.memory import MemoryTransport
from tests.corridor_support import SmallCorridor

EXPORTER = "重庆渝新欧国际贸易有限公司"  # in the sample declaration: payload, not log material


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def restore_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def private_key_texts(corridor: SmallCorridor) -> list[str]:
    """Every form in which a node's private key could leak: PEM body and raw bytes."""
    texts = []
    for identity in corridor.identities.values():
        key = identity.signer.private_key
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
        texts.append(pem.splitlines()[1])  # the base64 body line
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        texts += [der.hex(), base64.b64encode(der).decode()]
    return texts


@pytest.mark.usefixtures("restore_root_logger")
async def test_dead_letter_line_is_json_with_node_and_source_and_no_secrets(
    tmp_path: Path,
) -> None:
    out = io.StringIO()  # not a terminal: JSON lines, as in a container or under systemd
    configure_logging(out, logging.INFO)
    partners: dict[str, tuple[Partner, ...]] = {
        "CN-CQ": (Partner(node_id="LA-VTE"),),
        "LA-VTE": (Partner(node_id="CN-CQ"),),
    }
    corridor = SmallCorridor(MemoryTransport(), FakeClock(), tmp_path, partners)
    await corridor.prepare()
    sender, receiver = corridor.node("CN-CQ"), corridor.node("LA-VTE")
    for node in (sender, receiver):
        await node.start()
    try:
        declaration = sample_declaration(lines=2, reference="CQ-LOG-1")
        await sender.submit(declaration.model_dump_json().encode())
        inbox = corridor.topics.inbox("LA-VTE")
        assert isinstance(corridor.transport, MemoryTransport)
        [original] = corridor.transport.broker.records(inbox)
        tampered = bytearray(original.value)
        tampered[len(tampered) // 2] ^= 1
        producer = corridor.transport.producer()
        await producer.send(OutboundRecord(inbox, bytes(tampered), original.key, original.headers))
        await receiver.process_inbox_batch()
    finally:
        for node in (sender, receiver):
            await node.stop()
            node.parts.ledger.close()

    entries = lines(out)
    [letter] = [e for e in entries if str(e["message"]).startswith("dead-lettered")]
    assert letter["level"] == "WARNING"
    assert letter["logger"] == "broker.node.receiver"
    assert letter["node"] == "LA-VTE"
    assert str(letter["source"]).startswith(inbox + "/")
    assert "message_id" in letter  # present (null: the tampered record's id is not trusted)
    assert letter["reason"] == "bad-signature"  # the code once, in its own field
    assert "bad-signature" not in str(letter["message"])
    [delivered] = [e for e in entries if e["message"] == "delivered"]
    assert delivered["message_id"] == str(declaration.message_id)
    text = out.getvalue()
    assert EXPORTER not in text
    assert declaration.exporter is not None
    assert declaration.exporter.identifier is not None
    assert declaration.exporter.identifier not in text
    for secret in private_key_texts(corridor):
        assert secret not in text


@pytest.mark.usefixtures("restore_root_logger")
def test_only_known_context_fields_are_kept_and_bytes_and_pem_keys_never_printed() -> None:
    out = io.StringIO()
    configure_logging(out)
    pem = (
        "-----BEGIN PRIVATE KEY-----\n"
        "MC4CAQAwBQYDK2VwBCIEIJ+secretsecret\n"
        "-----END PRIVATE KEY-----"
    )
    log = logging.getLogger("broker.test")
    log.warning(
        "refused %s with value %s",
        "bad-signature",
        b"<Declaration>secret payload</Declaration>",
        extra={
            "node": "LA-VTE",
            "message_id": "6f1c2c1e-0000-4000-8000-000000000001",
            "reason": "bad-signature",
            "source": "customs.v1.inbox.LA-VTE/0/7",
            "payload": b"<Declaration>secret payload</Declaration>",
            "key": pem,
        },
    )
    try:
        raise ValueError(f"could not load {pem}")
    except ValueError:
        log.exception("loading key failed", extra={"node": "LA-VTE"})

    first, second = lines(out)
    assert first == {
        "time": first["time"],
        "level": "WARNING",
        "logger": "broker.test",
        "message": "refused bad-signature with value <41 bytes>",
        "node": "LA-VTE",
        "message_id": "6f1c2c1e-0000-4000-8000-000000000001",
        "reason": "bad-signature",
        "source": "customs.v1.inbox.LA-VTE/0/7",
    }
    assert REDACTED in str(second["error"])
    assert "secret" not in out.getvalue()


@pytest.mark.usefixtures("restore_root_logger")
def test_a_terminal_gets_readable_text_and_configuring_twice_keeps_one_handler() -> None:
    configure_logging(io.StringIO())
    screen = Terminal()
    configure_logging(screen)
    logging.getLogger("broker.node.receiver").warning(
        "dead-lettered: %s", "replay", extra={"node": "LA-VTE", "source": "inbox/0/1"}
    )
    line = screen.getvalue().strip()
    assert not line.startswith("{")
    assert "WARNING broker.node.receiver [LA-VTE] dead-lettered: replay  (source=inbox/0/1)" in line
    ours = [h for h in logging.getLogger().handlers if type(h).__name__ == "_CustomsHandler"]
    assert len(ours) == 1


@pytest.mark.usefixtures("restore_root_logger")
def test_by_default_it_writes_to_the_stderr_of_the_moment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    configure_logging()  # what the CLI calls; pytest has already swapped stderr once
    later = io.StringIO()
    monkeypatch.setattr(sys, "stderr", later)
    logging.getLogger("broker.node.runtime").warning("inbox: retrying", extra={"node": "CN-CQ"})
    [entry] = lines(later)
    assert entry["node"] == "CN-CQ"


@pytest.mark.usefixtures("restore_root_logger")
def test_the_level_comes_from_the_environment_and_a_wrong_one_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CUSTOMS_LOG_LEVEL", "debug")
    configure_logging(io.StringIO())
    assert logging.getLogger().level == logging.DEBUG
    monkeypatch.setenv("CUSTOMS_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match="CUSTOMS_LOG_LEVEL"):
        configure_logging(io.StringIO())
