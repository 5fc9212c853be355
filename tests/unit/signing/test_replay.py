"""Replay stores: the memory one and the SQLite one that survives restarts."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from broker.clock import FakeClock
from broker.errors import ConfigError, SignatureError
from broker.signing.replay import (
    PURGE_INTERVAL_SECONDS,
    MemoryReplayStore,
    ReplayStore,
    SqliteReplayStore,
)

RETENTION = timedelta(hours=1)


@pytest.fixture(params=["memory", "sqlite"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FakeClock
) -> Iterator[ReplayStore]:
    if request.param == "memory":
        yield MemoryReplayStore(RETENTION, clock)
    else:
        with SqliteReplayStore(tmp_path / "replay.sqlite", RETENTION, clock) as sqlite_store:
            yield sqlite_store


def test_add_then_seen_and_no_second_add(store: ReplayStore) -> None:
    assert not store.seen("m1")
    store.add("m1")
    assert store.seen("m1")
    with pytest.raises(SignatureError) as caught:
        store.add("m1")
    assert caught.value.code == "replay"
    assert store.retention == RETENTION


def test_entries_are_purged_after_the_retention(store: ReplayStore, clock: FakeClock) -> None:
    store.add("old")
    clock.advance(RETENTION.total_seconds() + 1)
    assert store.seen("old")  # purging is periodic, not on every look-up
    clock.advance(PURGE_INTERVAL_SECONDS)
    store.add("new")  # an add after the purge interval purges
    assert not store.seen("old")
    assert store.seen("new")


def test_sqlite_survives_a_reopen_and_uses_wal(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "replay.sqlite"
    with SqliteReplayStore(path, RETENTION, clock) as first:
        first.add("CN-CQ-0001")
    with SqliteReplayStore(path, RETENTION, clock) as second:
        assert second.seen("CN-CQ-0001")
        assert second.purge() == 0
    clock.advance(RETENTION.total_seconds() + 1)
    with SqliteReplayStore(path, RETENTION, clock) as third:  # opening purges
        assert not third.seen("CN-CQ-0001")
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    raw.close()


def test_bad_settings_are_config_errors(tmp_path: Path, clock: FakeClock) -> None:
    with pytest.raises(ConfigError):
        MemoryReplayStore(timedelta(0), clock)
    with pytest.raises(ConfigError) as caught:
        SqliteReplayStore(tmp_path / "missing-folder" / "replay.sqlite", RETENTION, clock)
    assert caught.value.problems[0].code == "file-io"
