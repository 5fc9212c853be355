"""`customs-broker demo`: the corridor on a local Kafka (started or reused), in one command."""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from typing import Any

from rich.console import Console

from broker.devkafka.cli import default_state_dir
from broker.devkafka.config import ClusterSpec
from broker.devkafka.launcher import LocalKafka
from broker.logs import configure_logging
from broker.transport.settings import KafkaSettings


def register(sub: Any) -> None:
    demo = sub.add_parser("demo", help="the whole corridor meeting, a node each, realistic traffic")
    demo.add_argument("--rate", type=float, default=20.0, help="declarations per second")
    demo.add_argument("--duration", type=float, default=10.0, help="seconds of traffic")
    demo.add_argument("--lines", type=int, default=5, help="goods lines per declaration")
    demo.add_argument("--keep-running", action="store_true", help="serve until SIGINT/SIGTERM")
    demo.add_argument("--port", type=int, default=9092, help="local Kafka client port")
    demo.add_argument("--bootstrap-servers", help="use this Kafka instead of a local one")
    demo.add_argument("--work-dir", type=Path, help="keys and node state (default: state dir)")
    demo.add_argument("--directory", type=Path, help="corridor directory (deploy/corridor.toml)")
    demo.add_argument("--no-metrics", action="store_true", help="do not serve /metrics")
    demo.add_argument(
        "--metrics-base-port",
        type=int,
        help="serve node i's /metrics on this port + i (default: each config's metrics_port)",
    )
    demo.set_defaults(handler=_demo)


def _demo(args: argparse.Namespace) -> int:
    from broker.demo.runner import CorridorDemo, DemoOptions
    from broker.demo.setup import local_admin

    console = Console()
    bootstrap = args.bootstrap_servers
    if bootstrap is None:
        # SASL/SCRAM with deny-by-default ACLs: every node logs in as its own user. A cluster
        # of its own state folder: a PLAINTEXT one of an earlier demo is stopped first.
        plain = LocalKafka(ClusterSpec(state_dir=default_state_dir(args.port), port=args.port))
        if plain.running_nodes():
            console.print("stopping the earlier PLAINTEXT demo Kafka (the demo now uses SASL)")
            plain.down()
        state_dir = default_state_dir(args.port).with_name(f"kafka-{args.port}-sasl")
        spec = ClusterSpec(state_dir=state_dir, port=args.port, sasl=True)
        state, started = LocalKafka(spec).up()
        verb = "started" if started else "reused"
        console.print(
            f"Apache Kafka {state.kafka_version} {verb} at {state.bootstrap_servers} "
            "(SASL/SCRAM, ACLs deny by default)"
        )
        bootstrap = state.bootstrap_servers
        admin = local_admin(spec)
    else:
        admin = KafkaSettings(bootstrap_servers=bootstrap)
    xdg = os.environ.get("XDG_STATE_HOME")
    work = args.work_dir or (Path(xdg) if xdg else Path.home() / ".local" / "state") / (
        "customs-broker/demo"
    )
    work.mkdir(parents=True, exist_ok=True)
    # The nodes' own log lines go to a file; the terminal shows progress and the summary.
    configure_logging(open(work / "demo.log", "a", encoding="utf-8"), json_lines=True)  # noqa: SIM115 - open for the whole run
    console.print(f"node logs: {work / 'demo.log'}")
    options = DemoOptions(
        work_dir=work,
        kafka=admin,
        directory=args.directory,
        rate=args.rate,
        duration=args.duration,
        lines=args.lines,
        keep_running=args.keep_running,
        metrics=not args.no_metrics,
        metrics_base_port=args.metrics_base_port,
    )
    return asyncio.run(CorridorDemo(options, console).run())
