"""Fuzzing: random bytes and mutated valid documents only ever give `FormatError`.

Any other exception (KeyError, RecursionError, UnicodeError ...) or a hang would be a bug: the
broker must answer bad input with a list of problems, never a traceback.
"""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from broker.errors import FormatError
from broker.formats import default_registry
from tests.unit.formats.support import DATA, FORMAT_IDS, golden_documents

REGISTRY = default_registry()


def real_documents(format_id: str) -> list[bytes]:
    """The real-shaped documents of tests/data/real in `format_id` (named by their sidecars)."""
    found = []
    for sidecar in sorted((DATA / "real").glob("*.json")):
        document = sidecar.with_suffix("")
        if document.exists() and json.loads(sidecar.read_text("utf-8"))["format"] == format_id:
            found.append(document.read_bytes())
    return found


DOCUMENTS = {
    format_id: [path.read_bytes() for f, path in golden_documents() if f == format_id]
    + real_documents(format_id)
    for format_id in FORMAT_IDS
}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parses_or_explains(format_id: str, data: bytes) -> None:
    """Parsing gives a declaration or a `FormatError` with reasons; anything else propagates."""
    try:
        REGISTRY.get(format_id).parse(data, source="fuzz")
    except FormatError as exc:
        problems = exc.problems
    else:
        return
    assert problems


@pytest.mark.parametrize("format_id", FORMAT_IDS)
@FUZZ
@given(data=st.binary(max_size=600))
def test_random_bytes(format_id: str, data: bytes) -> None:
    parses_or_explains(format_id, data)


@st.composite
def mutated(draw: st.DrawFn, document: bytes) -> bytes:
    """`document` with a few bytes replaced, deleted, inserted or a slice repeated."""
    data = bytearray(document)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["replace", "delete", "insert", "repeat"]))
        size = draw(st.integers(1, 16))
        if kind == "replace":
            data[at : at + size] = draw(st.binary(min_size=size, max_size=size))
        elif kind == "delete":
            del data[at : at + size]
        elif kind == "insert":
            data[at:at] = draw(
                st.binary(min_size=1, max_size=size)
                | st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"&",
                        b"'",
                        b"?",
                        b"+",
                        b":",
                        b"<![CDATA[",
                        b"&amp;",
                        b"\x00",
                        b"\xff",
                    ]
                )
            )
        else:
            data[at:at] = data[at : at + size * 8]
    return bytes(data)


@pytest.mark.parametrize("format_id", FORMAT_IDS)
@FUZZ
@given(data=st.data())
def test_mutated_valid_documents(format_id: str, data: st.DataObject) -> None:
    document = data.draw(st.sampled_from(DOCUMENTS[format_id]))
    parses_or_explains(format_id, data.draw(mutated(document)))


def reads_or_explains(format_id: str, data: bytes) -> None:
    """A reading whose warnings all say where, or a `FormatError` with reasons."""
    try:
        reading = REGISTRY.get(format_id).read(data, source="fuzz")
    except FormatError as exc:
        problems = exc.problems
    else:
        assert all(w.location for w in reading.warnings)
        return
    assert problems


TAGS = ["BGM", "DTM", "LOC", "NAD", "TDT", "MEA", "MOA", "CUX", "RFF", "TOD", "EQD", "GIS",
        "UNS", "LIN", "CST", "PIA", "GIR", "FTX", "QTY", "PAC", "DOC", "TAX", "CNT"]  # fmt: skip
PARTS = st.text("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ?+:'. ", max_size=12)


@st.composite
def cusdec_messages(draw: st.DrawFn) -> bytes:
    """Envelopes with well-formed counts around random segments of CUSDEC's own tags."""
    body = [
        "+".join([draw(st.sampled_from(TAGS)), *draw(st.lists(PARTS, max_size=5))])
        for _ in range(draw(st.integers(0, 25)))
    ]
    segments = ["UNH+1+CUSDEC:D:96B:UN", *body]
    segments.append(f"UNT+{len(segments) + 1}+1")
    text = "UNB+UNOC:3+A+B+251008:0830+R'" + "'".join(segments) + "'UNZ+1+R'"
    return text.encode("latin-1")


@FUZZ
@given(data=cusdec_messages())
def test_random_cusdec_segments_give_a_reading_or_reasons(data: bytes) -> None:
    """The tolerant CUSDEC reader's branches (stand-ins, kept segments, CST-opened items)."""
    reads_or_explains("cusdec", data)


XML_TAGS = ["DecHead", "DecLists", "DecList", "GNo", "CodeTS", "GName", "GQty", "GUnit",
            "IEFlag", "IEDate", "PreEntryId", "DecSign", "ClientSeqNo", "TrafMode", "Unknown",
            "DecGoodsLimits", "EdocRealation"]  # fmt: skip


@st.composite
def china_trees(draw: st.DrawFn, depth: int = 0) -> str:
    tag = draw(st.sampled_from(XML_TAGS))
    if depth < 3 and draw(st.booleans()):
        children = draw(st.lists(china_trees(depth + 1), max_size=4))
        return f"<{tag}>{''.join(children)}</{tag}>"
    text = draw(st.text("0123456789EI CNY.-", max_size=10))
    return f"<{tag}>{text}</{tag}>"


@FUZZ
@given(sections=st.lists(china_trees(), max_size=6))
def test_random_china_trees_give_a_reading_or_reasons(sections: list[str]) -> None:
    data = f"<DecMessage>{''.join(sections)}</DecMessage>".encode()
    reads_or_explains("cn-swxml", data)
