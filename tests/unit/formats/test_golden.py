"""Golden documents of the corridor parse to their expected canonical JSON, and back."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker.formats import default_registry
from tests.unit.formats.support import expected_json, golden_documents, round_trip

REGISTRY = default_registry()
GOLDEN = golden_documents()


def test_every_format_has_golden_documents() -> None:
    assert {format_id for format_id, _ in GOLDEN} == set(REGISTRY.ids())


@pytest.mark.parametrize(("format_id", "path"), GOLDEN, ids=[p.name for _, p in GOLDEN])
def test_golden_document_parses_to_its_expected_canonical_json(format_id: str, path: Path) -> None:
    parsed = REGISTRY.get(format_id).parse(path.read_bytes(), source=path.name)
    expected = REGISTRY.get("canonical-json").parse(expected_json(path).read_bytes())
    assert parsed == expected


@pytest.mark.parametrize(("format_id", "path"), GOLDEN, ids=[p.name for _, p in GOLDEN])
def test_golden_document_renders_back_to_the_same_declaration(format_id: str, path: Path) -> None:
    adapter = REGISTRY.get(format_id)
    assert round_trip(adapter, adapter.parse(path.read_bytes())) == {}


def test_china_document_is_written_back_element_for_element() -> None:
    """National fields kept in extensions come back in place, in the original order."""
    path = (
        Path(__file__).resolve().parents[2] / "data/cn-swxml/rail-chongqing-vientiane-bangkok.xml"
    )
    adapter = REGISTRY.get("cn-swxml")
    rendered = adapter.render(adapter.parse(path.read_bytes())).data
    original = path.read_bytes().replace(b' standalone="yes"', b"")
    assert rendered == original


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("road-chongqing-hanoi-pingxiang.gbk.xml", "gbk"),
        ("sea-singapore-qinzhou-import.gb18030.xml", "gb18030"),
    ],
)
def test_chinese_encodings_are_honoured(name: str, encoding: str) -> None:
    data = (Path(__file__).resolve().parents[2] / "data/cn-swxml" / name).read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the sample really is in the legacy encoding
    declaration = REGISTRY.get("cn-swxml").parse(data)
    assert declaration.declarant is not None
    assert declaration.declarant.name in data.decode(encoding)
    rendered = REGISTRY.get("cn-swxml").render(declaration).data
    assert rendered.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    assert declaration.declarant.name in rendered.decode("utf-8")


def test_cusdec_samples_use_the_character_set_their_text_needs() -> None:
    adapter = REGISTRY.get("cusdec")
    data = Path(__file__).resolve().parents[2] / "data/cusdec"
    road = adapter.parse((data / "road-chongqing-hanoi-pingxiang.edi").read_bytes())
    sea = adapter.parse((data / "sea-chongqing-qinzhou-singapore.edi").read_bytes())
    assert b"UNB+UNOW:4+" in adapter.render(road).data
    assert b"UNB+UNOC:3+" in adapter.render(sea).data
