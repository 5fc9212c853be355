"""End to end: a sending node here, a receiving node process, the local Kafka between them.

Measures in one run on one machine:
- the full pipeline (parse national file .. receipt back), declarations/s, with the CPU time of
  each stage measured on the same documents;
- the corridor transport path (envelope + sign + produce + consume + verify on pre-encoded Avro)
  beside raw aiokafka produce -> consume of the same bytes, unsigned: `ratio`;
- end-to-end latency at a fixed offered load (`--rate`), from submit to the file in the
  receiver's gateway inbox.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from broker.bench.e2e_stages import stage_cpu_us
from broker.bench.e2e_transport import raw_aiokafka_rate, transport_path_rate
from broker.clock import SystemClock
from broker.demo.setup import ensure_demo_pki, prepare_corridor
from broker.demo.traffic import rail_transit
from broker.directory.load import write_small_corridor
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


def _config(root: Path, node_id: str, fmt: str, partner: str, bootstrap: str, ns: str) -> Path:
    path = root / f"{node_id}.toml"
    write_small_corridor(
        root / f"corridor-{ns}.toml", {"CN-CQ": "cn-swxml", "LA-VTE": "acdd-xml"}, ns
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


class Bench:
    def __init__(self, root: Path, bootstrap: str, lines: int) -> None:
        self.root = root
        self.bootstrap = bootstrap
        self.lines = lines
        namespace = f"bench.{uuid.uuid4().hex[:8]}"
        self.sender_path = _config(root, "CN-CQ", "cn-swxml", "LA-VTE", bootstrap, namespace)
        self.receiver_path = _config(root, "LA-VTE", "acdd-xml", "CN-CQ", bootstrap, namespace)
        self.inbox = root / "gateway" / "LA-VTE" / "inbox"
        self.receiver: subprocess.Popen[str] | None = None

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

    def start_receiver(self) -> None:
        self.receiver = subprocess.Popen(
            [sys.executable, "-m", "broker", "node", "run", "--config", str(self.receiver_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.receiver.stdout is not None
        line = self.receiver.stdout.readline()
        if "consuming" not in line:
            raise RuntimeError(f"receiving node did not start: {line}")

    def stop_receiver(self) -> None:
        if self.receiver is not None:
            self.receiver.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.receiver.wait(timeout=30)
            if self.receiver.poll() is None:
                self.receiver.kill()
                self.receiver.wait()
            self.receiver = None

    async def full_pipeline(self, sender: CorridorNode, count: int) -> float:
        docs = self.documents(sender, count, "F")
        inflight = asyncio.Semaphore(64)

        async def submit(data: bytes) -> None:
            async with inflight:
                await sender.submit(data)

        ledger = sender.parts.ledger
        receipts_before = ledger.counts_by_recipient().get(("LA-VTE", DeliveryStatus.DELIVERED), 0)
        began = time.perf_counter()
        await asyncio.gather(*(submit(data) for _, data in docs))
        for _ in range(6000):  # every declaration acknowledged by a receipt (or 10 min)
            done = ledger.counts_by_recipient().get(("LA-VTE", DeliveryStatus.DELIVERED), 0)
            if done - receipts_before >= count:
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError("receipts did not all come back within 10 minutes")
        return count / (time.perf_counter() - began)

    async def latency(self, sender: CorridorNode, rate: float, seconds: float) -> list[float]:
        docs = self.documents(sender, max(1, int(rate * seconds)), "L")
        submitted: dict[str, float] = {}
        began = time.time()
        for index, (message_id, data) in enumerate(docs):
            ahead = began + index / rate - time.time()
            if ahead > 0:
                await asyncio.sleep(ahead)
            submitted[message_id] = time.time()
            await sender.submit(data)
        deadline = time.time() + 60
        arrived: dict[str, float] = {}
        while len(arrived) < len(submitted) and time.time() < deadline:
            for path in self.inbox.glob("*.xml"):
                message_id = path.name.split(".")[-2]
                if message_id in submitted and message_id not in arrived:
                    arrived[message_id] = path.stat().st_mtime
            await asyncio.sleep(0.1)
        return [arrived[m] - submitted[m] for m in arrived]


async def _run(args: argparse.Namespace, bootstrap: str) -> dict[str, Any]:
    clock = SystemClock()
    with tempfile.TemporaryDirectory(prefix="customs-bench-") as tmp:
        root = Path(tmp)
        ensure_demo_pki(root / "pki", clock)
        bench = Bench(root, bootstrap, args.lines)
        configs: list[NodeConfig] = [
            load_node_config(bench.sender_path),
            load_node_config(bench.receiver_path),
        ]
        sender = CorridorNode(build_parts(configs[0], clock=clock))
        await prepare_corridor(sender.parts.transport, configs, root / "pki", clock)
        stages = stage_cpu_us(sender.parts, root, configs[1], bench.documents(sender, 200, "S"))
        bench.start_receiver()
        await sender.start()
        stop = asyncio.Event()
        loops = asyncio.create_task(sender.run(stop))
        try:
            await bench.full_pipeline(sender, min(200, args.count))  # warm-up: JIT-free, but caches
            throughput = await bench.full_pipeline(sender, args.count)
            latencies = await bench.latency(sender, args.rate, args.latency_seconds)
        finally:
            stop.set()
            await loops
            await sender.stop()
            sender.parts.ledger.close()
            bench.stop_receiver()
        topics = CorridorTopics(f"bench.{uuid.uuid4().hex[:8]}")
        settings = KafkaSettings(bootstrap_servers=bootstrap)
        admin = await sender.parts.transport.admin()
        try:
            await admin.ensure_topics([TopicSpec(topics.inbox(n), 3, 1) for n in ("raw", "signed")])
        finally:
            await admin.close()
        payload = sender.parts.codec.encode_declaration(
            rail_transit("CQBT", clock.now(), args.lines)
        )
        raw = await raw_aiokafka_rate(settings, topics.inbox("raw"), payload, args.transport_count)
        path = await transport_path_rate(
            sender.parts, settings, topics.inbox("signed"), payload, args.transport_count
        )
    result: dict[str, Any] = {
        "throughput_per_s": round(throughput, 1),
        "transport_throughput_per_s": round(path, 1),
        "raw_aiokafka_throughput_per_s": round(raw, 1),
        "ratio": round(path / raw, 3),
        "offered_rate_per_s": args.rate,
        "latency_samples": len(latencies),
        "p50_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1) if latencies else None,
    }
    result.update({f"cpu_us_{name}": round(us, 1) for name, us in stages.items()})
    return result


def run(args: argparse.Namespace) -> dict[str, Any]:
    # Other tests' and runs' key announcements are refused loudly; the numbers are what matter.
    logging.getLogger("broker").setLevel(logging.ERROR)
    bootstrap = args.bootstrap_servers
    if bootstrap is None:
        from broker.devkafka.cli import default_state_dir
        from broker.devkafka.config import ClusterSpec
        from broker.devkafka.launcher import LocalKafka

        state, _ = LocalKafka(ClusterSpec(state_dir=default_state_dir(9092))).up()
        bootstrap = state.bootstrap_servers
    return asyncio.run(_run(args, bootstrap))
