"""A receiving node delivers what the sender's format could say; the gaps become warnings."""

from __future__ import annotations

import pytest

from broker.errors import FormatError
from broker.formats import default_registry
from broker.model import DeclarationKind
from broker.model.samples import sample_declaration


def test_missing_mandatory_acdd_items_refuse_strictly_and_warn_leniently() -> None:
    registry = default_registry()
    chinese = registry.get("cn-swxml")
    export = sample_declaration(lines=2).model_copy(update={"kind": DeclarationKind.EXPORT})
    # China's XML has no address for the overseas consignee: it is lost on the way.
    received = chinese.parse(chinese.render(export).data)
    acdd = registry.get("acdd-xml")
    with pytest.raises(FormatError) as refused:
        acdd.render(received)
    assert {p.field for p in refused.value.problems} >= {"importer.street"}

    rendered = acdd.render(received, require_mandatory=False)
    assert {p.code for p in rendered.warnings} == {"mandatory_missing"}
    assert "importer.street" in {p.field for p in rendered.warnings}
    # Read back, an incomplete ACDD is still a declaration, with the same gaps as warnings.
    reading = acdd.read(rendered.data)
    assert {p.field for p in reading.warnings} == {p.field for p in rendered.warnings}
    assert received.exporter is not None
    assert received.exporter.name.encode() in rendered.data  # the rest is all there


def test_complete_declarations_render_without_warnings() -> None:
    rendered = default_registry().get("acdd-xml").render(sample_declaration(lines=1))
    assert rendered.warnings == ()
