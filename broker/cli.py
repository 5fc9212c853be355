"""`customs-broker` command line: one thin front end over the library.

Each command group lives beside the code it drives and exposes `register(subparsers)`; this
module only assembles them (an explicit list, no import side effects) and turns `BrokerError`
into a clear message and exit status 2 instead of a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from broker import __version__
from broker.errors import BrokerError
from broker.logs import configure_logging

# Modules whose `register(subparsers)` adds a command group. Keep one per line.
COMMAND_MODULES: tuple[str, ...] = (
    "broker.devkafka.cli",
    "broker.bench.cli",
    "broker.node.cli",
    "broker.demo.cli",
    "broker.signing.cli",
    "broker.formats.cli",
    "broker.directory.cli",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="customs-broker",
        description="Exchange customs declarations along the ILSTC corridor over Apache Kafka.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging()  # JSON lines when stderr is not a terminal
    # aiokafka narrates every rebalance and metadata change at INFO: keep its warnings only.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    try:
        status = args.handler(args)
    except BrokerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(status or 0)
