"""Documents as real national systems send them, written from public specifications.

Every file in `tests/data/real/` has a sidecar (`<file>.json`) naming the public sources it was
written from and the canonical values it must give: the reader accepts it (warnings where it
guessed or kept something aside, exactly those), the values are intact, and it converts to
every other format and back with what both formats carry unchanged (the rest is in the loss
reports).
"""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import pytest

from broker.errors import FormatError
from broker.formats import default_registry
from broker.formats.paths import flatten
from broker.model import Declaration
from tests.unit.formats.support import DATA, FORMAT_IDS, mismatches, representable

REGISTRY = default_registry()
REAL = DATA / "real"
# Every file but the sidecars (`<document>.json` beside `<document>`).
DOCUMENTS = sorted(
    path
    for path in REAL.iterdir()
    if not (path.name.endswith(".json") and path.with_name(path.name[:-5]).exists())
)


def sidecar(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.with_name(path.name + ".json").read_text("utf-8"))
    return data


def canonical_values(declaration: Declaration) -> dict[str, Any]:
    values = flatten(declaration.model_dump(mode="json"))
    values["goods_items.count"] = len(declaration.goods_items)
    return values


def same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, list):
        return isinstance(actual, tuple | list) and list(actual) == expected
    if isinstance(expected, str) and isinstance(actual, str):
        try:
            return Decimal(expected) == Decimal(actual)
        except InvalidOperation:
            return expected == actual
    return bool(expected == actual)


def test_the_corpus_has_thirty_documents_each_with_its_sources() -> None:
    assert len(DOCUMENTS) >= 30
    for path in DOCUMENTS:
        meta = sidecar(path)
        assert meta["format"] in FORMAT_IDS, path.name
        assert meta["written_from"], path.name
        assert all(meta["written_from"]), path.name
        assert meta["expect"]["values"] or meta.get("expect_each"), path.name
    assert {sidecar(path)["format"] for path in DOCUMENTS} == set(FORMAT_IDS)


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_real_document_is_accepted_with_its_values(path: Path) -> None:
    meta = sidecar(path)
    reading = REGISTRY.get(meta["format"]).read(path.read_bytes(), source=path.name)
    expect = meta["expect"]
    assert len(reading.declarations) == expect["declarations"]
    assert Counter(w.code for w in reading.warnings) == Counter(expect["warnings"]), [
        str(w) for w in reading.warnings
    ]
    assert all(w.source == path.name and w.location for w in reading.warnings)
    expected_each = meta.get("expect_each") or [expect["values"]]
    for declaration, wanted in zip(reading.declarations, expected_each, strict=False):
        values = canonical_values(declaration)
        wrong = {
            key: (value, values.get(key))
            for key, value in wanted.items()
            if not same(value, values.get(key))
        }
        assert wrong == {}


PAIRS = [
    (path, target)
    for path in DOCUMENTS
    for target in FORMAT_IDS
    if target != sidecar(path)["format"]
]


@pytest.mark.parametrize(("path", "target"), PAIRS, ids=[f"{p.name}->{t}" for p, t in PAIRS])
def test_real_document_converts_to_another_format_and_back(path: Path, target: str) -> None:
    meta = sidecar(path)
    source = REGISTRY.get(meta["format"])
    other = REGISTRY.get(target)
    refused = meta.get("refused_back_from", {})
    for declaration in source.read(path.read_bytes(), source=path.name).declarations:
        original = representable(target, declaration)
        there = other.render(original, require_mandatory=False)
        if target in refused:  # what the target lost leaves the source unable to write it
            with pytest.raises(FormatError):
                source.render(other.parse(there.data), require_mandatory=False)
            continue
        back = source.render(other.parse(there.data), require_mandatory=False)
        lost = there.loss.paths | back.loss.paths
        both = source.capabilities & other.capabilities
        assert mismatches(original, source.parse(back.data), both, lost) == {}


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.name)
def test_real_document_renders_back_to_its_own_format_intact(path: Path) -> None:
    adapter = REGISTRY.get(sidecar(path)["format"])
    for declaration in adapter.read(path.read_bytes()).declarations:
        rendered = adapter.render(declaration, require_mandatory=False)
        back = adapter.parse(rendered.data)
        assert mismatches(declaration, back, adapter.capabilities, rendered.loss.paths) == {}
