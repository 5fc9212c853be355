"""One source of truth: the pydantic models and the latest Avro schemas agree field by field.

Walks both recursively: same field names in the same order, same nullability and defaults, and
the Avro type each Python type is written as (logical types, decimal precision and scale, enum
symbols, record names). A field added to one side only fails here.
"""

from __future__ import annotations

import types
from collections.abc import Mapping
from decimal import Decimal
from enum import Enum
from typing import Annotated, Any, Union, get_args, get_origin
from uuid import UUID

import fastavro
import pytest
from pydantic import AwareDatetime, BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from broker.codec import SchemaKind, SchemaSet
from broker.model import Declaration, Receipt
from broker.model.decimals import DecimalSpec

Named = dict[str, Any]


def named_types(kind: SchemaKind) -> tuple[Any, Named]:
    """The latest schema of `kind`, parsed, and its named types by full name."""
    named: Named = {}
    definition = SchemaSet().latest(kind).schema.definition
    return fastavro.parse_schema(dict(definition), named_schemas=named), named


def resolve(node: Any, named: Named) -> Any:
    return named[node] if isinstance(node, str) and node in named else node


def short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def expected_default(field: FieldInfo) -> Any:
    """The Avro default that mirrors a model field's default, or PydanticUndefined."""
    if field.default_factory is not None:
        return dict(field.default_factory())  # type: ignore[call-arg]
    default = field.default
    if isinstance(default, Enum):
        return default.value
    if isinstance(default, tuple):
        return list(default)
    return default


def assert_model_matches(model: type[BaseModel], record: Any, named: Named, path: str) -> None:
    record = resolve(record, named)
    assert record["type"] == "record", path
    assert short(record["name"]) == model.__name__, path
    avro_fields = {f["name"]: f for f in record["fields"]}
    assert list(model.model_fields) == list(avro_fields), f"{path}: field names or order differ"
    for name, field in model.model_fields.items():
        avro_field = avro_fields[name]
        field_path = f"{path}.{name}"
        default = expected_default(field)
        if default is PydanticUndefined:
            assert "default" not in avro_field, f"{field_path}: Avro default, model required"
        else:
            assert avro_field.get("default", PydanticUndefined) == default, field_path
        assert_type_matches(field.annotation, field.metadata, avro_field["type"], named, field_path)


def assert_type_matches(
    annotation: Any, metadata: list[Any], avro: Any, named: Named, path: str
) -> None:
    avro = resolve(avro, named)
    if get_origin(annotation) is Annotated:
        base, *extra = get_args(annotation)
        assert_type_matches(base, [*extra, *metadata], avro, named, path)
        return
    if get_origin(annotation) in (Union, types.UnionType):
        branches = [arg for arg in get_args(annotation) if arg is not type(None)]
        assert len(branches) == 1, f"{path}: only X | None unions are modelled"
        assert isinstance(avro, list), f"{path}: optional in the model, not nullable in Avro"
        assert avro[0] == "null", f"{path}: null must be the first branch (default null)"
        assert len(avro) == 2, path
        assert_type_matches(branches[0], metadata, avro[1], named, path)
        return
    assert not isinstance(avro, list), f"{path}: nullable in Avro, required in the model"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        assert_model_matches(annotation, avro, named, path)
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        assert avro["type"] == "enum", path
        assert short(avro["name"]) == annotation.__name__, path
        assert avro["symbols"] == [member.value for member in annotation], path
    elif get_origin(annotation) is tuple:
        item, ellipsis = get_args(annotation)
        assert ellipsis is Ellipsis, path
        assert avro["type"] == "array", path
        assert_type_matches(item, [], avro["items"], named, path + "[]")
    elif get_origin(annotation) is Mapping:
        assert avro["type"] == "map", path
        assert_type_matches(get_args(annotation)[1], [], avro["values"], named, path + "{}")
    elif annotation is bytes:
        assert (avro["type"], avro["size"]) == ("fixed", 32), path
    elif annotation is Decimal:
        (spec,) = [m for m in metadata if isinstance(m, DecimalSpec)]
        assert avro == {
            "type": "bytes",
            "logicalType": "decimal",
            "precision": spec.precision,
            "scale": spec.scale,
        }, path
    else:
        assert avro == PRIMITIVES[annotation], path


PRIMITIVES: dict[Any, Any] = {
    str: "string",
    int: "int",
    UUID: {"type": "string", "logicalType": "uuid"},
    AwareDatetime: {"type": "long", "logicalType": "timestamp-micros"},
}


@pytest.mark.parametrize(
    ("model", "kind"), [(Declaration, SchemaKind.DECLARATION), (Receipt, SchemaKind.RECEIPT)]
)
def test_model_mirrors_the_latest_schema(model: type[BaseModel], kind: SchemaKind) -> None:
    schema, named = named_types(kind)
    assert_model_matches(model, schema, named, model.__name__)


def test_every_avro_field_is_documented() -> None:
    def undocumented(node: Any, path: str) -> list[str]:
        if isinstance(node, list):
            return [p for branch in node for p in undocumented(branch, path)]
        if not isinstance(node, dict):
            return []
        found = [] if node.get("type") not in ("record", "enum") or node.get("doc") else [path]
        for field in node.get("fields", ()):
            if not field.get("doc"):
                found.append(f"{path}.{field['name']}")
            found += undocumented(field["type"], f"{path}.{field['name']}")
        for key in ("items", "values"):
            found += undocumented(node.get(key), path)
        return found

    for version in SchemaSet().all():
        assert undocumented(dict(version.schema.definition), version.path.name) == []


def test_the_check_notices_a_missing_field() -> None:
    named: Named = {}
    (older,) = [v for v in SchemaSet().versions(SchemaKind.DECLARATION) if v.version == 1]
    schema = fastavro.parse_schema(dict(older.schema.definition), named_schemas=named)
    with pytest.raises(AssertionError, match="field names or order differ"):
        assert_model_matches(Declaration, schema, named, "Declaration")
