"""What this node has delivered, and what it sent and heard back: one SQLite file per node.

`DeliveryLedger` remembers where each delivered message was read from, so a record re-read after
a crash (same topic/partition/offset) is recognised as a redelivery, not a replay attack.
`ReceiptTracker` follows each sent declaration per recipient: sent -> delivered | rejected, and
overdue when no receipt came within the configured time (AS4 reception awareness).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS delivered (
    message_id TEXT PRIMARY KEY, coordinates TEXT NOT NULL, delivered_us INTEGER NOT NULL,
    receipt_errors TEXT);
CREATE TABLE IF NOT EXISTS sent (
    message_id TEXT NOT NULL, recipient TEXT NOT NULL, reference TEXT NOT NULL,
    status TEXT NOT NULL, sent_us INTEGER NOT NULL, updated_us INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT '', PRIMARY KEY (message_id, recipient));
CREATE INDEX IF NOT EXISTS sent_by_reference ON sent (reference);
CREATE INDEX IF NOT EXISTS sent_by_status ON sent (status, sent_us);
"""

_SELECT_SENT = (
    "SELECT message_id, recipient, reference, status, sent_us, updated_us, detail FROM sent "
)


class DeliveryStatus(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Tracked:
    message_id: str
    recipient: str
    reference: str
    status: DeliveryStatus
    sent_at: datetime
    updated_at: datetime
    detail: str


def _us(moment: datetime) -> int:
    return int(moment.timestamp() * 1_000_000)


def _at(us: int) -> datetime:
    return datetime.fromtimestamp(us / 1_000_000, UTC)


class NodeLedger:
    """Both tables of one node, in `state_dir/node.sqlite3` (WAL: readers never block the node)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(delivered)")}
        if "receipt_errors" not in columns:  # a ledger written before receipts were kept
            self._db.execute("ALTER TABLE delivered ADD COLUMN receipt_errors TEXT")

    def close(self) -> None:
        self._db.close()

    # -- delivery ledger (receiving side)
    def delivered_from(self, message_id: str) -> str | None:
        row = self._db.execute(
            "SELECT coordinates FROM delivered WHERE message_id = ?", (message_id,)
        ).fetchone()
        return str(row[0]) if row else None

    def answer_given(self, message_id: str) -> str | None:
        """The JSON receipt errors recorded with a handled message (`[]`: accepted cleanly)."""
        row = self._db.execute(
            "SELECT receipt_errors FROM delivered WHERE message_id = ?", (message_id,)
        ).fetchone()
        return str(row[0]) if row and row[0] is not None else None

    def delivered_count(self) -> int:
        return int(self._db.execute("SELECT COUNT(*) FROM delivered").fetchone()[0])

    def record_delivered(
        self, message_id: str, coordinates: str, at: datetime, receipt_errors: str | None = None
    ) -> None:
        """Remember a handled record; `receipt_errors` (JSON) is what its receipt said."""
        self._db.execute(
            "INSERT OR REPLACE INTO delivered VALUES (?, ?, ?, ?)",
            (message_id, coordinates, _us(at), receipt_errors),
        )

    # -- receipt tracker (sending side)
    def record_sent(self, message_id: str, recipient: str, reference: str, at: datetime) -> None:
        self._db.execute(
            "INSERT INTO sent VALUES (?, ?, ?, ?, ?, ?, '') ON CONFLICT (message_id, recipient) "
            "DO UPDATE SET status = excluded.status, updated_us = excluded.updated_us",
            (message_id, recipient, reference, DeliveryStatus.SENT, _us(at), _us(at)),
        )

    def record_receipt(
        self, message_id: str, recipient: str, accepted: bool, detail: str, at: datetime
    ) -> bool:
        """Apply a receipt; False when nothing was sent under that id to that recipient."""
        status = DeliveryStatus.DELIVERED if accepted else DeliveryStatus.REJECTED
        cursor = self._db.execute(
            "UPDATE sent SET status = ?, updated_us = ?, detail = ? "
            "WHERE message_id = ? AND recipient = ?",
            (status, _us(at), detail, message_id, recipient),
        )
        return cursor.rowcount == 1

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
