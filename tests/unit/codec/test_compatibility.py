"""Evolution policy: every schema version kept reads every other's data (FULL_TRANSITIVE).

Proved twice: by the resolution rules (`broker.codec.compatibility`) and by data, writing
generated declarations with each version and reading them with each.
"""

from __future__ import annotations

import copy
from typing import Any

import fastavro
import pytest
from hypothesis import given, settings

from broker.codec import SchemaKind, SchemaSet
from broker.codec.avro import read_body, write_body
from broker.codec.compatibility import full_transitive_problems, reader_problems
from broker.model import Declaration
from broker.model.decimals import DecimalInput
from tests.strategies import declarations

SCHEMAS = SchemaSet()
LATEST = SCHEMAS.latest(SchemaKind.DECLARATION).schema


def labelled(kind: SchemaKind) -> list[tuple[str, Any]]:
    return [(f"{v.kind}.v{v.version}", v.schema.parsed) for v in SCHEMAS.versions(kind)]


def changed(change: dict[str, Any] | None = None, **field_changes: Any) -> Any:
    """The latest declaration schema, parsed, with one field changed or one field added."""
    definition = copy.deepcopy(dict(LATEST.definition))
    if change is not None:
        definition["fields"].append(change)
    for name, new_type in field_changes.items():
        (field,) = [f for f in definition["fields"] if f["name"] == name]
        field["type"] = new_type
    return fastavro.parse_schema(definition, named_schemas={})


@pytest.mark.parametrize("kind", list(SchemaKind))
def test_kept_versions_are_full_transitive(kind: SchemaKind) -> None:
    assert full_transitive_problems(labelled(kind)) == []


def test_adding_a_required_field_without_default_breaks_it() -> None:
    v3 = changed({"name": "route_id", "type": "string", "doc": "Route."})
    kept = labelled(SchemaKind.DECLARATION)
    problems = full_transitive_problems([*kept, ("v3", v3)])
    assert problems == [
        f"v3 reading {name}: Declaration.route_id: missing in the writer and has no default"
        for name, _ in kept
    ]


def test_adding_an_optional_field_with_default_keeps_it() -> None:
    v3 = changed({"name": "route_id", "type": ["null", "string"], "default": None, "doc": "x"})
    assert full_transitive_problems([*labelled(SchemaKind.DECLARATION), ("v3", v3)]) == []


DECIMAL_28_3 = {"type": "bytes", "logicalType": "decimal", "precision": 28, "scale": 3}


@pytest.mark.parametrize(
    ("field", "new_type", "reading_old", "reading_new"),
    [
        (
            "issue_time_offset_minutes",
            "string",
            ["Declaration.issue_time_offset_minutes: writer int cannot be read as string"],
            ["Declaration.issue_time_offset_minutes: writer string cannot be read as int"],
        ),
        (
            "total_gross_mass_kg",
            ["null", DECIMAL_28_3],
            ["Declaration.total_gross_mass_kg: decimal(28, 6) cannot be read as decimal(28, 3)"],
            ["Declaration.total_gross_mass_kg: decimal(28, 3) cannot be read as decimal(28, 6)"],
        ),
        (
            "functional_reference",
            ["null", "string"],
            [],
            ["Declaration.functional_reference: writer null cannot be read as string"],
        ),
    ],
)
def test_resolution_rules(
    field: str, new_type: Any, reading_old: list[str], reading_new: list[str]
) -> None:
    new = changed(**{field: new_type})
    assert reader_problems(new, LATEST.parsed) == reading_old
    assert reader_problems(LATEST.parsed, new) == reading_new


def test_promotions_and_enum_defaults() -> None:
    as_long = changed(issue_time_offset_minutes="long")
    assert reader_problems(as_long, LATEST.parsed) == []  # int data read as long
    assert reader_problems(LATEST.parsed, as_long) != []  # long data cannot be read as int
    definition = copy.deepcopy(dict(LATEST.definition))
    kinds = next(f for f in definition["fields"] if f["name"] == "kind")["type"]
    kinds["symbols"].append("SHIP_STORES")
    wider = fastavro.parse_schema(definition, named_schemas={})
    assert reader_problems(wider, LATEST.parsed) == []
    assert reader_problems(LATEST.parsed, wider) == [
        "Declaration.kind: symbols ['SHIP_STORES'] unknown to the reader, which has no default"
    ]


@settings(max_examples=40, deadline=None)
@given(declarations(max_items=2))
def test_each_version_reads_data_written_with_each(declaration: Declaration) -> None:
    versions = SCHEMAS.versions(SchemaKind.DECLARATION)
    for writer in versions:
        body = write_body(writer.schema, declaration.model_dump())
        for reader in versions:
            record = read_body(body, writer.schema, reader.schema)
            read = Declaration.model_validate(record, context=DecimalInput.UNSCALED_BYTES)
            assert read == _as_kept_by(declaration, min(writer.version, reader.version))


def _as_kept_by(declaration: Declaration, version: int) -> Declaration:
    """`declaration` without the fields added after `version` (not written, or not kept)."""
    if version < 3:  # GoodsItem.specification came in v3
        items = tuple(i.model_copy(update={"specification": None}) for i in declaration.goods_items)
        declaration = declaration.model_copy(update={"goods_items": items})
    if version < 2:  # consignment_ucr came in v2
        declaration = declaration.model_copy(update={"consignment_ucr": None})
    return declaration
