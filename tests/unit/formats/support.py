"""Helpers shared by the format tests: golden files, and declarations a format can render."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from broker.formats import FormatAdapter, restrict
from broker.formats.xml.write import XML_REFUSED
from broker.model import Declaration, DeclarationKind, MessageFunction
from broker.model.samples import sample_goods_item

DATA = Path(__file__).resolve().parents[2] / "data"
FORMAT_IDS = ("cn-swxml", "acdd-xml", "cusdec", "canonical-json")
XML_FORMATS = ("cn-swxml", "acdd-xml")


def golden_documents() -> list[tuple[str, Path]]:
    """(format id, path) of every golden document (each has a `.expected.json` beside it)."""
    return [
        (format_id, path)
        for format_id in FORMAT_IDS
        for path in sorted((DATA / format_id).iterdir())
        if not path.name.endswith(".expected.json")
    ]


def expected_json(path: Path) -> Path:
    return path.with_name(path.name.split(".")[0] + ".expected.json")


def representable(format_id: str, declaration: Declaration) -> Declaration:
    """The nearest declaration `format_id` renders at all; its refusals are tested apart.

    XML formats refuse characters XML 1.0 cannot hold; China has no transit declaration and no
    change or cancellation message; ACDD needs its fifteen mandatory data items.
    """
    data = declaration.model_dump()
    if format_id in XML_FORMATS:
        data = _xml_safe(data)
    if format_id == "cn-swxml":
        if data["kind"] == DeclarationKind.TRANSIT:
            data["kind"] = DeclarationKind.EXPORT
        data["function"] = MessageFunction.ORIGINAL
        if not declaration.goods_items:  # a cancellation: give it a line and no totals
            data["goods_items"] = (sample_goods_item(1).model_dump(),)
            for key in ("total_gross_mass_kg", "total_package_count", "total_value"):
                data[key] = None
            data["total_value_currency"] = None
    if format_id == "acdd-xml":
        _fill_acdd_mandatory(data)
    return Declaration.model_validate(data)


def _xml_safe(value: Any) -> Any:
    if type(value) is str:  # not the enums, which are str too
        return XML_REFUSED.sub("?", value)
    if isinstance(value, dict):
        return {_xml_safe(key): _xml_safe(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return type(value)(_xml_safe(item) for item in value)
    return value


def _fill_acdd_mandatory(data: dict[str, Any]) -> None:
    for role, field in (
        ("exporter", "identifier"),
        ("importer", "street"),
        ("declarant", "identifier"),
    ):
        party = data[role] or {"name": role.title()}
        if field == "identifier" and party.get("identifier") is None:
            party |= {"identifier": f"{role.upper()}-1", "identifier_scheme": "TH-TIN"}
        elif field == "street" and party.get("street") is None:
            party["street"] = "99 Rama IV Road"
        data[role] = party
    data["declaration_number"] = data["declaration_number"] or "ACDD-0001"
    data["entry_place"] = data["entry_place"] or "THBKK"


def mismatches(
    before: Declaration, after: Declaration, carried: frozenset[str], lost: frozenset[str]
) -> dict[str, tuple[Any, Any]]:
    """Carried, not-lost fields whose values differ: path -> (before, after)."""
    left = {p: v for p, v in restrict(before, carried).items() if p not in lost}
    right = {p: v for p, v in restrict(after, carried).items() if p not in lost}
    return {
        p: (left.get(p), right.get(p))
        for p in left.keys() | right.keys()
        if left.get(p) != right.get(p)
    }


def round_trip(adapter: FormatAdapter, declaration: Declaration) -> dict[str, tuple[Any, Any]]:
    """What `adapter` changed, beyond its loss report, rendering and parsing `declaration`."""
    result = adapter.render(declaration)
    back = adapter.parse(result.data, source="round-trip")
    return mismatches(declaration, back, adapter.capabilities, result.loss.paths)


def iter_problem_text(error: BaseException) -> Iterator[str]:
    yield str(error)
    for problem in getattr(error, "problems", ()):
        yield str(problem)
