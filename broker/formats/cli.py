"""`customs-broker convert` and `customs-broker validate`: the format adapters on the command line.

    customs-broker convert --from cn-swxml --to cusdec declaration.xml -o declaration.edi
    customs-broker validate --format acdd-xml declaration.xml

Bad input exits with status 1 and every problem at once, each with file, location and reason;
fields the target format cannot carry are listed on stderr. Input is read up to `--max-bytes`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from broker.errors import FormatError
from broker.formats.base import ParseLimits
from broker.formats.registry import FormatRegistry, default_registry
from broker.model import Declaration

_STDIN = "-"


def register(sub: Any) -> None:
    ids = default_registry().ids()
    convert = sub.add_parser("convert", help="convert a declaration between formats")
    convert.add_argument("--from", dest="source_format", required=True, choices=ids)
    convert.add_argument("--to", dest="target_format", required=True, choices=ids)
    convert.add_argument("input", nargs="?", default=_STDIN, help="file to read, - for stdin")
    convert.add_argument("-o", "--output", type=Path, help="file to write (default: stdout)")
    _add_limit(convert)
    convert.set_defaults(handler=_convert)
    validate = sub.add_parser("validate", help="check that a declaration file is valid")
    validate.add_argument("--format", dest="source_format", required=True, choices=ids)
    validate.add_argument("input", help="file to read, - for stdin")
    _add_limit(validate)
    validate.set_defaults(handler=_validate)


def _add_limit(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--max-bytes",
        type=int,
        default=ParseLimits().max_bytes,
        help="refuse larger input (default: %(default)s)",
    )


def _convert(args: argparse.Namespace) -> int:
    registry = _registry(args)
    declaration = _parse(registry, args)
    if declaration is None:
        return 1
    try:
        result = registry.get(args.target_format).render(declaration)
    except FormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if result.loss:
        print(
            f"note: {args.target_format} cannot carry everything in {_name(args)}:", file=sys.stderr
        )
        for line in result.loss.summary():
            print(f"  - {line}", file=sys.stderr)
    if args.output is None:
        sys.stdout.buffer.write(result.data)
        sys.stdout.buffer.flush()
        return 0
    try:
        args.output.write_bytes(result.data)
    except OSError as exc:
        print(f"error: cannot write {args.output}: {exc.strerror}", file=sys.stderr)
        return 1
    return 0


def _validate(args: argparse.Namespace) -> int:
    declaration = _parse(_registry(args), args)
    if declaration is None:
        return 1
    print(
        f"ok: {_name(args)}: {args.source_format} {declaration.kind.value.lower()} declaration "
        f"{declaration.functional_reference}, {len(declaration.goods_items)} goods item(s)"
    )
    return 0


def _registry(args: argparse.Namespace) -> FormatRegistry:
    return default_registry(ParseLimits(max_bytes=args.max_bytes))


def _name(args: argparse.Namespace) -> str:
    return "<stdin>" if args.input == _STDIN else str(args.input)


def _parse(registry: FormatRegistry, args: argparse.Namespace) -> Declaration | None:
    """The parsed declaration, or None after printing why the input is not one."""
    try:
        if args.input == _STDIN:
            data = sys.stdin.buffer.read(args.max_bytes + 1)
        else:
            with Path(args.input).open("rb") as file:
                data = file.read(args.max_bytes + 1)
    except OSError as exc:
        print(f"error: cannot read {_name(args)}: {exc.strerror}", file=sys.stderr)
        return None
    if len(data) > args.max_bytes:
        print(
            f"error: {_name(args)}: input is larger than {args.max_bytes} bytes (see --max-bytes)",
            file=sys.stderr,
        )
        return None
    try:
        return registry.get(args.source_format).parse(data, source=_name(args))
    except FormatError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
