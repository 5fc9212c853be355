"""What `GatewayFolders.commit` leaves on disk: every file in place, owner-only, no temporaries,
the reference a second name of its original's record, nothing of a failed batch."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from broker.node.gateway import GatewayFolders, HandledRecord


def _record(folders: GatewayFolders, n: int, reference: str | None) -> HandledRecord:
    return HandledRecord(
        "CN-CQ",
        f"id-{n}",
        {"digest": f"{n:064x}", "outcome": "delivered"},
        reference,
        (folders.inbox / f"CN-CQ.doc-{n}.xml", f"<doc n='{n}'/>".encode()),
    )


def test_a_batch_is_written_in_full_owner_only_with_no_temporaries(tmp_path: Path) -> None:
    folders = GatewayFolders(tmp_path)
    folders.create()
    records = [_record(folders, n, f"REF-{n}") for n in range(300)]  # more than open at once
    receipts = [(folders.receipts / f"LA-VTE.r-{n}.receipt.xml", b"<r/>") for n in range(5)]
    assert folders.commit(records, receipts) == set()
    for n in range(300):
        assert (folders.inbox / f"CN-CQ.doc-{n}.xml").read_bytes() == f"<doc n='{n}'/>".encode()
        handled = folders.handled("CN-CQ", f"id-{n}")
        assert handled is not None
        assert handled["digest"] == f"{n:064x}"
        assert folders.original_of("CN-CQ", f"REF-{n}") == f"id-{n}"
    assert all(path.read_bytes() == b"<r/>" for path, _ in receipts)
    every = [p for folder in (folders.inbox, folders.receipts, folders.handled_folder)
             for p in folder.iterdir()]  # fmt: skip
    assert not [p for p in every if p.name.endswith(".tmp")]
    assert {stat.S_IMODE(p.stat().st_mode) for p in every} == {0o600}


def test_the_reference_is_a_second_name_of_the_originals_record(tmp_path: Path) -> None:
    folders = GatewayFolders(tmp_path)
    folders.create()
    folders.commit([_record(folders, 1, "REF-1"), _record(folders, 2, None)])
    reference = next(p for p in folders.handled_folder.iterdir() if ".ref." in p.name)
    record = folders.handled_folder / "CN-CQ.id-1"
    assert os.path.samefile(reference, record)
    assert record.stat().st_nlink == 2
    assert folders.original_of("CN-CQ", "REF-2") is None
    # A later original of the same reference takes it over, as a write would.
    folders.commit([_record(folders, 3, "REF-1")])
    assert folders.original_of("CN-CQ", "REF-1") == "id-3"
    assert (folders.handled_folder / "CN-CQ.id-1").stat().st_nlink == 1


def test_a_reference_file_of_an_earlier_version_holding_the_id_is_read(tmp_path: Path) -> None:
    folders = GatewayFolders(tmp_path)
    folders.create()
    folders.commit([_record(folders, 1, "REF-1")])
    reference = next(p for p in folders.handled_folder.iterdir() if ".ref." in p.name)
    reference.unlink()
    reference.write_bytes(b"id-0")
    assert folders.original_of("CN-CQ", "REF-1") == "id-0"


def test_a_failed_fsync_leaves_nothing_of_the_batch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folders = GatewayFolders(tmp_path)
    folders.create()
    calls = 0
    real_fsync = os.fsync

    def failing_fsync(descriptor: int) -> None:
        nonlocal calls
        calls += 1
        if calls == 7:
            raise OSError(28, "No space left on device")
        real_fsync(descriptor)

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        folders.commit([_record(folders, n, f"REF-{n}") for n in range(10)])
    assert not list(folders.inbox.iterdir())
    assert not list(folders.handled_folder.iterdir())
