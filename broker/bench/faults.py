"""Fault matrix: nothing lost, nothing delivered twice, nothing legitimate dead-lettered.

Starts a local 3-broker Kafka (RF 3, min ISR 2, 512 MB heaps) and, per scenario, a fresh
two-node corridor of real `node run` processes (CN-CQ sends through its gateway outbox, LA-VTE
receives into its gateway inbox), injects one fault from outside mid-stream, waits until every
declaration is delivered and acknowledged (or a deadline passes) and counts from outside; see
`fault_rig`. `--short` is the CI version (fewer declarations, shorter outages).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker.bench.fault_rig import (
    RECEIVER,
    SENDER,
    Corridor,
    DeliveryWatch,
    NodeProcess,
    Rig,
    can_mount,
    disk_full,
    documents,
    read_only,
    small_disk,
)
from broker.errors import BrokerError


@dataclass(frozen=True)
class Size:
    declarations: int
    rate_per_s: float  # how fast the national system drops files into the outbox
    outage_s: float  # Kafka down
    local_fault_s: float  # inbox unwritable, disk full
    deadline_s: float  # for every declaration to be delivered once the fault ended
    receipts_wait_s: float  # then for every receipt to show in the sender's status


FULL = Size(300, rate_per_s=40, outage_s=30, local_fault_s=25, deadline_s=180, receipts_wait_s=60)
SHORT = Size(60, rate_per_s=30, outage_s=10, local_fault_s=8, deadline_s=60, receipts_wait_s=15)


@dataclass
class Run:
    """One scenario in progress: its corridor, what was dropped, what was seen."""

    rig: Rig
    corridor: Corridor
    watch: DeliveryWatch
    size: Size
    message_ids: set[str]
    receivers: list[NodeProcess]
    sender: NodeProcess
    fault_ended: float = 0.0
    note: str = ""

    def delivered(self) -> int:
        return self.watch.delivered()

    async def until(self, condition: Callable[[], bool], within_s: float) -> bool:
        deadline = time.monotonic() + within_s
        while not condition():
            if time.monotonic() > deadline:
                return False
            await asyncio.sleep(0.1)
        return True

    async def until_delivered(self, fraction: float) -> None:
        wanted = int(self.size.declarations * fraction)
        await self.until(lambda: self.delivered() >= wanted, 60)

    async def until_sent(self, fraction: float) -> None:
        wanted = int(self.size.declarations * fraction)
        await self.until(lambda: self.corridor.sent_count() >= wanted, 60)


Scenario = Callable[[Run], Awaitable[None]]


async def _sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


# ---------------------------------------------------------------------- the scenarios


async def no_fault(run: Run) -> None:
    """The control: the same traffic without a fault."""
    run.fault_ended = time.monotonic()


async def leader_sigkill(run: Run) -> None:
    """SIGKILL the broker leading most of the receiver's inbox partitions; restart it later."""
    await run.until_delivered(1 / 3)
    leader = await run.rig.leader_of_inbox(run.corridor)
    await asyncio.to_thread(run.rig.kafka.kill_node, leader)
    run.fault_ended = time.monotonic()  # the cluster goes on with two brokers
    run.note = f"killed broker {leader}"
    await run.until(lambda: run.delivered() >= run.size.declarations, run.size.deadline_s)
    await asyncio.to_thread(run.rig.kafka.start_node, leader)


async def receiver_sigkill(run: Run) -> None:
    await run.until_delivered(1 / 3)
    receiver = run.receivers[0]
    receiver.kill()
    await _sleep(2)
    await asyncio.to_thread(receiver.start)
    run.fault_ended = time.monotonic()


async def sender_sigkill(run: Run) -> None:
    """SIGKILL the sender while its outbox is being sent."""
    await run.until_sent(1 / 3)
    run.sender.kill()
    await _sleep(2)
    await asyncio.to_thread(run.sender.start)
    run.fault_ended = time.monotonic()


async def kafka_down(run: Run) -> None:
    """Every broker stops (data kept); meanwhile a receiver is stopped with SIGTERM and started
    again: it must stop in time and wait for Kafka instead of exiting."""
    await run.until_delivered(1 / 3)
    await asyncio.to_thread(run.rig.kafka.down)
    began = time.monotonic()
    receiver = run.receivers[0]
    stop_s = await asyncio.to_thread(receiver.terminate)
    await asyncio.to_thread(receiver.start, 0)  # Kafka is down: no "consuming" line yet
    await _sleep(max(0.0, run.size.outage_s - (time.monotonic() - began)))
    await asyncio.to_thread(run.rig.kafka.up, 180)
    run.fault_ended = time.monotonic()
    run.note = f"receiver SIGTERM during the outage took {stop_s:.1f}s"


async def rebalance(run: Run) -> None:
    """Two receiver processes; a third joins mid-stream, then the first is SIGKILLed."""
    await run.until_delivered(1 / 4)
    third = run.corridor.receiver(3)
    await asyncio.to_thread(third.start)
    await run.until_delivered(1 / 2)
    run.receivers[0].kill()
    run.fault_ended = time.monotonic()


async def inbox_unwritable(run: Run) -> None:
    await run.until_delivered(1 / 3)
    with read_only(run.corridor.gateway(RECEIVER) / "inbox"):
        await _sleep(run.size.local_fault_s)
    run.fault_ended = time.monotonic()


async def state_disk_full(run: Run) -> None:
    """The receiver's state folder (a small tmpfs) fills up; the inbox stays writable."""
    await run.until_delivered(1 / 3)
    with disk_full(run.receivers[0].state_dir):
        await _sleep(run.size.local_fault_s)
    run.fault_ended = time.monotonic()


# name -> (fault, receiver processes, traffic spread over at least this many seconds: a third
# receiver takes seconds to start, and the rebalance must happen mid-stream)
SCENARIOS: dict[str, tuple[Scenario, int, float]] = {
    "no-fault": (no_fault, 1, 0),
    "leader-sigkill": (leader_sigkill, 1, 0),
    "receiver-sigkill": (receiver_sigkill, 1, 0),
    "sender-sigkill": (sender_sigkill, 1, 0),
    "kafka-down": (kafka_down, 1, 0),
    "rebalance": (rebalance, 2, 15),
    "inbox-unwritable": (inbox_unwritable, 1, 0),
    "state-disk-full": (state_disk_full, 1, 0),
}
NEEDS_ROOT = {"state-disk-full"}  # mount -t tmpfs; the others fall back without root


# ---------------------------------------------------------------------- running one


async def _feed(run: Run, docs: list[tuple[str, bytes]], stream_s: float) -> None:
    """Drop the documents at the size's rate, spread over at least `stream_s`."""
    pause = max(1 / run.size.rate_per_s, stream_s / len(docs))
    for index, (message_id, data) in enumerate(docs):
        run.corridor.drop(f"decl-{index:04d}-{message_id}.json", data)
        await asyncio.sleep(pause)


async def run_scenario(rig: Rig, name: str, size: Size) -> dict[str, Any]:
    fault, receivers, stream_s = SCENARIOS[name]
    corridor = await rig.corridor(name)
    docs = documents(size.declarations, name.upper())
    ids = {mid for mid, _ in docs}
    disk = (
        small_disk(corridor.root / "state" / f"{RECEIVER}-1", 64)
        if name == "state-disk-full"
        else contextlib.nullcontext()
    )
    with disk:
        watch = DeliveryWatch(corridor.gateway(RECEIVER) / "inbox")
        run = Run(
            rig,
            corridor,
            watch,
            size,
            ids,
            receivers=[corridor.receiver(i) for i in range(1, receivers + 1)],
            sender=corridor.sender(),
        )
        began = time.monotonic()
        try:
            await asyncio.gather(
                *(asyncio.to_thread(p.start) for p in [*run.receivers, run.sender])
            )
            feeding = asyncio.create_task(_feed(run, docs, stream_s))
            await fault(run)
            await feeding
            if not run.fault_ended:
                run.fault_ended = time.monotonic()

            def acknowledged() -> bool:
                return corridor.sender_ledger_delivered(ids) >= size.declarations

            progress = asyncio.create_task(_report_progress(name, run))
            try:
                delivered = await run.until(
                    lambda: run.delivered() >= size.declarations, size.deadline_s
                )
                recovered = delivered and await run.until(acknowledged, size.receipts_wait_s)
            finally:
                progress.cancel()
            recover_s = time.monotonic() - run.fault_ended
            receipts_running = corridor.sender_ledger_delivered(ids)
            await asyncio.sleep(3)  # late duplicates show up here
            stop_s = await asyncio.to_thread(corridor.stop_all)
        finally:
            corridor.kill_all()
            watch.close()
    dead = await rig.dead_letters(corridor)
    receipts = await rig.receipts(corridor)
    seen = watch.counts
    return {
        "submitted": size.declarations,
        "delivered_once": sum(1 for mid in ids if seen.get(mid) == 1),
        "duplicates": sum(count - 1 for mid, count in seen.items() if mid in ids and count > 1),
        "lost": sum(1 for mid in ids if mid not in seen),
        "unexpected": sum(1 for mid in seen if mid not in ids),
        "dead_lettered": sum(dead.values()),
        "dead_letter_codes": dict(sorted(dead.items())),
        "receipts_right": receipts_running,  # while the nodes ran, as `status` shows
        "receipts_right_after_stop": corridor.sender_ledger_delivered(ids),
        "duplicate_receipts": sum(c - 1 for c in receipts.values() if c > 1),
        "sender_failed": _count(corridor.gateway(SENDER) / "failed"),
        "outbox_left": _count(corridor.gateway(SENDER) / "outbox"),
        "recovered": recovered,
        "recover_s": round(recover_s, 1) if recovered else None,
        "sigterm_s": round(stop_s, 1),
        "seconds": round(time.monotonic() - began, 1),
        "note": run.note,
    }


async def _report_progress(name: str, run: Run) -> None:
    """On stderr every 5 s while a scenario waits to recover (the table comes at the end)."""
    while True:
        await asyncio.sleep(5)
        receipts = run.corridor.sender_ledger_delivered(run.message_ids)
        print(
            f"[{name}] delivered {run.delivered()}/{run.size.declarations}, "
            f"receipts {receipts}, sent {run.corridor.sent_count()}",
            file=sys.stderr,
            flush=True,
        )


def _count(folder: Path) -> int:
    return sum(1 for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else 0


def holds(result: dict[str, Any]) -> bool:
    """The invariants of the issue for one scenario."""
    n = result["submitted"]
    return bool(
        result["recovered"]
        and result["lost"] == 0
        and result["duplicates"] == 0
        and result["dead_lettered"] == 0
        and result["receipts_right"] == n
        and result["delivered_once"] == n
    )


# ---------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--short", action="store_true", help="the CI version: smaller, quicker")
    parser.add_argument(
        "--only",
        help=f"comma-separated scenarios (default: all of {', '.join(SCENARIOS)})",
    )
    parser.add_argument("--declarations", type=int, help="per scenario (default 300, short 60)")
    parser.add_argument("--work-dir", type=Path, help="keep folders and logs here")


def run(args: argparse.Namespace) -> dict[str, Any]:
    size = SHORT if args.short else FULL
    if args.declarations:
        size = dataclasses.replace(size, declarations=args.declarations)
    names = args.only.split(",") if args.only else list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}")
    with contextlib.ExitStack() as stack:
        work = args.work_dir or Path(stack.enter_context(tempfile.TemporaryDirectory()))
        work.mkdir(parents=True, exist_ok=True)
        return asyncio.run(_matrix(Rig(work / "rig"), names, size))


async def _matrix(rig: Rig, names: list[str], size: Size) -> dict[str, Any]:
    results: dict[str, Any] = {}
    await asyncio.to_thread(rig.up)
    try:
        for name in names:
            if name in NEEDS_ROOT and not can_mount():
                results[name] = {"skipped": "needs root to mount a size-limited tmpfs"}
                continue
            try:
                results[name] = await run_scenario(rig, name, size)
            except (OSError, RuntimeError, subprocess.SubprocessError, BrokerError) as exc:
                results[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
                continue
            results[name]["holds"] = holds(results[name])
            if len(rig.kafka.running_nodes()) < 3:  # leave a whole cluster to the next one
                await asyncio.to_thread(rig.kafka.up, 180)
    finally:
        await asyncio.to_thread(rig.down)
    ran = [r for r in results.values() if "holds" in r]
    return {
        "scenarios": results,
        "declarations_per_scenario": size.declarations,
        "all_hold": len(ran) == len(results) and all(r["holds"] for r in ran),
        "lost": sum(r["lost"] for r in ran),
        "duplicates": sum(r["duplicates"] for r in ran),
        "dead_lettered": sum(r["dead_lettered"] for r in ran),
    }


COLUMNS = (
    ("scenario", 18),
    ("submitted", 9),
    ("delivered_once", 14),
    ("duplicates", 10),
    ("lost", 5),
    ("dead_lettered", 13),
    ("receipts_right", 14),
    ("receipts_right_after_stop", 25),
    ("duplicate_receipts", 18),
    ("recover_s", 9),
    ("sigterm_s", 9),
    ("holds", 5),
)


def render(result: dict[str, Any]) -> str:
    lines = ["  ".join(f"{name:>{width}}" for name, width in COLUMNS)]
    notes = []
    for scenario, row in result["scenarios"].items():
        if "holds" not in row:
            lines.append(f"{scenario:>18}  {row}")
            continue
        cells = [scenario] + [
            "-" if row[name] is None else str(row[name]) for name, _ in COLUMNS[1:]
        ]
        lines.append("  ".join(f"{c:>{w}}" for c, (_, w) in zip(cells, COLUMNS, strict=True)))
        if row["dead_letter_codes"]:
            notes.append(f"{scenario}: dead letters {row['dead_letter_codes']}")
        if row["note"]:
            notes.append(f"{scenario}: {row['note']}")
    verdict = "ALL HOLD" if result["all_hold"] else "INVARIANTS BROKEN"
    lines.append(
        f"{verdict}: lost {result['lost']}, duplicates {result['duplicates']}, "
        f"dead-lettered {result['dead_lettered']} "
        f"({result['declarations_per_scenario']} declarations per scenario)"
    )
    return "\n".join(lines + notes)
