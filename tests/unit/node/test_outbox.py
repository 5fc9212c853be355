"""The gateway outbox reads only what it may, in bounded memory, and tells without quoting."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from pathlib import Path

import pytest

from broker.errors import FormatError, Problem, TransportError
from broker.node import gateway as gateway_module
from broker.node.gateway import GatewayFolders
from broker.node.outbox import MAX_PROBLEMS, RETRY_MAX_S, OutboxSender


class Recorder:
    def __init__(self, fail: FormatError | None = None) -> None:
        self.seen: list[str] = []
        self.fail = fail

    async def __call__(self, data: bytes, name: str) -> object:
        self.seen.append(name)
        if self.fail is not None:
            raise self.fail
        return None


@pytest.fixture
def folders(tmp_path: Path) -> GatewayFolders:
    folders = GatewayFolders(tmp_path / "gateway")
    folders.create()
    return folders


async def run_once(folders: GatewayFolders, submit: Recorder) -> None:
    sender = OutboxSender(folders, submit, "CN-CQ")
    sender.scan(settle_s=0.0)
    for _ in range(100):
        if not sender._in_flight:
            return
        await asyncio.sleep(0.01)


async def test_a_symlink_is_never_followed(folders: GatewayFolders, tmp_path: Path) -> None:
    secret = tmp_path / "secret.key"
    secret.write_bytes(b"-----BEGIN PRIVATE KEY----- not for the corridor")
    (folders.outbox / "looks-like-a-declaration.xml").symlink_to(secret)
    submit = Recorder()
    await run_once(folders, submit)
    assert submit.seen == []  # never read, never sent
    error = (folders.failed / "looks-like-a-declaration.xml.error.txt").read_text()
    assert "symbolic link" in error
    assert "PRIVATE KEY" not in error
    assert secret.exists()


async def test_a_file_too_large_is_not_read(
    folders: GatewayFolders, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gateway_module, "MAX_DOCUMENT_BYTES", 1000)
    (folders.outbox / "huge.xml").write_bytes(b"<x>" + b"A" * 5000)
    submit = Recorder()
    await run_once(folders, submit)
    assert submit.seen == []
    assert "over the 1000-byte limit" in (folders.failed / "huge.xml.error.txt").read_text()


async def test_an_error_file_never_quotes_the_document_and_is_capped(
    folders: GatewayFolders,
) -> None:
    problems = [
        Problem("not a known code", source="bad.xml", location=f"line {n}", field="kind",
                value="CONFIDENTIAL-TRADER-NAME")
        for n in range(10 * MAX_PROBLEMS)
    ]  # fmt: skip
    (folders.outbox / "bad.xml").write_bytes(b"<x>CONFIDENTIAL-TRADER-NAME</x>")
    submit = Recorder(FormatError.collect("invalid", problems))
    await run_once(folders, submit)
    error_file = folders.failed / "bad.xml.error.txt"
    text = error_file.read_text()
    assert "CONFIDENTIAL" not in text
    assert "line 0: kind: not a known code" in text
    assert f"and {9 * MAX_PROBLEMS} more problem(s)" in text
    assert len(text) < 100 * MAX_PROBLEMS
    assert stat.S_IMODE(os.stat(error_file).st_mode) == 0o600


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class KafkaDown:
    def __init__(self) -> None:
        self.attempts = 0
        self.down = True

    async def __call__(self, data: bytes, name: str) -> object:
        self.attempts += 1
        if self.down:
            raise TransportError("Kafka unreachable")
        return None


async def settle(sender: OutboxSender) -> None:
    for _ in range(200):
        if not sender._in_flight:
            return
        await asyncio.sleep(0.005)


async def test_an_outage_backs_off_per_file_and_says_so_once(
    folders: GatewayFolders, caplog: pytest.LogCaptureFixture
) -> None:
    for number in range(3):
        (folders.outbox / f"declaration-{number}.xml").write_bytes(b"<DecMessage/>")
    clock = FakeMonotonic()
    submit = KafkaDown()
    sender = OutboxSender(folders, submit, "CN-CQ", monotonic=clock)
    caplog.set_level(logging.INFO, logger="broker.node.outbox")

    for _ in range(50):  # fifty scans within the first back-off: nothing is tried again
        sender.scan(settle_s=0.0)
        await settle(sender)
    assert submit.attempts == 3
    assert sender.waiting == 3

    for _ in range(6):  # each later scan after the longest back-off tries each file once more
        clock.now += RETRY_MAX_S
        sender.scan(settle_s=0.0)
        await settle(sender)
    assert submit.attempts == 3 + 6 * 3
    stays = [r for r in caplog.records if "stays" in r.getMessage()]
    assert len(stays) == 3  # once per file, not once per attempt

    submit.down = False
    clock.now += RETRY_MAX_S
    sender.scan(settle_s=0.0)
    await settle(sender)
    assert sender.waiting == 0
    assert sorted(p.name for p in folders.sent.iterdir()) == [
        f"declaration-{number}.xml" for number in range(3)
    ]
    assert sum("sent after" in r.getMessage() for r in caplog.records) == 3


async def test_a_file_taken_away_while_waiting_is_forgotten(folders: GatewayFolders) -> None:
    path = folders.outbox / "declaration.xml"
    path.write_bytes(b"<DecMessage/>")
    sender = OutboxSender(folders, KafkaDown(), "CN-CQ", monotonic=FakeMonotonic())
    sender.scan(settle_s=0.0)
    await settle(sender)
    assert sender.waiting == 1
    path.unlink()
    sender.scan(settle_s=0.0)
    assert sender.waiting == 0
