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
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
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
    def commit(
        self, records: Sequence[HandledRecord], files: Sequence[tuple[Path, bytes]] = ()
    ) -> set[tuple[str, str]]:
        """Write what one batch handled, durably and in one step; returns the (sender, id) of
        records another process of the node wrote meanwhile (nothing of ours is written for
        them: the first answer stands).

        Every file (each delivery, its record, and `files` such as receipts in the national
        format) is written under a temporary name and all are fsynced together, in parallel (the
        file system commits them in one journal transaction instead of one per file); then the
        renames follow one another, each delivery before its record, the reference an original
        owns after it (a second name of the record's file: a link costs the file system far less
        than a new file), and the folders are fsynced. A crash before the renames leaves only
        temporaries; between two renames (microseconds apart) at worst a delivery without its
        record, which the record read again replaces with the same bytes.
        """
        self.handled_folder.mkdir(mode=0o700, exist_ok=True)
        plan: list[tuple[HandledRecord | None, list[tuple[Path, bytes]], Path | None]] = []
        seen: set[Path] = set()  # one target twice in a batch (two originals of a reference,
        for record in records:  # a receipt twice): the first stands, as in the ledger
            writes = [] if record.delivery is None else [record.delivery]
            body = {**record.body, "message_id": record.message_id}  # read through a reference
            writes.append(
                (self._handled(record.sender, record.message_id), json.dumps(body).encode())
            )
            reference = None
            if record.reference is not None:
                reference = self._reference(record.sender, record.reference)
            plan.append((record, writes, reference))
        plan += [(None, [each], None) for each in files]
        for index, (owner, writes, reference) in enumerate(plan):
            writes[:] = [write for write in writes if write[0] not in seen]
            seen.update(target for target, _ in writes)
            if reference is not None and (reference in seen or owner is None):
                plan[index] = (owner, writes, None)
            elif reference is not None:
                seen.add(reference)
        staged = iter(_staged_together([w for _, writes, _ in plan for w in writes]))
        taken: set[tuple[str, str]] = set()
        folders: set[Path] = set()
        for owner, writes, reference in plan:
            mine = [next(staged) for _ in writes]
            if owner is not None and self._handled(owner.sender, owner.message_id).exists():
                taken.add((owner.sender, owner.message_id))
                for temporary, _ in mine:
                    temporary.unlink(missing_ok=True)
                continue
            for temporary, target in mine:
                temporary.replace(target)
                folders.add(target.parent)
            if owner is not None and reference is not None:
                try:
                    _link(self._handled(owner.sender, owner.message_id), reference)
                except OSError:  # a file system without hard links: a file of its own
                    write_atomically(reference, owner.message_id.encode())
        for folder in folders:
            _fsync_folder(folder)
        return taken

    def handled(self, sender: str, message_id: str) -> dict[str, Any] | None:
        try:
            data = self._handled(sender, message_id).read_bytes()
        except FileNotFoundError:
            return None
        found = json.loads(data)
        return found if isinstance(found, dict) else None

    def original_of(self, sender: str, reference: str) -> str | None:
        """The message id of the original that owns `reference`: the reference is a second name
        of that original's record (a file of its own holding the id, as earlier versions wrote
        it, is read too)."""
        try:
            data = self._reference(sender, reference).read_bytes()
        except FileNotFoundError:
            return None
        if not data.startswith(b"{"):
            return data.decode("ascii")
        found = json.loads(data).get("message_id")
        return found if isinstance(found, str) else None

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

    def receipt_path(self, partner: str, message_id: str, extension: str) -> Path:
        """Where a partner's receipt for declaration `message_id` goes (written by `commit`):
        `receipts/<partner>.<id>.receipt.<ext>`."""
        return self.receipts / f"{_UNSAFE.sub('_', partner)}.{message_id}.receipt.{extension}"


@dataclass(frozen=True)
class HandledRecord:
    """What the node answered for (sender, message id), for every process of the node: the body
    (digest, outcome, receipt), the reference an original owns, and the delivery that goes with
    it (target, document)."""

    sender: str
    message_id: str
    body: dict[str, object]
    reference: str | None = None
    delivery: tuple[Path, bytes] | None = None


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


# fsyncs issued together are committed together by the file system (one journal commit): a
# batch of 200 deliveries costs a few commits instead of 600.
_SYNC_WORKERS = 16
_OPEN_AT_ONCE = 256
_sync_pool: ThreadPoolExecutor | None = None


def _staged_together(writes: Sequence[tuple[Path, bytes]]) -> list[tuple[Path, Path]]:
    """`_staged` for each of `writes`, in their order: written one after the other here (files
    created in one folder take its lock in turn anyway, and a thread per write costs more than
    the write), fsynced in parallel, `_OPEN_AT_ONCE` at a time (descriptors are bounded). If one
    fails, every temporary is removed and the first error is raised."""
    global _sync_pool
    if len(writes) <= 1:
        return [_staged(*each) for each in writes]
    if _sync_pool is None:
        _sync_pool = ThreadPoolExecutor(_SYNC_WORKERS, thread_name_prefix="gateway-sync")
    staged: list[tuple[Path, Path]] = []
    try:
        for start in range(0, len(writes), _OPEN_AT_ONCE):
            opened: list[tuple[int, Path, Path]] = []
            try:
                for target, data in writes[start : start + _OPEN_AT_ONCE]:
                    temporary, descriptor = _written(target, data)
                    opened.append((descriptor, temporary, target))
                    staged.append((temporary, target))
                synced = [_sync_pool.submit(os.fsync, each) for each, _, _ in opened]
                failures = [f.exception() for f in synced]  # every fsync done before a close
                failure = next((exc for exc in failures if exc is not None), None)
                if failure is not None:
                    raise failure
            finally:
                for descriptor, _, _ in opened:
                    os.close(descriptor)
    except BaseException:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise
    return staged


def _link(existing: Path, target: Path) -> None:
    """`target` a second name of `existing`, put in place by a rename (it replaces an older
    one, as a write would)."""
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.unlink(missing_ok=True)  # a stale one of a crash
    os.link(existing, temporary)
    temporary.replace(target)


def _fsync_folder(folder: Path) -> None:
    """The renames into `folder` on disk, not only in the cache."""
    descriptor = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _staged(target: Path, data: bytes) -> tuple[Path, Path]:
    """`data` written owner-only and fsynced under a temporary name beside `target`."""
    temporary, descriptor = _written(target, data)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    return temporary, target


def _written(target: Path, data: bytes) -> tuple[Path, int]:
    """`data` written owner-only under a temporary name beside `target`, not yet fsynced; the
    descriptor is still open (a failure closes it and removes the temporary)."""
    temporary = target.with_name(f".{target.name}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
    descriptor = os.open(temporary, flags, 0o600)
    try:
        os.fchmod(descriptor, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(descriptor, view) :]
    except OSError:
        os.close(descriptor)
        temporary.unlink(missing_ok=True)
        raise
    return temporary, descriptor
