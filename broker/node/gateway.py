"""Gateway folders: how a national system that speaks files talks to its node.

    outbox/   the national system drops declarations here (write elsewhere, then rename in)
    sent/     moved here only after Kafka acknowledged the declaration for every recipient
    failed/   moved here with `<name>.error.txt` when the document itself is wrong
    inbox/    declarations received from partners, rendered in the national format

A file is picked up only when complete: names starting with `.` or ending in `.tmp`/`.part` are
in progress, and a file modified less than `settle_s` ago may still be growing. Every write into
`inbox/` is atomic (temporary name, fsync, rename), so the national system never reads half a
file either.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

_IN_PROGRESS = re.compile(r"^\.|\.(tmp|part)$")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
MAX_DOCUMENT_BYTES = 10 * 1024 * 1024


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

    def create(self) -> None:
        for folder in (self.outbox, self.sent, self.failed, self.inbox):
            folder.mkdir(parents=True, exist_ok=True)

    def ready_files(self, settle_s: float, now: float | None = None) -> Iterator[Path]:
        """Complete documents in the outbox, oldest first."""
        moment = time.time() if now is None else now
        candidates = []
        for path in self.outbox.iterdir():
            if _IN_PROGRESS.search(path.name) or not path.is_file():
                continue
            stat = path.stat()
            if moment - stat.st_mtime >= settle_s:
                candidates.append((stat.st_mtime, path.name, path))
        yield from (path for _, _, path in sorted(candidates))

    def move_to_sent(self, path: Path) -> Path:
        return _move(path, self.sent)

    def move_to_failed(self, path: Path, error: str) -> Path:
        target = _move(path, self.failed)
        write_atomically(target.with_name(target.name + ".error.txt"), error.encode("utf-8"))
        return target

    def deliver(self, reference: str, message_id: str, extension: str, data: bytes) -> Path:
        """Write a received document into inbox/ atomically; same message, same file name."""
        name = f"{_UNSAFE.sub('_', reference)[:80]}.{message_id}.{extension}"
        target = self.inbox / name
        write_atomically(target, data)
        return target


def _move(path: Path, folder: Path) -> Path:
    target = folder / path.name
    if target.exists():  # never overwrite an earlier document of the same name
        target = folder / f"{path.stem}.{time.time_ns()}{path.suffix}"
    path.rename(target)
    return target


def write_atomically(target: Path, data: bytes) -> None:
    temporary = target.with_name(f".{target.name}.tmp")
    with temporary.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(target)
