"""Replay protection: the ids of accepted messages, remembered for a retention window.

`SqliteReplayStore` survives restarts (one SQLite file per node, WAL journal, `synchronous=FULL`
so an accepted id is on disk before the Kafka offset is committed). Entries older than the
retention window are purged; the verifier refuses messages whose `ce_time` is older than that
window (`too-old`), so a replay after a purge cannot pass. `MemoryReplayStore` is the same
contract in a dict, for unit tests and benchmarks.
"""

from __future__ import annotations

import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Protocol

from broker.clock import Clock
from broker.errors import SignatureError
from broker.signing.reasons import ConfigCode, Reason, config_error

PURGE_INTERVAL_SECONDS = 60.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted_message (
    message_id TEXT PRIMARY KEY,
    accepted_at_us INTEGER NOT NULL  -- microseconds since 1970-01-01T00:00:00Z
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS accepted_message_by_time ON accepted_message (accepted_at_us);
"""
_SYNCED = "CREATE TABLE IF NOT EXISTS synced (id INTEGER PRIMARY KEY CHECK (id = 1));"


class ReplayStore(Protocol):
    @property
    def retention(self) -> timedelta:
        """How long an accepted id is remembered."""

    def seen(self, message_id: str) -> bool:
        """Whether `message_id` was accepted within the retention window."""

    def add(self, message_id: str) -> None:
        """Record `message_id` as accepted now; `SignatureError(replay)` if already there."""

    def sync(self) -> None:
        """Make every `add` so far durable (a store that syncs each add has nothing to do)."""


def _replay(message_id: str) -> SignatureError:
    return SignatureError(Reason.REPLAY, f"message id {message_id!r} was already accepted")


def _checked_retention(retention: timedelta) -> timedelta:
    if retention <= timedelta(0):
        raise config_error(ConfigCode.BAD_ARGUMENT, retention, "retention must be positive")
    return retention


def _microseconds(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


class MemoryReplayStore:
    def __init__(self, retention: timedelta, clock: Clock) -> None:
        self._retention = _checked_retention(retention)
        self._clock = clock
        self._accepted_at: dict[str, datetime] = {}
        self._next_purge = clock.monotonic() + PURGE_INTERVAL_SECONDS

    @property
    def retention(self) -> timedelta:
        return self._retention

    def seen(self, message_id: str) -> bool:
        return message_id in self._accepted_at

    def add(self, message_id: str) -> None:
        if message_id in self._accepted_at:
            raise _replay(message_id)
        self._accepted_at[message_id] = self._clock.now()
        if self._clock.monotonic() >= self._next_purge:
            self.purge()

    def sync(self) -> None:
        return  # nothing to make durable

    def purge(self) -> int:
        cutoff = self._clock.now() - self._retention
        expired = [mid for mid, at in self._accepted_at.items() if at < cutoff]
        for message_id in expired:
            del self._accepted_at[message_id]
        self._next_purge = self._clock.monotonic() + PURGE_INTERVAL_SECONDS
        return len(expired)


class SqliteReplayStore:
    """Accepted message ids in one SQLite file; use from one thread (the node's event loop).

    `sync_each=False` (the node, which commits its offsets once per fetched batch): an `add`
    commits with `synchronous=NORMAL` and is durable after the next `sync()`, one fsync per
    batch instead of one per message.
    """

    def __init__(
        self, path: Path | str, retention: timedelta, clock: Clock, *, sync_each: bool = True
    ) -> None:
        self._retention = _checked_retention(retention)
        self._clock = clock
        self._path = path
        self._sync_each = sync_each
        try:
            _owner_only(Path(path))
            self._db = sqlite3.connect(path, isolation_level=None)  # autocommit: one txn per add
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={'FULL' if sync_each else 'NORMAL'}")
            self._db.executescript(_SCHEMA + _SYNCED)
            _owner_only(Path(path))  # the WAL files now exist
        except (sqlite3.Error, OSError) as exc:
            raise config_error(ConfigCode.FILE_IO, path, f"replay store: {exc}") from exc
        self.purge()
        self._synced_changes = self._db.total_changes

    @property
    def retention(self) -> timedelta:
        return self._retention

    def sync(self) -> None:
        """One commit under `synchronous=FULL`: its fsync of the log carries the earlier adds."""
        if self._sync_each or self._db.total_changes == self._synced_changes:
            return
        try:
            self._db.execute("PRAGMA synchronous=FULL")
            try:
                self._db.execute("INSERT OR REPLACE INTO synced VALUES (1)")
            finally:
                self._db.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.Error as exc:
            raise config_error(ConfigCode.FILE_IO, self._path, f"replay store: {exc}") from exc
        self._synced_changes = self._db.total_changes

    def seen(self, message_id: str) -> bool:
        try:
            row = self._db.execute(
                "SELECT 1 FROM accepted_message WHERE message_id = ?", (message_id,)
            ).fetchone()
        except sqlite3.Error as exc:
            raise config_error(ConfigCode.FILE_IO, self._path, f"replay store: {exc}") from exc
        return row is not None

    def add(self, message_id: str) -> None:
        try:
            self._db.execute(
                "INSERT INTO accepted_message (message_id, accepted_at_us) VALUES (?, ?)",
                (message_id, _microseconds(self._clock.now())),
            )
        except sqlite3.IntegrityError as exc:  # the primary key says: seen before
            raise _replay(message_id) from exc
        except sqlite3.Error as exc:
            raise config_error(ConfigCode.FILE_IO, self._path, f"replay store: {exc}") from exc
        if self._clock.monotonic() >= self._next_purge:
            self.purge()

    def purge(self) -> int:
        """Forget ids accepted before the retention window; returns how many."""
        cutoff = _microseconds(self._clock.now() - self._retention)
        try:
            deleted = self._db.execute(
                "DELETE FROM accepted_message WHERE accepted_at_us < ?", (cutoff,)
            ).rowcount
        except sqlite3.Error as exc:
            raise config_error(ConfigCode.FILE_IO, self._path, f"replay store: {exc}") from exc
        self._next_purge = self._clock.monotonic() + PURGE_INTERVAL_SECONDS
        return deleted

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SqliteReplayStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _owner_only(path: Path) -> None:
    """Create the file 0600 if missing; chmod it and its WAL companions (never open them: closing
    a descriptor of a SQLite file drops the process's locks on it)."""
    if str(path) == ":memory:":
        return
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists():
            os.chmod(each, 0o600)
