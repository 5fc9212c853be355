"""The XML reader: libxml2 (lxml) on the fast path, hardened, and the same answers as defusedxml.

The reader gives libxml2 only documents with no DTD, within the element bound, and takes its tree
only when libxml2 reports nothing at all; defusedxml (the reference reader) decides everything
else. These tests hold both halves: dangers particular to libxml2 (parameter entities, XInclude,
processing instructions, CDATA, attribute lookups that grow with the attribute count, libxml2's
own depth limit), and that the fast path gives exactly what the reference reader gives, on the
corpus, on mutated documents and at every bound.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from broker.errors import FormatError
from broker.formats import ParseLimits, default_registry
from broker.formats.problems import ProblemLog
from broker.formats.xml import read
from broker.formats.xml.read import XmlNode, read_xml
from tests.unit.formats.test_fuzz import DOCUMENTS, mutated

REGISTRY = default_registry()
NAMESPACES = frozenset({"http://www.chinaport.gov.cn/dec", "urn:ilstc:broker:acdd:1"})
XML_DOCUMENTS = DOCUMENTS["cn-swxml"] + DOCUMENTS["acdd-xml"]


def _outcome(log: ProblemLog, root: XmlNode | None) -> tuple[Any, ...]:
    return root, log.problems, log.warnings


def _read(data: bytes, limits: ParseLimits, *, reference: bool = False) -> tuple[Any, ...]:
    log = ProblemLog("cn-swxml", "x.xml")
    root = read_xml(data, log=log, limits=limits, namespaces=NAMESPACES, reference=reference)
    return _outcome(log, root)


def both_readers(data: bytes, limits: ParseLimits | None = None) -> tuple[Any, Any, bool]:
    """(fast reader's outcome, reference reader's outcome, whether defusedxml was spared)."""
    limits = limits or ParseLimits()
    reference_calls: list[bytes] = []
    reference_parse = read._parse

    def spied(utf8: bytes, *args: Any) -> Any:
        reference_calls.append(utf8)
        return reference_parse(utf8, *args)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(read, "_parse", spied)
        fast = _read(data, limits)
    used = not reference_calls
    reference = _read(data, limits, reference=True)
    return fast, reference, used


def test_valid_documents_take_the_fast_path_and_read_exactly_as_the_reference() -> None:
    for document in XML_DOCUMENTS:
        fast, reference, used = both_readers(document)
        assert used
        assert fast == reference
        assert fast[0] is not None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_mutated_documents_read_exactly_as_the_reference(data: st.DataObject) -> None:
    document = data.draw(st.sampled_from(XML_DOCUMENTS))
    fast, reference, _ = both_readers(data.draw(mutated(document)))
    assert fast == reference


def _nested(depth: int) -> bytes:
    return b"<DecMessage>" + b"<a>" * depth + b"x" + b"</a>" * depth + b"</DecMessage>"


@pytest.mark.parametrize("depth", [31, 32, 33, 255, 256, 300])
def test_depth_bound_is_the_reference_one_on_both_sides_of_libxml2_own(depth: int) -> None:
    # 32 is the adapter's bound; libxml2 without huge_tree stops at 256 by itself.
    fast, reference, _ = both_readers(_nested(depth))
    assert fast == reference
    if depth >= 32:
        (problem,) = fast[1]
        assert (problem.code, problem.location) == ("too_large", "element 33 (a)")
    else:
        assert fast[0] is not None


@pytest.mark.parametrize("extra", [-1, 0, 1])
def test_element_bound_is_the_reference_one(extra: int) -> None:
    bound = 40
    data = b"<DecMessage>" + b"<x/>" * (bound - 1 + extra) + b"</DecMessage>"
    fast, reference, used = both_readers(data, ParseLimits(max_xml_elements=bound))
    assert fast == reference
    assert used == (extra <= 0)  # beyond the bound libxml2 is never asked to build the tree
    if extra > 0:
        (problem,) = fast[1]
        assert (problem.code, problem.location) == ("too_large", f"element {bound + 1} (x)")


DTD_DOCUMENTS = [
    b'<!DOCTYPE DecMessage [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><DecMessage/>',
    b"<!DOCTYPE DecMessage [<!ENTITY % d \"<!ENTITY e 'x'>\"> %d;]><DecMessage>&e;</DecMessage>",
    b'<!DOCTYPE DecMessage SYSTEM "http://127.0.0.1:9/decmessage.dtd"><DecMessage/>',
    b'<!DOCTYPE DecMessage PUBLIC "-//X//DTD X//EN" "file:///etc/passwd"><DecMessage/>',
    b"<!DOCTYPE DecMessage [<!ATTLIST DecMessage a CDATA 'injected'>]><DecMessage/>",
]


@pytest.mark.parametrize("data", DTD_DOCUMENTS)
def test_a_dtd_of_any_kind_never_reaches_libxml2(data: bytes) -> None:
    calls: list[bytes] = []
    real = etree.fromstring

    def spied(text: Any, parser: Any = None, **kwargs: Any) -> Any:
        calls.append(text)
        return real(text, parser, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(etree, "fromstring", spied)
        with pytest.raises(FormatError) as caught:
            REGISTRY.get("cn-swxml").parse(data, source="dtd.xml")
    assert calls == []
    (problem,) = caught.value.problems
    assert problem.code == "dtd_forbidden"
    assert problem.location == "line 1, column 1"
    assert "passwd" not in repr(caught.value.problems)


def test_xinclude_is_never_processed() -> None:
    data = (
        b'<DecMessage xmlns="http://www.chinaport.gov.cn/dec"><DecHead><NoteS>n</NoteS></DecHead>'
        b'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="file:///etc/passwd"'
        b' parse="text"/></DecMessage>'
    )
    fast, reference, used = both_readers(data)
    assert used
    assert fast == reference
    root = fast[0]
    assert root is not None
    assert [child.tag for child in root.children] == ["DecHead", "include"]
    assert root.children[1].attributes == {"href": "file:///etc/passwd", "parse": "text"}
    assert "root:" not in repr(root)
    assert [w.code for w in fast[2]] == ["unknown_namespace"]


def test_processing_instructions_and_comments_are_dropped_and_cdata_is_text() -> None:
    data = (
        b'<?xml-stylesheet type="text/xsl" href="http://127.0.0.1:9/x.xsl"?>'
        b"<DecMessage><DecHead><NoteS>a<![CDATA[<b>&amp;]]>c<!-- x -->d<?pi data?>e</NoteS>"
        b"</DecHead></DecMessage>"
    )
    fast, reference, used = both_readers(data)
    assert not used  # libxml2 checks PI targets by other rules than expat: never asked
    assert fast == reference
    assert fast[0].children[0].children[0].text == "a<b>&amp;cde"
    without_pis = data.replace(b"<?pi data?>", b"").split(b"?>", 1)[1]
    fast, reference, used = both_readers(without_pis)
    assert used
    assert fast == reference
    assert fast[0].children[0].children[0].text == "a<b>&amp;cde"


def test_an_undeclared_entity_is_malformed_not_looked_up() -> None:
    data = b"<DecMessage><DecHead><NoteS>&xxe;</NoteS></DecHead></DecMessage>"
    fast, reference, used = both_readers(data)
    assert not used
    assert fast == reference
    (problem,) = fast[1]
    assert (problem.code, problem.location) == ("malformed_xml", "line 1, column 29")


def _attributes(count: int) -> bytes:
    return b"<DecMessage " + b" ".join(b'a%d="v"' % i for i in range(count)) + b"/>"


@pytest.mark.parametrize("count", [64, 65, 20_000])
def test_many_attributes_go_to_the_reference_reader_which_is_linear(count: int) -> None:
    # lxml finds each attribute value by a scan of the element's attributes: reading 20,000
    # of them through lxml takes half a second, 600,000 (10 MB) would take minutes.
    fast, reference, used = both_readers(_attributes(count))
    assert fast == reference
    assert fast[0].attributes == {f"a{i}": "v" for i in range(count)}
    assert used == (count <= 64)


def test_duplicates_unbound_prefixes_and_names_beyond_ascii_are_refused_as_before() -> None:
    for data, reason in [
        (b'<DecMessage a="1" a="2"/>', "duplicate attribute"),
        (b"<DecMessage><x:DecHead/></DecMessage>", "unbound prefix"),
        # Name characters of XML 1.0 5th edition (libxml2) that the 4th (expat) refuses.
        ("<DecMessage><Dec\ufeffHead/></DecMessage>".encode(), "invalid token"),
        ('<DecMessage a\ufeff="1"/>'.encode(), "invalid token"),
        ('<DecMessage xmlns:p\U0001f3ee="urn:p"/>'.encode(), "invalid token"),
        ('<p\U0001f3ee:DecMessage xmlns:p\U0001f3ee="urn:p"/>'.encode(), "invalid token"),
    ]:
        fast, reference, used = both_readers(data)
        assert not used
        assert fast == reference
        (problem,) = fast[1]
        assert problem.code == "malformed_xml"
        assert reason in problem.reason


def real_xml() -> Iterator[Path]:
    for sidecar in sorted((Path(__file__).parents[2] / "data" / "real").glob("*.xml.json")):
        if json.loads(sidecar.read_text("utf-8"))["format"] in ("cn-swxml", "acdd-xml"):
            yield sidecar.with_suffix("")


@pytest.mark.parametrize("path", list(real_xml()), ids=lambda p: p.name)
def test_encodings_and_byte_order_marks_of_real_documents_take_the_fast_path(path: Path) -> None:
    fast, reference, used = both_readers(path.read_bytes())
    assert used
    assert fast == reference
