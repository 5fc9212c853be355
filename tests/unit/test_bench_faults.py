"""Pieces of `bench faults` that need no Kafka: counting deliveries, the verdict, the table."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from broker.bench.fault_rig import DeliveryWatch
from broker.bench.faults import holds, render
from broker.node.gateway import write_atomically


def test_a_second_delivery_of_a_message_counts_even_when_it_overwrites_the_first(
    tmp_path: Path,
) -> None:
    watch = DeliveryWatch(tmp_path)
    try:
        write_atomically(tmp_path / "CQ-1.7f0c.json", b"first")
        write_atomically(tmp_path / "CQ-2.81aa.json", b"other")
        write_atomically(tmp_path / "CQ-1.7f0c.json", b"again")  # same name: overwritten
        (tmp_path / ".CQ-3.9b9b.json.tmp").write_bytes(b"in progress")  # not a delivery
        deadline = time.monotonic() + 5
        while sum(watch.counts.values()) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        watch.close()
    assert dict(watch.counts) == {"7f0c": 2, "81aa": 1}
    assert watch.delivered() == 2


def row(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "submitted": 3,
        "delivered_once": 3,
        "duplicates": 0,
        "lost": 0,
        "dead_lettered": 0,
        "dead_letter_codes": {},
        "receipts_right": 3,
        "receipts_right_after_stop": 3,
        "duplicate_receipts": 0,
        "recovered": True,
        "recover_s": 1.5,
        "sigterm_s": 0.5,
        "note": "",
    }
    return base | changes


def test_any_broken_invariant_fails_the_scenario() -> None:
    assert holds(row())
    for broken in (
        {"lost": 1, "delivered_once": 2},
        {"duplicates": 1},
        {"dead_lettered": 1},
        {"receipts_right": 2},
        {"recovered": False, "recover_s": None},
    ):
        assert not holds(row(**broken)), broken


def test_the_table_has_a_line_per_scenario_and_a_verdict() -> None:
    result = {
        "scenarios": {
            "receiver-sigkill": row() | {"holds": True},
            "rebalance": row(duplicates=2, delivered_once=1, note="third joined")
            | {"holds": False, "dead_letter_codes": {"LA-VTE:replay": 1}},
            "state-disk-full": {"skipped": "needs root"},
        },
        "all_hold": False,
        "lost": 0,
        "duplicates": 2,
        "dead_lettered": 0,
        "declarations_per_scenario": 3,
    }
    lines = render(result).splitlines()
    assert lines[0].split()[:4] == ["scenario", "submitted", "delivered_once", "duplicates"]
    assert lines[1].split()[0] == "receiver-sigkill"
    assert lines[1].split()[-1] == "True"
    assert "skipped" in lines[3]
    assert lines[4].startswith("INVARIANTS BROKEN: lost 0, duplicates 2")
    assert "rebalance: dead letters {'LA-VTE:replay': 1}" in lines
