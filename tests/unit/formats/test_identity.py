"""Reading and rendering give the same result, byte for byte, as the recorded snapshot.

`tests/data/formats-identity.json` holds, for every document of the corpus (the golden files and
`tests/data/real/`), a digest of what each reader made of it (declarations, warnings, problems)
and of what every format renders from each declaration (bytes and loss report), plus the
benchmark's sample declaration at several sizes. It was written by the readers and writers as
they were before they were made faster (defusedxml reader, the project's writers): any change in
output, however small, fails here. After a deliberate change of output, rewrite it with
`python -m tests.unit.formats.test_identity --write` and say why in the commit.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from broker.errors import FormatError
from broker.formats import default_registry
from broker.formats.problems import DocumentRefusedError
from broker.formats.receipts import render_receipt
from broker.model import Declaration, DeclarationKind
from broker.model.samples import sample_declaration, sample_receipt
from tests.unit.formats.support import DATA, FORMAT_IDS, representable

SNAPSHOT = DATA / "formats-identity.json"
REGISTRY = default_registry()
SAMPLE_LINES = (1, 20, 200)


def corpus() -> list[tuple[str, Path]]:
    """(format id, path) of every golden and real document."""
    found = [
        (format_id, path)
        for format_id in FORMAT_IDS
        for path in sorted((DATA / format_id).iterdir())
        if not path.name.endswith(".expected.json")
    ]
    for path in sorted((DATA / "real").iterdir()):
        sidecar = path.with_name(path.name + ".json")
        if sidecar.exists():
            found.append((json.loads(sidecar.read_text("utf-8"))["format"], path))
    return found


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _problems(problems: Any) -> str:
    listed = [[p.code, p.field, p.location, p.reason, p.value] for p in problems]
    return f"{len(listed)} {_digest(json.dumps(listed).encode())}"


def _renders(declaration: Declaration) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target in FORMAT_IDS:
        try:
            rendered = REGISTRY.get(target).render(
                representable(target, declaration), require_mandatory=False
            )
        except FormatError as exc:
            out[target] = {"refused": _problems(exc.problems)}
            continue
        loss = [[entry.path, entry.reason] for entry in rendered.loss.entries]
        out[target] = {"bytes": _digest(rendered.data), "loss": _digest(json.dumps(loss).encode())}
    return out


def _reading(format_id: str, data: bytes, source: str) -> dict[str, Any]:
    try:
        reading = REGISTRY.get(format_id).read(data, source=source)
    except DocumentRefusedError as exc:
        return {"problems": _problems(exc.problems), "warnings": _problems(exc.warnings)}
    return {
        "declarations": [_digest(d.model_dump_json().encode()) for d in reading.declarations],
        "warnings": _problems(reading.warnings),
        "renders": [_renders(d) for d in reading.declarations],
    }


# Odd and broken XML: every reason and location a reader gives must stay what it was.
ODD_XML: tuple[bytes, ...] = (
    b"<DecMessage><DecHead>\n<IEFlag>E</DecHead>",
    b"<DecMessage><DecHead><NoteS>&nbsp;</NoteS></DecHead></DecMessage>",
    b"<DecMessage><x:DecHead/></DecMessage>",
    b'<DecMessage a="1" a="2"/>',
    b"<DecMessage>\x01</DecMessage>",
    b"<?xml version='1.0'?><?xml version='1.0'?><DecMessage/>",
    b"  <?xml version='1.0'?><DecMessage/>",
    b"<DecMessage/><DecMessage/>",
    b"<DecMessage/>trailing",
    b"",
    b"<",
    b"<DecMessage><![CDATA[x]]><?pi data?><!-- c --></DecMessage>",
    b"<DecMessage><DecHead><NoteS>a<![CDATA[<b>]]>c<!--x-->d<?p?>e</NoteS></DecHead></DecMessage>",
    b"<!-- <!DOCTYPE x> --><DecMessage/>",
    b'<!DOCTYPE DecMessage SYSTEM "http://127.0.0.1:9/x.dtd"><DecMessage/>',
    b'<!DOCTYPE DecMessage [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><DecMessage/>',
    b'<DecMessage xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="/etc/passwd"'
    b' parse="text"/></DecMessage>',
    b"<DecMessage>&#0;</DecMessage>",
    b"<DecMessage>&#x10FFFF;&#13;</DecMessage>",
    b"<DecMessage xmlns=''><a xmlns:p='urn:p' p:b='1'/></DecMessage>",
    b"\xef\xbb\xbf<DecMessage/>",
    b"\xff\xfe<\x00D\x00/\x00>\x00",
)


def _odd() -> list[tuple[str, bytes]]:
    cases = [(f"odd:{index}", data) for index, data in enumerate(ODD_XML)]
    for format_id, path in corpus():
        if format_id in ("cn-swxml", "acdd-xml"):
            data = path.read_bytes()
            for cut in range(1, 8):
                cases.append((f"cut:{cut}:{path.name}", data[: len(data) * cut // 8]))
    return cases


def snapshot() -> dict[str, Any]:
    """What the readers and writers give today for the corpus and the samples."""
    documents = {
        f"{format_id}:{path.relative_to(DATA)}": _reading(format_id, path.read_bytes(), path.name)
        for format_id, path in corpus()
    }
    samples = {}
    for lines in SAMPLE_LINES:
        declaration = sample_declaration(lines).model_copy(update={"kind": DeclarationKind.EXPORT})
        samples[str(lines)] = _renders(declaration)
        for format_id in FORMAT_IDS:  # what each format wrote, read back
            data = REGISTRY.get(format_id).render(representable(format_id, declaration)).data
            samples[f"{lines}:{format_id}:read"] = _reading(format_id, data, "sample")
    declaration = sample_declaration(3)
    receipts = {
        f"{format_id}:{accepted}": _digest(
            render_receipt(format_id, sample_receipt(declaration, b"x", accepted=accepted)).data
        )
        for format_id in FORMAT_IDS
        for accepted in (True, False)
    }
    odd = {
        f"{format_id}:{name}": _reading(format_id, data, "odd.xml")
        for name, data in _odd()
        for format_id in ("cn-swxml", "acdd-xml")
    }
    return {"documents": documents, "samples": samples, "receipts": receipts, "odd": odd}


@pytest.fixture(scope="module")
def recorded() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SNAPSHOT.read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def today() -> dict[str, Any]:
    return snapshot()


def test_the_snapshot_covers_the_whole_corpus(recorded: dict[str, Any]) -> None:
    assert len(recorded["documents"]) == len(corpus()) >= 40
    rendered = [
        target
        for entry in recorded["documents"].values()
        for renders in entry.get("renders", ())
        for target, result in renders.items()
        if "bytes" in result
    ]
    assert set(rendered) == set(FORMAT_IDS)
    assert len(rendered) > 100


@pytest.mark.parametrize("key", [f"{f}:{p.relative_to(DATA)}" for f, p in corpus()])
def test_each_document_reads_and_renders_as_recorded(
    key: str, recorded: dict[str, Any], today: dict[str, Any]
) -> None:
    assert today["documents"][key] == recorded["documents"][key]


def test_samples_and_receipts_render_as_recorded(
    recorded: dict[str, Any], today: dict[str, Any]
) -> None:
    assert today["samples"] == recorded["samples"]
    assert today["receipts"] == recorded["receipts"]


def test_odd_and_broken_xml_reads_as_recorded(
    recorded: dict[str, Any], today: dict[str, Any]
) -> None:
    assert len(today["odd"]) > 100
    assert {k: v for k, v in today["odd"].items() if v != recorded["odd"].get(k)} == {}


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python -m tests.unit.formats.test_identity --write")
    SNAPSHOT.write_text(json.dumps(snapshot(), indent=1, ensure_ascii=False) + "\n", "utf-8")
