"""Gateway folders: how a national system that speaks files talks to its node.

    outbox/   the national system drops declarations here (write elsewhere, then rename in)
    sent/     moved here only after Kafka acknowledged the declaration for every recipient
    failed/   moved here with `<name>.error.txt` when the document itself is wrong
    inbox/    declarations received from partners, rendered in the national format
    receipts/ each partner's answer to a declaration sent, in the national format (CUSRES for
              cusdec, the XML receipt for cn-swxml ...: see docs/formats.md)

A file is picked up only when complete: names starting with `.` or ending in `.tmp`/`.part` are
in progress, and a file modified less than `settle_s` ago may still be growing. Only regular
files are read (a symlink or a device is moved to `failed/` unread), through a descriptor opened
without following links, and never more than `MAX_DOCUMENT_BYTES`. Every write is atomic
(temporary name, fsync, rename) and owner-only, so the national system never reads half a file
and other local users read none. A delivered file names its sender:
`<sender>.<reference>.<message id>.<ext>`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_IN_PROGRESS = re.compile(r"^\.|\.(tmp|part)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


class UnreadableFile(Exception):
    """An outbox entry that is not a document this node may read (kind or size)."""


@dataclass(frozen=True)
class GatewayFolders:
    root: Path

    @property
    def outbox(self) -> Path:
        return self.root / "outbox"

    @property
    def sent(self) -> Path:
        return self.root / "sent"

    @property
    def failed(self) -> Path:
        return self.root / "failed"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def receipts(self) -> Path:
        return self.root / "receipts"

    def create(self) -> None:
        for folder in (self.outbox, self.sent, self.failed, self.inbox, self.receipts):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)

    def ready_files(self, settle_s: float, now: float | None = None) -> Iterator[Path]:
        """Complete documents in the outbox, oldest first."""
        moment = time.time() if now is None else now
        candidates = []
        for path in self.outbox.iterdir():
            if _IN_PROGRESS.search(path.name):
                continue
            info = path.lstat()  # a symlink is judged as a link, never followed
            if moment - info.st_mtime >= settle_s:
                candidates.append((info.st_mtime, path.name, path))
        yield from (path for _, _, path in sorted(candidates))

    def read(self, path: Path) -> bytes:
        """The document at `path`: a regular file (not a link), at most `MAX_DOCUMENT_BYTES`."""
        try:
            descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as exc:
            if os.path.islink(path):
                raise UnreadableFile("a symbolic link, not a document (never followed)") from exc
            raise
        with os.fdopen(descriptor, "rb") as handle:
            info = os.fstat(handle.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise UnreadableFile("not a regular file")
            if info.st_size > MAX_DOCUMENT_BYTES:
                raise UnreadableFile(
                    f"{info.st_size} bytes, over the {MAX_DOCUMENT_BYTES}-byte limit"
                )
            data = handle.read(MAX_DOCUMENT_BYTES + 1)
        if len(data) > MAX_DOCUMENT_BYTES:  # grew after the check
            raise UnreadableFile(f"over the {MAX_DOCUMENT_BYTES}-byte limit")
        return data

    def move_to_sent(self, path: Path) -> Path:
        return _move(path, self.sent)

    def move_to_failed(self, path: Path, error: str) -> Path:
        target = _move(path, self.failed)
        write_atomically(target.with_name(target.name + ".error.txt"), error.encode("utf-8"))
        return target

    @property
    def handled_folder(self) -> Path:
        """`.handled/`: what this node answered, shared by every process of the node."""
        return self.root / ".handled"

    def delivery_path(self, sender: str, reference: str, message_id: str, extension: str) -> Path:
        """Where a received document goes: `inbox/<sender>.<reference>.<id>.<ext>`."""
        return self.inbox / f"{sender}.{_UNSAFE.sub('_', reference)[:80]}.{message_id}.{extension}"

    # -- the node's shared record of what it handled (see docs/signing.md, 10.8)
    def record_handled(
        self,
        sender: str,
        message_id: str,
        body: dict[str, object],
        reference: str | None,
        delivery: tuple[Path, bytes] | None = None,
    ) -> None:
        """Remember an answered message (and the reference its original owns) on this disk,
        where every process of the node, on any partition, finds it.

        With `delivery` (target, document), the document is delivered in the same step: every
        file is written and fsynced under a temporary name first, then the renames follow one
        another, so a crash cannot fall between the delivery and its record (only between two
        renames, microseconds apart, instead of a write and an fsync).
        """
        self.handled_folder.mkdir(mode=0o700, exist_ok=True)
        staged = []
        if delivery is not None:
            staged.append(_staged(*delivery))
        staged.append(_staged(self._handled(sender, message_id), json.dumps(body).encode()))
        if reference is not None:
            staged.append(_staged(self._reference(sender, reference), message_id.encode()))
        for temporary, target in staged:
            temporary.replace(target)

    def handled(self, sender: str, message_id: str) -> dict[str, Any] | None:
        try:
            data = self._handled(sender, message_id).read_bytes()
        except FileNotFoundError:
            return None
        found = json.loads(data)
        return found if isinstance(found, dict) else None

    def original_of(self, sender: str, reference: str) -> str | None:
        try:
            return self._reference(sender, reference).read_text("ascii")
        except FileNotFoundError:
            return None

    def record_dead_lettered(self, coordinates: list[str]) -> None:
        """Records answered with a dead letter (`topic/partition/offset`), for every process."""
        self.handled_folder.mkdir(mode=0o700, exist_ok=True)
        for where in coordinates:
            write_atomically(self._dead_lettered(where), b"")

    def was_dead_lettered(self, coordinates: str) -> bool:
        return self._dead_lettered(coordinates).exists()

    def _dead_lettered(self, coordinates: str) -> Path:
        return self.handled_folder / f"dlq.{_UNSAFE.sub('_', coordinates)}"

    def purge_handled(self, older_than_s: float, now: float | None = None) -> int:
        """Forget records older than the replay window (a message that old is `too-old`)."""
        if not self.handled_folder.is_dir():
            return 0
        cutoff = (time.time() if now is None else now) - older_than_s
        purged = 0
        for path in self.handled_folder.iterdir():
            if path.lstat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                purged += 1
        return purged

    def _handled(self, sender: str, message_id: str) -> Path:
        return self.handled_folder / f"{_UNSAFE.sub('_', sender)}.{_UNSAFE.sub('_', message_id)}"

    def _reference(self, sender: str, reference: str) -> Path:
        digest = hashlib.sha256(reference.encode("utf-8")).hexdigest()[:40]
        return self.handled_folder / f"{_UNSAFE.sub('_', sender)}.ref.{digest}"

    def deliver_receipt(self, partner: str, message_id: str, extension: str, data: bytes) -> Path:
        """A partner's receipt for declaration `message_id`: `<partner>.<id>.receipt.<ext>`."""
        target = self.receipts / f"{_UNSAFE.sub('_', partner)}.{message_id}.receipt.{extension}"
        write_atomically(target, data)
        return target


def _move(path: Path, folder: Path) -> Path:
    target = folder / path.name
    if os.path.lexists(target):  # never overwrite an earlier document of the same name
        target = folder / f"{path.stem}.{time.time_ns()}{path.suffix}"
    path.rename(target)
    return target


def write_atomically(target: Path, data: bytes) -> None:
    """Owner-only, fsynced, renamed into place; a stale temporary of a crash is replaced."""
    temporary, _ = _staged(target, data)
    temporary.replace(target)


def _staged(target: Path, data: bytes) -> tuple[Path, Path]:
    """`data` written owner-only and fsynced under a temporary name beside `target`."""
    temporary = target.with_name(f".{target.name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    with os.fdopen(os.open(temporary, flags, 0o600), "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return temporary, target
