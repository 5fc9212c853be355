"""End to end: a sending node here, a receiving node process, the local Kafka between them.

Measures in one run on one machine:
- the full pipeline (parse national file .. receipt back), declarations/s, with the CPU time of
  each stage measured on the same documents;
- the same with N receiving processes of the receiving node (`--receivers 1,2`: one consumer
  group on an inbox of enough partitions), and the CPU each side spent per declaration, from which
  `projected_per_s_<C>_cores` says what C cores would carry if the nodes' CPU were the limit;
- the corridor transport path (envelope + sign + produce + consume + verify on pre-encoded Avro)
  beside raw aiokafka produce -> consume of the same bytes, unsigned, in alternating rounds:
  median and spread per side, `ratio` of the medians; the same path batch-signed (envelope v3,
  what the nodes write to each other) beside them, `ratio_batch`;
- end-to-end latency at a fixed offered load (`--rate`), from submit to the file in the
  receiver's gateway inbox;
- `decode_ratio` / `encode_ratio` of the codec bench, in the same run.

Every wait is bounded (`--timeout`) and a bound that runs out says what it waited for.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from broker.bench import codec as codec_bench
from broker.bench.e2e_stages import stage_cpu_us
from broker.bench.e2e_transport import (
    TRANSPORT_BATCH,
    RoundResult,
    alternating_rounds,
    batch_summary,
    raw_side,
    transport_batch_side,
    transport_side,
)
from broker.bench.rounds import BenchTimeout, ratio_of_medians, summarize, within
from broker.clock import SystemClock
from broker.demo.setup import ensure_demo_pki, prepare_corridor
from broker.demo.traffic import rail_transit
from broker.directory.load import write_small_corridor
from broker.errors import ConfigError
from broker.node.assemble import build_parts
from broker.node.config import NodeConfig, load_node_config
from broker.node.ledger import DeliveryStatus
from broker.node.runtime import CorridorNode
from broker.node.topics import CorridorTopics
from broker.transport.base import TopicSpec
from broker.transport.settings import KafkaSettings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--bootstrap-servers", help="default: start or reuse the local Kafka")
    parser.add_argument("--count", type=int, default=2000, help="declarations, full pipeline")
    parser.add_argument("--transport-count", type=int, default=5000, help="records, path vs raw")
    parser.add_argument("--rate", type=float, default=200.0, help="offered load for latency")
    parser.add_argument("--latency-seconds", type=float, default=10.0)
    parser.add_argument("--lines", type=int, default=5, help="goods lines per declaration")
    parser.add_argument(
        "--receivers",
        type=_receiver_counts,
        default=(1,),
        help="receiving processes, or a list measured in turn: 1,2 (default 1)",
    )
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds per side")
    parser.add_argument(
        "--round-seconds", type=float, default=2.0, help="least duration of one transport round"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="bound of any one wait, seconds"
    )
    parser.add_argument(
        "--no-codec", action="store_true", help="skip the codec bench (decode_ratio)"
    )


def _receiver_counts(text: str) -> tuple[int, ...]:
    try:
        counts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of process counts: {text!r}") from None
    if not counts or min(counts) < 1:
        raise argparse.ArgumentTypeError("process counts must be positive")
    return counts


def _config(root: Path, node_id: str, fmt: str, bootstrap: str, ns: str, partitions: int) -> Path:
    path = root / f"{node_id}.toml"
    write_small_corridor(
        root / f"corridor-{ns}.toml",
        {"CN-CQ": "cn-swxml", "LA-VTE": "acdd-xml"},
        ns,
        partitions,
    )
    path.write_text(
        f'node_id = "{node_id}"\nformat = "{fmt}"\nstate_dir = "state/{node_id}"\n'
        f'gateway_dir = "gateway/{node_id}"\nreceipt_timeout_s = 300\n'
        f'[kafka]\nbootstrap_servers = "{bootstrap}"\n'
        f'[identity]\nnode_dir = "pki/nodes/{node_id}"\ntrust_list = "pki/trust-list.pem"\n'
        f'passphrase_file = "pki/passphrase.txt"\n'
        f'[directory]\nfile = "corridor-{ns}.toml"\nnamespace = "{ns}"\n',
        encoding="utf-8",
    )
    return path


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))] if ordered else 0.0


def process_cpu_seconds(pid: int) -> tuple[float, float]:
    """User and kernel CPU of a live process, every thread (Linux /proc); zeros once it is
    gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def this_process_kernel_seconds() -> float:
    return os.times().system


def projection(cpu_us_per_declaration: float, cores: int) -> float:
    """Declarations/s `cores` would carry if the nodes' CPU were all that limited them."""
    return cores * 1e6 / cpu_us_per_declaration if cpu_us_per_declaration > 0 else 0.0


class ReceiverProcess:
    """One `node run` process of the receiving node, its output in a file (never a full pipe)."""

    def __init__(self, config: Path, state_dir: Path, log: Path) -> None:
        self.log = log
        env = {**os.environ, "CUSTOMS_NODE_STATE_DIR": str(state_dir)}
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "broker", "node", "run", "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    async def started(self) -> None:
        while "consuming" not in self.log.read_text(encoding="utf-8", errors="replace"):
            if self.process.poll() is not None:
                raise RuntimeError(f"receiving node exited: {self.tail()}")
            await asyncio.sleep(0.1)

    def delivered_any(self) -> bool:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return '"message": "delivered"' in text or "] delivered" in text  # JSON or console log

    def tail(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-2000:]

    def cpu_seconds(self) -> tuple[float, float]:
        """User and kernel CPU."""
        return process_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=30)
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class Bench:
    def __init__(self, root: Path, bootstrap: str, lines: int, partitions: int, timeout: float):
        self.root = root
        self.bootstrap = bootstrap
        self.lines = lines
        self.timeout = timeout
        namespace = f"bench.{uuid.uuid4().hex[:8]}"
        self.sender_path = _config(root, "CN-CQ", "cn-swxml", bootstrap, namespace, partitions)
        self.receiver_path = _config(root, "LA-VTE", "acdd-xml", bootstrap, namespace, partitions)
        self.inbox = root / "gateway" / "LA-VTE" / "inbox"
        self.receivers: list[ReceiverProcess] = []
        self._started = 0

    def documents(self, sender: CorridorNode, count: int, tag: str) -> list[tuple[str, bytes]]:
        adapter = sender.parts.formats.get("cn-swxml")
        now = sender.parts.clock.now()
        out = []
        for i in range(count):
            declaration = rail_transit(f"CQB{tag}{i:06d}", now, self.lines).model_copy(
                update={"itinerary": ("CN", "LA"), "entry_place": "LAVTE"}
            )
            data = adapter.render(declaration).data
            # China's XML has no message id: the node derives it from the bytes, as here.
            out.append((str(adapter.parse(data).message_id), data))
        return out

    async def start_receivers(self, count: int) -> None:
        """`count` processes of the receiving node, one consumer group, each its own ledger."""
        for _ in range(count):
            self._started += 1
            n = self._started
            process = ReceiverProcess(
                self.receiver_path,
                self.root / "state" / f"LA-VTE-{n}",
                self.root / f"receiver-{n}.log",
            )
            self.receivers.append(process)
            try:
                await within(process.started(), self.timeout, f"receiving node process {n}")
            except BenchTimeout as exc:
                raise BenchTimeout(f"{exc}; its output: {process.tail()}") from None

    async def warm_up(self, sender: CorridorNode, count: int, tag: int) -> None:
        """Caches, connections, and the group settled: every process has delivered something,
        so no rebalance falls inside the timed run."""
        for attempt in range(10):
            await self.full_pipeline(sender, count, f"W{tag}-{attempt}")
            if all(process.delivered_any() for process in self.receivers):
                return
        idle = [p.log.name for p in self.receivers if not p.delivered_any()]
        raise BenchTimeout(f"receiving processes got no partitions after 10 warm-ups: {idle}")

    def receivers_cpu_seconds(self) -> tuple[float, float]:
        """User and kernel CPU of all receiving processes."""
        times = [process.cpu_seconds() for process in self.receivers]
        return sum(user for user, _ in times), sum(kernel for _, kernel in times)

    def stop_receivers(self) -> None:
        for process in self.receivers:
            process.stop()
        self.receivers = []

    async def full_pipeline(self, sender: CorridorNode, count: int, tag: str) -> Pipeline:
        docs = self.documents(sender, count, tag)
        inflight = asyncio.Semaphore(64)

        async def submit(data: bytes) -> None:
            async with inflight:
                await sender.submit(data)

        ledger = sender.parts.ledger

        def delivered() -> int:
            return ledger.counts_by_recipient().get(("LA-VTE", DeliveryStatus.DELIVERED), 0)

        async def acknowledged(target: int) -> None:
            while True:
                if delivered() >= target:
                    return
                await asyncio.sleep(0.05)

        target = delivered() + count
        cpu, kernel = time.process_time(), this_process_kernel_seconds()
        receivers_user, receivers_kernel = self.receivers_cpu_seconds()
        began = time.perf_counter()
        await within(
            asyncio.gather(*(submit(data) for _, data in docs)),
            self.timeout,
            f"{count} declarations submitted",
        )
        await within(
            acknowledged(target),
            self.timeout,
            f"receipts for {count} declarations ({target - delivered()} still missing)",
        )
        seconds = time.perf_counter() - began
        user, kernel_now = self.receivers_cpu_seconds()
        return Pipeline(
            count,
            seconds,
            time.process_time() - cpu,
            user - receivers_user + kernel_now - receivers_kernel,
            this_process_kernel_seconds() - kernel,
            kernel_now - receivers_kernel,
        )

    async def latency(self, sender: CorridorNode, rate: float, seconds: float) -> list[float]:
        docs = self.documents(sender, max(1, int(rate * seconds)), "L")
        submitted: dict[str, float] = {}
        began = time.time()
        for index, (message_id, data) in enumerate(docs):
            ahead = began + index / rate - time.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
            submitted[message_id] = time.time()
            await within(sender.submit(data), self.timeout, "one submit at the offered rate")
        deadline = time.time() + min(60.0, self.timeout)
        arrived: dict[str, float] = {}
        while len(arrived) < len(submitted) and time.time() < deadline:
            for path in self.inbox.glob("*.xml"):
                message_id = path.name.split(".")[-2]
                if message_id in submitted and message_id not in arrived:
                    # Renamed into the inbox (its ctime), after it was written and fsynced (its
                    # mtime): the moment the national system can read it.
                    arrived[message_id] = path.stat().st_ctime
            await asyncio.sleep(0.1)
        return [arrived[m] - submitted[m] for m in arrived]


@dataclass(frozen=True)
class Pipeline:
    """One full-pipeline run: wall clock, and CPU of the sender and of all receiving processes
    (user + kernel, every thread), and the kernel's part of each (mostly files created)."""

    declarations: int
    seconds: float
    sender_cpu_seconds: float
    receivers_cpu_seconds: float
    sender_kernel_seconds: float = 0.0
    receivers_kernel_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.declarations / self.seconds

    @property
    def cpu_us_per_declaration(self) -> float:
        cpu = self.sender_cpu_seconds + self.receivers_cpu_seconds
        return cpu * 1e6 / self.declarations


def transport_summary(results: Sequence[RoundResult]) -> dict[str, Any]:
    """Per side: median, low, high and spread of the rounds' rates, CPU here per record; the
    ratio of the medians (transport / raw), and the lowest and highest ratio of neighbouring
    rounds."""
    out: dict[str, Any] = {}
    rates: dict[str, list[float]] = {}
    for result in results:
        if result.side != TRANSPORT_BATCH:  # summarized by batch_summary
            rates.setdefault(result.side, []).append(result.rate)
    for side, values in rates.items():
        summary = summarize(values)
        prefix = "transport" if side == "transport" else "raw_aiokafka"
        out[f"{prefix}_throughput_per_s"] = round(summary.median, 1)
        out[f"{prefix}_low_per_s"] = round(summary.low, 1)
        out[f"{prefix}_high_per_s"] = round(summary.high, 1)
        out[f"{prefix}_spread"] = round(summary.spread, 3)
        out[f"{prefix}_rounds"] = summary.rounds
        cpu = [r.cpu_us_per_record for r in results if r.side == side]
        out[f"{prefix}_cpu_us_per_record"] = round(summarize(cpu).median, 1)
    out["ratio"] = round(ratio_of_medians(rates["transport"], rates["raw_aiokafka"]), 3)
    # Each round of one side beside the other side's round next to it: how far one pair strays.
    pairs = summarize(
        [t / r for t, r in zip(rates["transport"], rates["raw_aiokafka"], strict=True)]
    )
    out["ratio_low"] = round(pairs.low, 3)
    out["ratio_high"] = round(pairs.high, 3)
    return out


def codec_ratios() -> dict[str, float]:
    """The codec bench, with its own defaults, in this run."""
    parser = argparse.ArgumentParser()
    codec_bench.add_arguments(parser)
    result = codec_bench.run(parser.parse_args([]))
    return {key: round(float(result[key]), 3) for key in ("decode_ratio", "encode_ratio")}


async def _run(args: argparse.Namespace, bootstrap: str) -> dict[str, Any]:
    clock = SystemClock()
    result: dict[str, Any] = {}
    most = max(args.receivers)
    with tempfile.TemporaryDirectory(prefix="customs-bench-") as tmp:
        root = Path(tmp)
        ensure_demo_pki(root / "pki", clock)
        bench = Bench(root, bootstrap, args.lines, max(3, 2 * most), args.timeout)
        configs: list[NodeConfig] = [
            load_node_config(bench.sender_path),
            load_node_config(bench.receiver_path),
        ]
        sender = CorridorNode(build_parts(configs[0], clock=clock))
        await within(
            prepare_corridor(sender.parts.transport, configs, root / "pki", clock),
            args.timeout,
            "corridor topics and certificate announcements",
        )
        stages = stage_cpu_us(sender.parts, root, configs[1], bench.documents(sender, 200, "S"))
        await within(sender.start(), args.timeout, "the sending node to start")
        stop = asyncio.Event()
        loops = asyncio.create_task(sender.run(stop))
        runs: dict[int, Pipeline] = {}
        latencies: list[float] = []
        try:
            for n in args.receivers:
                await bench.start_receivers(n)
                await bench.warm_up(sender, min(200, args.count), n)
                runs[n] = await bench.full_pipeline(sender, args.count, f"F{n}")
                if n == args.receivers[-1]:
                    latencies = await bench.latency(sender, args.rate, args.latency_seconds)
                bench.stop_receivers()
        finally:
            stop.set()
            await within(loops, args.timeout, "the sending node's loops to stop")
            await within(sender.stop(), args.timeout, "the sending node to stop")
            sender.parts.ledger.close()
            bench.stop_receivers()
        best = max(runs, key=lambda n: runs[n].rate)
        result["throughput_per_s"] = round(runs[best].rate, 1)
        result["throughput_receivers"] = best
        for n, pipeline in runs.items():
            result[f"throughput_receivers_{n}_per_s"] = round(pipeline.rate, 1)
            result[f"cpu_us_per_declaration_receivers_{n}"] = round(
                pipeline.cpu_us_per_declaration, 1
            )
            result[f"cpu_us_sender_receivers_{n}"] = round(
                pipeline.sender_cpu_seconds * 1e6 / pipeline.declarations, 1
            )
            result[f"cpu_us_receiving_receivers_{n}"] = round(
                pipeline.receivers_cpu_seconds * 1e6 / pipeline.declarations, 1
            )
            result[f"cpu_us_sender_kernel_receivers_{n}"] = round(
                pipeline.sender_kernel_seconds * 1e6 / pipeline.declarations, 1
            )
            result[f"cpu_us_receiving_kernel_receivers_{n}"] = round(
                pipeline.receivers_kernel_seconds * 1e6 / pipeline.declarations, 1
            )
        per_declaration = runs[best].cpu_us_per_declaration
        for cores in (2, 4, 8, 16):
            result[f"projected_per_s_{cores}_cores"] = round(projection(per_declaration, cores), 1)

        topics = CorridorTopics(f"bench.{uuid.uuid4().hex[:8]}")
        settings = KafkaSettings(bootstrap_servers=bootstrap)
        admin = await within(sender.parts.transport.admin(), args.timeout, "a Kafka admin client")
        try:
            await within(
                admin.ensure_topics(
                    [TopicSpec(topics.inbox(n), 3, 1) for n in ("raw", "signed", "batch")]
                ),
                args.timeout,
                "the bench's three topics",
            )
        finally:
            await admin.close()
        payload = sender.parts.codec.encode_declaration(
            rail_transit("CQBT", clock.now(), args.lines)
        )
        sides = [
            raw_side(settings, topics.inbox("raw"), payload),
            transport_side(sender.parts, settings, topics.inbox("signed"), payload),
            transport_batch_side(sender.parts, settings, topics.inbox("batch"), payload),
        ]
        try:
            for side in sides:
                await side.start()
            rounds = await alternating_rounds(
                sides,
                rounds=args.rounds,
                count=args.transport_count,
                min_round_s=args.round_seconds,
                timeout_s=args.timeout,
            )
        finally:
            for side in sides:
                await side.stop()
    result.update(transport_summary(rounds))
    result.update(batch_summary(rounds))
    result["offered_rate_per_s"] = args.rate
    result["latency_samples"] = len(latencies)
    result["p50_ms"] = round(statistics.median(latencies) * 1000, 1) if latencies else None
    result["p99_ms"] = round(_percentile(latencies, 0.99) * 1000, 1) if latencies else None
    result.update({f"cpu_us_{name}": round(us, 1) for name, us in stages.items()})
    if not args.no_codec:
        result.update(codec_ratios())
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    # Other tests' and runs' key announcements are refused loudly; the numbers are what matter.
    logging.getLogger("broker").setLevel(logging.ERROR)
    for name in ("count", "transport_count", "rounds"):
        if getattr(args, name) < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be positive")
    bootstrap = args.bootstrap_servers
    if bootstrap is None:
        from broker.devkafka.cli import default_state_dir
        from broker.devkafka.config import ClusterSpec
        from broker.devkafka.launcher import LocalKafka

        state, _ = LocalKafka(ClusterSpec(state_dir=default_state_dir(9092))).up()
        bootstrap = state.bootstrap_servers
    return asyncio.run(_run(args, bootstrap))
