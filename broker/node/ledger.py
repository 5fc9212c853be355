"""What this node has handled, sent and heard back: one owner-only SQLite file per node.

Receiving side, keyed by the delivery identity (sender, ce_id):
- `handled`: each message this node answered (delivered or rejected), the SHA-256 of the exact
  value received, where it was read from and the signed receipt it answered with, so the same
  message read again (after a crash, or resent by its sender) gets the same receipt again and is
  never delivered twice;
- `references`: which sender sent the original of each (sender, reference), so a change or a
  cancellation is accepted only from the node that sent the original;
- `dead_lettered`: coordinates already answered with a dead letter (a re-read adds none);
- `unsent`: answers Kafka will never take (missing topic, too large, not authorized), kept here
  for the operator instead of blocking the partition.

Sending side: `sent` follows each declaration per recipient (prepared -> sent -> delivered |
rejected, and overdue), with the SHA-256 of the value sent to that recipient, which a receipt
must quote. `early_receipts` keeps a receipt that arrives before its row: at most
`MAX_EARLY_RECEIPTS` per recipient, detail cut to `EARLY_DETAIL_CHARS`, forgotten after the
replay retention (a partner's receipts about messages never sent cannot fill the state disk).
`revocations` keeps every key revocation this node ever applied (compaction of the key
directory cannot undo one).

Durability is per batch, not per row: commits run with `synchronous=NORMAL` (WAL: a crash of the
process loses nothing, the commit is in the operating system's cache; only a power loss can undo
the latest ones), and `sync()` makes every commit before it durable at the points where that
matters: before the records a batch prepared are produced (sender), before a fetched batch's
answers are produced and its offsets committed (receiver). One fsync per batch instead of three
per declaration.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

from broker.transport.base import Header

_SCHEMA = """
CREATE TABLE IF NOT EXISTS handled (
    sender TEXT NOT NULL, message_id TEXT NOT NULL, value_sha256 TEXT NOT NULL,
    coordinates TEXT NOT NULL, handled_us INTEGER NOT NULL, outcome TEXT NOT NULL,
    receipt_value BLOB, receipt_headers TEXT, PRIMARY KEY (sender, message_id));
CREATE TABLE IF NOT EXISTS "references" (
    sender TEXT NOT NULL, reference TEXT NOT NULL, message_id TEXT NOT NULL,
    PRIMARY KEY (sender, reference));
CREATE TABLE IF NOT EXISTS dead_lettered (
    coordinates TEXT PRIMARY KEY, code TEXT NOT NULL, at_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS unsent (
    id INTEGER PRIMARY KEY, topic TEXT NOT NULL, kind TEXT NOT NULL, why TEXT NOT NULL,
    about TEXT NOT NULL, at_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS sent (
    message_id TEXT NOT NULL, recipient TEXT NOT NULL, reference TEXT NOT NULL,
    status TEXT NOT NULL, sent_us INTEGER NOT NULL, updated_us INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT '', PRIMARY KEY (message_id, recipient));
CREATE INDEX IF NOT EXISTS sent_by_reference ON sent (reference);
CREATE INDEX IF NOT EXISTS sent_by_status ON sent (status, sent_us);
CREATE TABLE IF NOT EXISTS early_receipts (
    message_id TEXT NOT NULL, recipient TEXT NOT NULL, accepted INTEGER NOT NULL,
    detail TEXT NOT NULL, value_sha256 TEXT NOT NULL, at_us INTEGER NOT NULL,
    PRIMARY KEY (message_id, recipient));
CREATE INDEX IF NOT EXISTS early_by_recipient ON early_receipts (recipient);
CREATE TABLE IF NOT EXISTS revocations (
    key_id TEXT PRIMARY KEY, revoked_at_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS synced (id INTEGER PRIMARY KEY CHECK (id = 1), at_us INTEGER NOT NULL);
"""
# Columns added to `sent` since its first version (a ledger file may predate them).
_SENT_COLUMNS = {"value_sha256": "TEXT NOT NULL DEFAULT ''", "record": "BLOB"}

_SELECT_SENT = (
    "SELECT message_id, recipient, reference, status, sent_us, updated_us, detail FROM sent "
)


class DeliveryStatus(StrEnum):
    PREPARED = "prepared"  # recorded before it was produced; Kafka has not acknowledged it yet
    SENT = "sent"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    OVERDUE = "overdue"


class ReceiptCheck(StrEnum):
    """What the sender made of a receipt (see `NodeLedger.record_receipt`)."""

    APPLIED = "applied"
    EARLY = "early"  # no row yet (a crash before it was recorded): kept until the row comes
    WRONG_DIGEST = "wrong-digest"  # quotes other bytes than this node sent that recipient
    AGAIN = "again"  # the row has its answer already: a duplicate receipt, recognised
    TOO_MANY_EARLY = "too-many-early"  # no row, and MAX_EARLY_RECEIPTS from it kept already


# A genuine receipt finds its row (rows are prepared and synced before the copy is produced); an
# early one comes only after lost state. Receipts from one partner about messages never sent are
# kept to this many, so its receipts cannot fill the state disk.
MAX_EARLY_RECEIPTS = 1000
EARLY_DETAIL_CHARS = 200


@dataclass(frozen=True)
class Tracked:
    message_id: str
    recipient: str
    reference: str
    status: DeliveryStatus
    sent_at: datetime
    updated_at: datetime
    detail: str


@dataclass(frozen=True)
class Handled:
    """A message this node answered, and the answer (to repeat it word for word)."""

    value_sha256: str
    coordinates: str
    outcome: str
    receipt: tuple[bytes, tuple[Header, ...]] | None


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


def private_folder(path: Path) -> Path:
    """Create `path` (and parents) owner-only, and tighten it if it exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def private_file(path: Path) -> Path:
    """Make sure `path` exists and is owner-only before anything writes into it.

    An existing file is only chmod-ed, never opened: closing any descriptor of a SQLite file
    drops every POSIX lock this process holds on it (another connection's too), which lets a
    concurrent writer corrupt the database.
    """
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_NOFOLLOW, 0o600))
    os.chmod(path, 0o600)
    for suffix in ("-wal", "-shm"):  # SQLite's companions take the database file's mode
        companion = path.with_name(path.name + suffix)
        if companion.exists():
            os.chmod(companion, 0o600)
    return path


class NodeLedger:
    """All tables of one node, in `state_dir/node.sqlite3` (WAL: readers never block the node)."""

    def __init__(self, path: Path) -> None:
        private_folder(path.parent)
        private_file(path)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable at `sync()`, once per batch
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(sent)")}
        for name, kind in _SENT_COLUMNS.items():
            if name not in columns:
                self._db.execute(f"ALTER TABLE sent ADD COLUMN {name} {kind}")
        private_file(path)
        self._synced_changes = self._db.total_changes
        self._outermost = _Transaction(self._db)

    def close(self) -> None:
        self._db.close()

    def sync(self) -> None:
        """Make every commit so far durable: one commit under `synchronous=FULL`, whose fsync of
        the write-ahead log carries the earlier (NORMAL) commits with it. Nothing to do when
        nothing changed since the last sync."""
        if self._db.total_changes == self._synced_changes:
            return
        self._db.execute("PRAGMA synchronous=FULL")
        try:
            self._db.execute(
                "INSERT INTO synced VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET at_us = "
                "excluded.at_us",
                (_us(datetime.now(UTC)),),
            )
        finally:
            self._db.execute("PRAGMA synchronous=NORMAL")
        self._synced_changes = self._db.total_changes

    # -- receiving side
    def handled(self, sender: str, message_id: str) -> Handled | None:
        row = self._db.execute(
            "SELECT value_sha256, coordinates, outcome, receipt_value, receipt_headers "
            "FROM handled WHERE sender = ? AND message_id = ?",
            (sender, message_id),
        ).fetchone()
        if row is None:
            return None
        digest, coordinates, outcome, value, headers = row
        receipt = None
        if value is not None and headers is not None:
            receipt = (
                bytes(value),
                tuple((name, bytes.fromhex(text)) for name, text in json.loads(headers)),
            )
        return Handled(str(digest), str(coordinates), str(outcome), receipt)

    def handled_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM handled").fetchone()[0])

    def record_handled(
        self,
        sender: str,
        message_id: str,
        *,
        value_sha256: str,
        coordinates: str,
        outcome: str,
        at: datetime,
        receipt: tuple[bytes, tuple[Header, ...]] | None = None,
        reference: str | None = None,
    ) -> None:
        """Remember a handled message and its answer, and own an original's reference: one
        transaction, so a crash leaves either all of it or none."""
        value, headers = receipt if receipt is not None else (None, None)
        encoded = None if headers is None else json.dumps([[n, v.hex()] for n, v in headers])
        with self._transaction:
            self._db.execute(
                "INSERT OR REPLACE INTO handled VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (sender, message_id, value_sha256, coordinates, _us(at), outcome, value, encoded),
            )
            if reference is not None:
                self._db.execute(
                    'INSERT OR IGNORE INTO "references" VALUES (?, ?, ?)',
                    (sender, reference, message_id),
                )

    def original_of(self, sender: str, reference: str) -> str | None:
        """The message id of the original `sender` sent under `reference`, if any."""
        row = self._db.execute(
            'SELECT message_id FROM "references" WHERE sender = ? AND reference = ?',
            (sender, reference),
        ).fetchone()
        return str(row[0]) if row else None

    def was_dead_lettered(self, coordinates: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM dead_lettered WHERE coordinates = ?", (coordinates,)
        ).fetchone()
        return row is not None

    def record_dead_lettered(self, coordinates: list[tuple[str, str]], at: datetime) -> None:
        with self._transaction:
            self._db.executemany(
                "INSERT OR IGNORE INTO dead_lettered VALUES (?, ?, ?)",
                [(where, code, _us(at)) for where, code in coordinates],
            )

    def record_unsent(self, topic: str, kind: str, why: str, about: str, at: datetime) -> None:
        self._db.execute(
            "INSERT INTO unsent (topic, kind, why, about, at_us) VALUES (?, ?, ?, ?, ?)",
            (topic, kind, why[:1000], about[:1000], _us(at)),
        )

    def unsent(self) -> list[tuple[str, str, str, str]]:
        rows = self._db.execute("SELECT topic, kind, why, about FROM unsent ORDER BY id")
        return [(str(t), str(k), str(w), str(a)) for t, k, w, a in rows.fetchall()]

    # -- key revocations (the key directory's memory)
    def record_revocation(self, key_id: str, revoked_at: datetime) -> None:
        self._db.execute(
            "INSERT INTO revocations VALUES (?, ?) ON CONFLICT (key_id) DO UPDATE SET "
            "revoked_at_us = MIN(revoked_at_us, excluded.revoked_at_us)",
            (key_id, _us(revoked_at)),
        )
        self.sync()  # rare, and a revocation must never be forgotten

    def revocations(self) -> dict[str, datetime]:
        rows = self._db.execute("SELECT key_id, revoked_at_us FROM revocations").fetchall()
        return {str(kid): _at(int(us)) for kid, us in rows}

    # -- sending side
    def record_prepared(
        self,
        message_id: str,
        recipient: str,
        reference: str,
        value_sha256: str,
        record: bytes,
        at: datetime,
    ) -> None:
        """Before producing: what goes to `recipient` (its exact record, to resend it as is)."""
        self._db.execute(
            "INSERT INTO sent (message_id, recipient, reference, status, sent_us, updated_us, "
            "detail, value_sha256, record) VALUES (?, ?, ?, ?, ?, ?, '', ?, ?) "
            "ON CONFLICT (message_id, recipient) DO NOTHING",
            (
                message_id,
                recipient,
                reference,
                DeliveryStatus.PREPARED,
                _us(at),
                _us(at),
                value_sha256,
                record,
            ),
        )

    def prepared_record(self, message_id: str, recipient: str) -> bytes | None:
        """The record prepared for `recipient` and not acknowledged by Kafka yet, if any."""
        row = self._db.execute(
            "SELECT record FROM sent WHERE message_id = ? AND recipient = ? AND status = ?",
            (message_id, recipient, DeliveryStatus.PREPARED),
        ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def record_sent(
        self, message_id: str, recipient: str, reference: str, at: datetime, value_sha256: str = ""
    ) -> None:
        """Kafka acknowledged the copy for `recipient`; a receipt that came early applies now."""
        with self._transaction:
            self._db.execute(
                "INSERT INTO sent (message_id, recipient, reference, status, sent_us, "
                "updated_us, detail, value_sha256) VALUES (?, ?, ?, ?, ?, ?, '', ?) "
                "ON CONFLICT (message_id, recipient) DO UPDATE SET status = excluded.status, "
                "updated_us = excluded.updated_us, record = NULL WHERE status = ?",
                (
                    message_id,
                    recipient,
                    reference,
                    DeliveryStatus.SENT,
                    _us(at),
                    _us(at),
                    value_sha256,
                    DeliveryStatus.PREPARED,
                ),
            )
            early = self._db.execute(
                "SELECT accepted, detail, value_sha256, at_us FROM early_receipts "
                "WHERE message_id = ? AND recipient = ?",
                (message_id, recipient),
            ).fetchone()
        if early is not None:
            accepted, detail, digest, at_us = early
            self._db.execute(
                "DELETE FROM early_receipts WHERE message_id = ? AND recipient = ?",
                (message_id, recipient),
            )
            self.record_receipt(
                message_id, recipient, bool(accepted), str(detail), _at(int(at_us)), str(digest)
            )

    def record_receipt(
        self,
        message_id: str,
        recipient: str,
        accepted: bool,
        detail: str,
        at: datetime,
        value_sha256: str,
    ) -> ReceiptCheck:
        """Apply a receipt whose digest must be the one sent to `recipient`."""
        row = self._db.execute(
            "SELECT value_sha256, status FROM sent WHERE message_id = ? AND recipient = ?",
            (message_id, recipient),
        ).fetchone()
        if row is None:
            (kept,) = self._db.execute(
                "SELECT COUNT(*) FROM early_receipts WHERE recipient = ? AND message_id != ?",
                (recipient, message_id),
            ).fetchone()
            if kept >= MAX_EARLY_RECEIPTS:
                return ReceiptCheck.TOO_MANY_EARLY
            self._db.execute(
                "INSERT OR REPLACE INTO early_receipts VALUES (?, ?, ?, ?, ?, ?)",
                (
                    message_id,
                    recipient,
                    int(accepted),
                    detail[:EARLY_DETAIL_CHARS],
                    value_sha256,
                    _us(at),
                ),
            )
            return ReceiptCheck.EARLY
        if row[0] and row[0] != value_sha256:
            return ReceiptCheck.WRONG_DIGEST
        status = DeliveryStatus.DELIVERED if accepted else DeliveryStatus.REJECTED
        if row[1] == status:
            return ReceiptCheck.AGAIN
        self._db.execute(
            "UPDATE sent SET status = ?, updated_us = ?, detail = ?, record = NULL "
            "WHERE message_id = ? AND recipient = ?",
            (status, _us(at), detail, message_id, recipient),
        )
        return ReceiptCheck.APPLIED

    def forget_early_receipts(self, before: datetime) -> int:
        """Drop early receipts kept since before `before` (their rows will not come now)."""
        cursor = self._db.execute("DELETE FROM early_receipts WHERE at_us < ?", (_us(before),))
        return cursor.rowcount

    def mark_overdue(self, now: datetime, timeout: timedelta) -> int:
        cursor = self._db.execute(
            "UPDATE sent SET status = ?, updated_us = ? WHERE status = ? AND sent_us < ?",
            (DeliveryStatus.OVERDUE, _us(now), DeliveryStatus.SENT, _us(now - timeout)),
        )
        return cursor.rowcount

    def by_reference(self, reference: str) -> list[Tracked]:
        return self._tracked(
            _SELECT_SENT + "WHERE reference = ? ORDER BY sent_us, recipient", reference
        )

    def by_message(self, message_id: str) -> list[Tracked]:
        return self._tracked(_SELECT_SENT + "WHERE message_id = ? ORDER BY recipient", message_id)

    def _tracked(self, query: str, value: str) -> list[Tracked]:
        rows = self._db.execute(query, (value,)).fetchall()
        return [
            Tracked(m, r, ref, DeliveryStatus(s), _at(sent), _at(upd), d)
            for m, r, ref, s, sent, upd, d in rows
        ]

    def counts_by_recipient(self) -> dict[tuple[str, DeliveryStatus], int]:
        rows = self._db.execute(
            "SELECT recipient, status, COUNT(*) FROM sent GROUP BY recipient, status"
        ).fetchall()
        return {(r, DeliveryStatus(s)): int(n) for r, s, n in rows}

    def transaction(self) -> _Transaction:
        """One transaction around several writes (a batch's rows); writes inside it that open
        their own join it. Never hold it across an `await`: the node's other loops share this
        connection."""
        return self._transaction

    @property
    def _transaction(self) -> _Transaction:
        return self._outermost


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any failure (autocommit connection); nested
    uses join the outermost."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._depth = 0

    def __enter__(self) -> None:
        if self._depth == 0:
            self._db.execute("BEGIN IMMEDIATE")
        self._depth += 1

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self._depth -= 1
        if self._depth > 0:
            return
        if kind is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
