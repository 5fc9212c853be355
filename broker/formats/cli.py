"""`customs-broker convert` and `customs-broker validate`: the format adapters on the command line.

    customs-broker convert --from cn-swxml --to cusdec declaration.xml -o declaration.edi
    customs-broker validate --format acdd-xml declaration.xml [--strict]

Bad input exits with status 1 and every problem at once (the first 100, then "and N more"),
each with file, location and reason. Warnings (a value guessed, defaulted or kept only in
extensions) are printed too, with their locations; they do not fail `validate` unless
`--strict` is given. Fields the target format cannot carry are listed on stderr. An input
holding several declarations (a CUSDEC interchange of several messages) is converted to one
output per declaration, `-o out.xml` writing `out.1.xml`, `out.2.xml` ... (it needs `-o`).
Input is read up to `--max-bytes`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from broker.errors import FormatError, Problem
from broker.formats.base import ParseLimits
from broker.formats.problems import Reading
from broker.formats.registry import FormatRegistry, default_registry

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
    validate.add_argument(
        "--strict", action="store_true", help="fail (status 1) on warnings as well as errors"
    )
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
    reading = _read(registry, args)
    if reading is None:
        return 1
    _print_warnings(reading.warnings)
    several = len(reading.declarations) > 1
    if several and args.output is None:
        print(
            f"error: {_name(args)} holds {len(reading.declarations)} declarations: give -o to "
            "write one file per declaration",
            file=sys.stderr,
        )
        return 1
    target = registry.get(args.target_format)
    for number, declaration in enumerate(reading.declarations, 1):
        try:
            result = target.render(declaration)
        except FormatError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        label = f"{_name(args)} (declaration {number})" if several else _name(args)
        if result.loss:
            print(
                f"note: {args.target_format} cannot carry everything in {label}:", file=sys.stderr
            )
            for line in result.loss.summary():
                print(f"  - {line}", file=sys.stderr)
        if args.output is None:
            sys.stdout.buffer.write(result.data)
            sys.stdout.buffer.flush()
            continue
        path = _numbered(args.output, number) if several else args.output
        try:
            path.write_bytes(result.data)
        except OSError as exc:
            print(f"error: cannot write {path}: {exc.strerror}", file=sys.stderr)
            return 1
        if several:
            print(f"wrote {path}", file=sys.stderr)
    return 0


def _numbered(path: Path, number: int) -> Path:
    """`out.xml` -> `out.1.xml`: one file per declaration of a multi-message input."""
    return path.with_name(f"{path.stem}.{number}{path.suffix}")


def _validate(args: argparse.Namespace) -> int:
    reading = _read(_registry(args), args)
    if reading is None:
        return 1
    _print_warnings(reading.warnings)
    for declaration in reading.declarations:
        print(
            f"ok: {_name(args)}: {args.source_format} {declaration.kind.value.lower()} "
            f"declaration {declaration.functional_reference}, "
            f"{len(declaration.goods_items)} goods item(s)"
        )
    if reading.warnings and args.strict:
        print(f"error: {len(reading.warnings)} warning(s) and --strict", file=sys.stderr)
        return 1
    return 0


def _print_warnings(warnings: tuple[Problem, ...]) -> None:
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)


def _registry(args: argparse.Namespace) -> FormatRegistry:
    return default_registry(ParseLimits(max_bytes=args.max_bytes))


def _name(args: argparse.Namespace) -> str:
    return "<stdin>" if args.input == _STDIN else str(args.input)


def _read(registry: FormatRegistry, args: argparse.Namespace) -> Reading | None:
    """What the input holds, or None after printing why it is not a declaration."""
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
        return registry.get(args.source_format).read(data, source=_name(args))
    except FormatError as exc:
        _print_warnings(getattr(exc, "warnings", ()))
        print(f"error: {exc}", file=sys.stderr)
        return None
