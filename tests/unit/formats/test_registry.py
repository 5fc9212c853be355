"""The explicit registry, the generated capability table, and honest capabilities."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from broker.bench import formats as formats_bench
from broker.errors import ConfigError
from broker.formats import (
    FormatRegistry,
    UnknownFormatError,
    capability_table_markdown,
    default_registry,
)
from broker.formats.canonical_json import CanonicalJsonAdapter
from broker.formats.paths import canonical_field_patterns
from broker.model import DeclarationKind
from broker.model.samples import sample_declaration

DOCS = Path(__file__).resolve().parents[3] / "docs/formats.md"


def test_default_registry_builds_a_new_registry_each_time() -> None:
    first, second = default_registry(), default_registry()
    assert first is not second
    assert first.ids() == ("cn-swxml", "acdd-xml", "cusdec", "canonical-json")


def test_unknown_format_names_the_known_ones() -> None:
    with pytest.raises(UnknownFormatError, match="known: cn-swxml, acdd-xml"):
        default_registry().get("edifact-d93a")


def test_a_format_registered_twice_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match="registered twice"):
        FormatRegistry([CanonicalJsonAdapter(), CanonicalJsonAdapter()])


@pytest.mark.parametrize("format_id", default_registry().ids())
def test_capabilities_name_real_canonical_fields(format_id: str) -> None:
    assert default_registry().get(format_id).capabilities <= set(canonical_field_patterns())


def test_docs_table_is_the_generated_one() -> None:
    text = DOCS.read_text("utf-8")
    start = text.index("<!-- capability-table:start -->\n") + len(
        "<!-- capability-table:start -->\n"
    )
    end = text.index("<!-- capability-table:end -->")
    assert text[start:end] == capability_table_markdown()


def test_sample_loss_report_for_china() -> None:
    """What the Chongqing -> Bangkok rail export loses in China's XML, and why."""
    declaration = sample_declaration(2).model_copy(update={"kind": DeclarationKind.EXPORT})
    report = default_registry().get("cn-swxml").render(declaration).loss
    reasons = dict(line.split(": ", 1) for line in report.summary())
    assert reasons["incoterm"] == "FCA is written as TransMode 3, read back as FOB"
    assert reasons["issue_time"] == "IEDate has whole seconds; the fraction is dropped"
    assert reasons["entry_office"].startswith("China has one port office (IEPort)")
    assert reasons["importer.identifier"] == "China names this party only by AEO identifiers"
    assert reasons["goods_items.*.net_mass_kg (2x)"] == "cn-swxml has no place for it"
    assert "extensions" not in reasons  # its own cn-swxml: keys travel


def test_other_offsets_are_reported_as_not_kept_by_china() -> None:
    declaration = sample_declaration(1).model_copy(update={"kind": DeclarationKind.EXPORT})
    bangkok = declaration.model_copy(update={"issue_time_offset_minutes": 420})
    assert (
        "issue_time_offset_minutes" in default_registry().get("cn-swxml").render(bangkok).loss.paths
    )


def test_canonical_json_loses_nothing() -> None:
    assert not default_registry().get("canonical-json").render(sample_declaration(3)).loss


def test_benchmark_reports_documents_per_second_for_each_format() -> None:
    result = formats_bench.run(argparse.Namespace(lines=2, rounds=1, batch=1))
    for format_id in default_registry().ids():
        for key in (f"{format_id}_parse_per_s", f"{format_id}_render_per_s", f"{format_id}_bytes"):
            value = result[key]
            assert isinstance(value, float | int)
            assert value > 0
    for format_id in ("cn-swxml", "acdd-xml"):  # the XML reader: libxml2 path against defusedxml
        for key in ("xml_read_per_s", "xml_read_reference_per_s", "xml_read_speedup"):
            value = result[f"{format_id}_{key}"]
            assert isinstance(value, float)
            assert value > 0


def test_china_extensions_never_change_what_parsing_reads() -> None:
    """An extension naming a mapped element is written only where parsing would not read it."""
    declaration = sample_declaration(1).model_copy(update={"kind": DeclarationKind.EXPORT})
    extensions = {
        "cn-swxml:DecHead/TradeCode": "5001960123",  # beside TradeCoScc: kept as is
        "cn-swxml:DecHead/TransMode": "1",  # would become incoterm CIF: refused
        "cn-swxml:DecList[GNo=1]/DeclTotal": "1",  # the line already has its value: refused
        "cn-swxml:DecList[GNo=9]/GModel": "x",  # no such line: refused
    }
    declaration = declaration.model_copy(update={"extensions": extensions})
    adapter = default_registry().get("cn-swxml")
    result = adapter.render(declaration)
    lost = {path.removeprefix("extensions.") for path in result.loss.paths}
    assert lost >= set(extensions) - {"cn-swxml:DecHead/TradeCode"}
    assert "cn-swxml:DecHead/TradeCode" not in lost
    assert adapter.parse(result.data).extensions["cn-swxml:DecHead/TradeCode"] == "5001960123"
