"""`customs-broker kafka up|down|status`: the local Apache Kafka for development and tests."""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from pathlib import Path
from typing import Any

from broker.devkafka.config import KAFKA_VERSION, ClusterSpec
from broker.devkafka.launcher import LocalKafka, cluster_answers
from broker.errors import LauncherError


def default_state_dir(port: int) -> Path:
    """One folder per base port, so clusters on different ports never share state."""
    xdg = os.environ.get("XDG_STATE_HOME")
    root = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return root / "customs-broker" / f"kafka-{port}"


def register(sub: Any) -> None:
    kafka = sub.add_parser("kafka", help="run a local Apache Kafka (KRaft) from Maven Central jars")
    actions = kafka.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, handler, text in (
        ("up", _up, "download Kafka once, format storage (or reuse kept data), start, wait"),
        ("down", _down, "stop the nodes this launcher started; their data stays unless --purge"),
        ("status", _status, "show the nodes, their PIDs and whether the cluster answers"),
        ("smoke", _smoke, "produce one record with acks=all and read it back"),
        ("stop-node", _stop_node, "stop one node cleanly (SIGTERM); its data stays"),
        ("kill-node", _kill_node, "SIGKILL one node (fault drills): no clean shutdown"),
        ("start-node", _start_node, "start one stopped node again and wait until it answers"),
    ):
        parser = actions.add_parser(name, help=text)
        parser.add_argument("--port", type=int, default=9092, help="client port of node 1")
        parser.add_argument("--state-dir", type=Path, help="default: ~/.local/state/...")
        parser.set_defaults(handler=handler)
        if name.endswith("-node"):
            parser.add_argument("node", type=int, help="node id (1-based)")
        if name == "down":
            parser.add_argument(
                "--purge", action="store_true", help="also delete the data and the state folder"
            )
        if name == "up":
            parser.add_argument("--nodes", type=int, choices=(1, 3), default=1)
            parser.add_argument("--sasl", action="store_true", help="SASL/SCRAM + ACLs")
            parser.add_argument("--heap-mb", type=int, default=512)
            parser.add_argument(
                "--override",
                action="append",
                default=[],
                metavar="KEY=VALUE",
                help="extra broker property (repeatable)",
            )


def _spec(args: argparse.Namespace, **extra: Any) -> ClusterSpec:
    state_dir = args.state_dir or default_state_dir(args.port)
    return ClusterSpec(state_dir=state_dir, port=args.port, **extra)


def _overrides(pairs: list[str]) -> dict[str, str]:
    bad = [p for p in pairs if "=" not in p or p.startswith("=")]
    if bad:
        raise LauncherError(f"--override wants KEY=VALUE, got {', '.join(bad)}")
    return dict(p.split("=", 1) for p in pairs)


def _up(args: argparse.Namespace) -> int:
    spec = _spec(
        args,
        nodes=args.nodes,
        sasl=args.sasl,
        heap_mb=args.heap_mb,
        overrides=_overrides(args.override),
    )
    began = time.monotonic()
    state, started = LocalKafka(spec).up()
    verb = f"started in {time.monotonic() - began:.1f}s" if started else "already running"
    print(f"Apache Kafka {state.kafka_version}: {len(state.nodes)} node(s) {verb}")
    print(
        f"bootstrap servers: {state.bootstrap_servers}" + ("  (SASL/SCRAM)" if state.sasl else "")
    )
    print(f"logs: {spec.state_dir}/node-*/server.log")
    return 0


def _down(args: argparse.Namespace) -> int:
    kafka = LocalKafka(_spec(args))
    stopped = kafka.down(purge=args.purge)
    print("stopped" if stopped else "not running")
    if args.purge:
        print(f"removed {kafka.spec.state_dir}")
    elif kafka.state() is not None:
        print(f"data kept in {kafka.spec.state_dir} (`kafka up` starts it again; --purge deletes)")
    return 0


def _stop_node(args: argparse.Namespace) -> int:
    LocalKafka(_spec(args)).stop_node(args.node)
    print(f"node {args.node} stopped (data kept)")
    return 0


def _kill_node(args: argparse.Namespace) -> int:
    LocalKafka(_spec(args)).kill_node(args.node)
    print(f"node {args.node} killed")
    return 0


def _start_node(args: argparse.Namespace) -> int:
    began = time.monotonic()
    LocalKafka(_spec(args)).start_node(args.node)
    print(f"node {args.node} started in {time.monotonic() - began:.1f}s")
    return 0


def _smoke(args: argparse.Namespace) -> int:
    from broker.devkafka.smoke import round_trip

    kafka = LocalKafka(_spec(args))
    state = kafka.state()
    bootstrap = state.bootstrap_servers if state else f"127.0.0.1:{args.port}"
    payload = "重庆 → ວຽງຈັນ → กรุงเทพฯ: smoke test".encode()
    result = asyncio.run(round_trip(bootstrap, payload))
    print(
        f"round trip through {bootstrap}: topic {result.topic} partition {result.partition} "
        f"offset {result.offset}, {result.round_trip_ms:.1f} ms, payload intact"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    kafka = LocalKafka(_spec(args))
    state = kafka.state()
    if state is None:
        print(f"not running (no state in {kafka.spec.state_dir}); Kafka {KAFKA_VERSION}")
        return 3
    alive = {n.node_id for n in kafka.running_nodes()}
    if not alive:
        print(f"stopped; data kept in {kafka.spec.state_dir} (`kafka up` starts it again)")
        return 3
    probe_spec = ClusterSpec(
        state_dir=kafka.spec.state_dir,
        port=state.nodes[0].client_port,
        nodes=len(state.nodes),
        sasl=state.sasl,
    )
    answers = cluster_answers(probe_spec, sorted(alive))
    print(f"Apache Kafka {state.kafka_version}, cluster {state.cluster_id}")
    for node in state.nodes:
        mark = "running" if node.node_id in alive else "DEAD"
        print(f"  node {node.node_id}: pid {node.pid}, 127.0.0.1:{node.client_port}, {mark}")
    print(f"metadata request: {'answered' if answers else 'NO ANSWER'}")
    if answers and len(alive) < len(state.nodes):
        print("some nodes are down: `kafka start-node N` (or `kafka up`) starts them again")
    return 0 if answers and len(alive) == len(state.nodes) else 1
