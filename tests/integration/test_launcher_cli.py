"""`customs-broker kafka up|status|down` as a user runs it: idempotent, data kept across down/up
unless purged, with clear errors."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.kafka_support import free_port_block

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "broker", "kafka", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_up_status_down_twice_in_a_row(tmp_path: Path) -> None:
    where = ["--port", str(free_port_block(2)), "--state-dir", str(tmp_path / "k")]
    try:
        for _ in range(2):
            up = cli("up", *where)
            assert up.returncode == 0, up.stderr
            assert "started" in up.stdout
            again = cli("up", *where)
            assert again.returncode == 0, again.stderr
            assert "already running" in again.stdout
            status = cli("status", *where)
            assert status.returncode == 0, status.stdout
            assert "metadata request: answered" in status.stdout
            down = cli("down", *where)
            assert (down.returncode, down.stdout.splitlines()[0]) == (0, "stopped")
            assert "data kept in" in down.stdout
            assert cli("down", *where).stdout.splitlines()[0] == "not running"
            status = cli("status", *where)
            assert status.returncode == 3
            assert "stopped; data kept" in status.stdout
    finally:
        cli("down", "--purge", *where)
    assert not (tmp_path / "k").exists()


def test_down_keeps_the_records_and_up_brings_them_back(tmp_path: Path) -> None:
    port = free_port_block(2)
    where = ["--port", str(port), "--state-dir", str(tmp_path / "k")]
    bootstrap = f"127.0.0.1:{port}"
    try:
        assert cli("up", *where).returncode == 0
        asyncio.run(_produce(bootstrap, "kept", [b"before-down-1", b"before-down-2"]))
        assert cli("down", *where).returncode == 0
        again = cli("up", *where)
        assert again.returncode == 0, again.stderr
        assert "started" in again.stdout  # the same cluster, started again on its data
        assert asyncio.run(_read(bootstrap, "kept")) == [b"before-down-1", b"before-down-2"]
        purge = cli("down", "--purge", *where)
        assert purge.returncode == 0
        assert not (tmp_path / "k").exists()
        assert cli("status", *where).returncode == 3
    finally:
        cli("down", "--purge", *where)


async def _produce(bootstrap: str, topic: str, values: list[bytes]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()


async def _read(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        batch = await consumer.getmany(timeout_ms=10_000)
        return [r.value for records in batch.values() for r in records if r.value is not None]
    finally:
        await consumer.stop()


def test_up_on_a_taken_port_fails_clearly(tmp_path: Path) -> None:
    port = free_port_block(2)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        up = cli("up", "--port", str(port), "--state-dir", str(tmp_path / "k"))
    assert up.returncode == 2
    assert f"port(s) {port} on 127.0.0.1 already in use" in up.stderr
    assert "Traceback" not in up.stderr


def test_broker_dying_on_start_shows_its_log(tmp_path: Path) -> None:
    where = ["--port", str(free_port_block(2)), "--state-dir", str(tmp_path / "k")]
    # Storage formats fine, but the broker cannot load this authorizer and exits.
    up = cli("up", *where, "--override", "authorizer.class.name=org.example.NoSuchAuthorizer")
    assert up.returncode == 2
    assert "exited during start-up" in up.stderr
    assert "NoSuchAuthorizer" in up.stderr  # the tail of Kafka's own log says why
    assert cli("status", *where).returncode == 3  # nothing left running


def test_foreign_data_directory_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "k"
    state.mkdir()
    (state / "meta.properties").write_text("cluster.id=someone-else\n")
    up = cli("up", "--port", str(free_port_block(2)), "--state-dir", str(state))
    assert up.returncode == 2
    assert "stale data directory" in up.stderr
    assert (state / "meta.properties").exists()  # never deleted what we did not create


def test_config_rejected_at_format_leaves_no_state(tmp_path: Path) -> None:
    where = ["--port", str(free_port_block(2)), "--state-dir", str(tmp_path / "k")]
    up = cli("up", *where, "--override", "num.network.threads=0")
    assert up.returncode == 2
    assert "formatting KRaft storage of node 1 failed" in up.stderr
    assert "num.network.threads" in up.stderr
    assert not (tmp_path / "k").exists()  # a retry with a fixed setting starts clean
