"""`customs-broker bench NAME [--json]`.

A benchmark module exposes `add_arguments(parser)` and `run(args) -> dict[str, float | int | str]`;
the result is printed as an aligned table (or by the module's own `render(result) -> str`), or
with `--json` as exactly one JSON object.
"""

from __future__ import annotations

import argparse
import importlib
import json
from typing import Any

# name -> module; explicit so `bench --help` lists exactly what exists.
BENCHMARKS: dict[str, str] = {
    "signing": "broker.bench.signing",
    "codec": "broker.bench.codec",
    "formats": "broker.bench.formats",
    "e2e": "broker.bench.e2e",
    "corridor": "broker.bench.corridor",
    "faults": "broker.bench.faults",
}


def register(sub: Any) -> None:
    bench = sub.add_parser("bench", help="run a benchmark and print its numbers")
    names = bench.add_subparsers(dest="bench", required=True, metavar="NAME")
    for name, module_name in BENCHMARKS.items():
        module = importlib.import_module(module_name)
        parser = names.add_parser(name, help=(module.__doc__ or "").strip().splitlines()[0])
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        module.add_arguments(parser)
        parser.set_defaults(handler=lambda args, m=module: _run(m, args))


def _run(module: Any, args: argparse.Namespace) -> int:
    result: dict[str, Any] = module.run(args)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    elif hasattr(module, "render"):
        print(module.render(result))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            shown = f"{value:,.3f}" if isinstance(value, float) else str(value)
            print(f"{key:<{width}}  {shown}")
    return 0
