"""Format adapters: parse (with validation) and render a 20-line declaration, per format.

Documents per second for each adapter's `parse` (bytes -> validated canonical declaration, the
work a gateway does on every incoming file) and `render` (declaration -> bytes + loss report).
The sample is the Chongqing -> Bangkok rail declaration as an export (China's single window has
no transit declaration). For the XML formats the XML reader alone is also timed twice, libxml2
(lxml, the path valid documents take) and defusedxml alone (the reference reader), with their
ratio. Operations run interleaved in rounds and each keeps its best round, so a
moment of CPU stolen by another process does not skew one format only.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable

from broker.bench.timing import best_seconds
from broker.errors import ConfigError
from broker.formats import ParseLimits, default_registry
from broker.formats.acdd_xml.layout import NAMESPACE as ACDD_NAMESPACE
from broker.formats.cn_swxml.layout import NAMESPACE as CN_NAMESPACE
from broker.formats.problems import ProblemLog
from broker.formats.xml.read import read_xml
from broker.model import DeclarationKind
from broker.model.samples import sample_declaration


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lines", type=int, default=20, help="goods lines (default 20)")
    parser.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--batch", type=int, default=20, help="documents per round (default 20)")


def run(args: argparse.Namespace) -> dict[str, float | int | str]:
    if args.lines < 1 or args.rounds < 1 or args.batch < 1:
        raise ConfigError("--lines, --rounds and --batch must be positive")
    declaration = sample_declaration(args.lines).model_copy(update={"kind": DeclarationKind.EXPORT})
    operations: dict[str, Callable[[], object]] = {}
    sizes: dict[str, int] = {}
    for adapter in default_registry():
        document = adapter.render(declaration).data
        adapter.parse(document)  # fail here, not inside the timing, if the sample does not parse
        sizes[f"{adapter.id}_bytes"] = len(document)
        operations[f"{adapter.id}_parse"] = functools.partial(adapter.parse, document)
        operations[f"{adapter.id}_render"] = functools.partial(adapter.render, declaration)
    for format_id, namespace in _XML_NAMESPACES.items():  # libxml2 path against defusedxml alone
        document = default_registry().get(format_id).render(declaration).data
        for reader, reference in (("xml_read", False), ("xml_read_reference", True)):
            operations[f"{format_id}_{reader}"] = functools.partial(
                _read_xml, document, namespace, reference=reference
            )
    best = best_seconds(operations, rounds=args.rounds, batch=args.batch)
    result: dict[str, float | int | str] = {"lines": args.lines, **sizes}
    result.update({f"{name}_per_s": 1 / seconds for name, seconds in best.items()})
    for format_id in _XML_NAMESPACES:
        result[f"{format_id}_xml_read_speedup"] = (
            best[f"{format_id}_xml_read_reference"] / best[f"{format_id}_xml_read"]
        )
    return result


_XML_NAMESPACES = {"cn-swxml": CN_NAMESPACE, "acdd-xml": ACDD_NAMESPACE}


def _read_xml(document: bytes, namespace: str, *, reference: bool) -> object:
    log = ProblemLog("bench", "bench.xml")
    return read_xml(
        document,
        log=log,
        limits=ParseLimits(),
        namespaces=frozenset({namespace}),
        reference=reference,
    )
