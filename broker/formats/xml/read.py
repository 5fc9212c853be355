"""Read untrusted XML safely into a small immutable tree that knows each element's path.

Safety: no document type declaration is ever parsed, so entity expansion (billion laughs,
quadratic blowup) and external entities (XXE, `file:///etc/passwd`, DTD retrieval) cannot
happen; size, nesting depth and element count are bounded, so a hostile document fails fast.

Two parsers, one behaviour. libxml2 (lxml) reads every document that is well-formed, has no DTD
and is within the bounds, configured to resolve no entity, load no DTD, use no network, keep
libxml2's own depth and text limits (no `huge_tree`) and drop comments and processing
instructions; nothing ever asks it for XInclude. Everything else (a DTD anywhere, more start tags
than the element bound, any error or warning libxml2 reports) is read again by defusedxml,
which refuses the DTD at its first byte and stops at the first element beyond a bound, as this
reader always did: the reasons and locations of every refusal stay exactly those. lxml is four
to six times faster on the documents that matter (valid ones), the slow reader only costs time
on documents that are refused anyway.

Encoding: the XML declaration is honoured (UTF-8 by default, UTF-16 with a byte order mark, and
GB18030/GBK/GB2312 from legacy Chinese systems). The bytes are decoded here, strictly, so that
GBK bytes declared as UTF-8 are reported with their byte offset instead of being mangled; both
parsers are then given UTF-8. A document without an XML declaration that is not UTF-8 is read as
GB18030 (a superset of GBK and GB2312) with a warning, as Chinese systems write such files.

Tolerance: namespaces (default or prefixed, any URI: unexpected ones are a warning), `xsi:`
attributes, CDATA, CRLF line ends and stray text between elements (a warning, the text ignored)
are all accepted; the element tree is what counts.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Mapping
from typing import Any, Final, NamedTuple
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse
from lxml import etree

from broker.formats.base import ParseLimits
from broker.formats.problems import ProblemLog

# Declared encoding (lower case) -> Python codec. Anything else is refused, not guessed.
_CODECS: Final = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-16": "utf-16",
    # GB18030 decodes every GBK and GB2312 text, and the GBK characters that documents
    # declared as GB2312 often hold anyway.
    "gb18030": "gb18030",
    "gbk": "gb18030",
    "gb2312": "gb18030",
    "gb_2312-80": "gb18030",
    "cp936": "gb18030",
    "iso-8859-1": "latin-1",
    "latin-1": "latin-1",
    "us-ascii": "ascii",
    "ascii": "ascii",
}
XSI: Final = "http://www.w3.org/2001/XMLSchema-instance"
_DECLARATION: Final = re.compile(r"\A<\?xml\b[^>]*?\?>")
_PREFIX: Final = re.compile(rb"[^\s=<>/\"']*")
_ENCODING: Final = re.compile(r"""\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class XmlNode(NamedTuple):
    """One element: local name, path such as `/DecMessage/DecLists/DecList[3]`, text, children.

    A named tuple rather than a frozen dataclass: as immutable, and built three times faster,
    which counts for every element of every document.
    """

    tag: str
    path: str
    text: str
    attributes: Mapping[str, str]
    children: tuple[XmlNode, ...]


# Attributes of one element the fast path reads; an element with more goes to the reference
# reader (linear), since lxml finds each attribute value by a scan of the element's attributes.
_MAX_FAST_ATTRIBUTES: Final = 64


class _Abort(Exception):
    """A limit was exceeded while parsing; the problem is already logged."""


class _Unsure(Exception):
    """libxml2 met something the fast path leaves to the reference reader."""


def read_xml(
    data: bytes,
    *,
    log: ProblemLog,
    limits: ParseLimits,
    namespaces: frozenset[str],
    reference: bool = False,
) -> XmlNode | None:
    """The document's root, or None when it cannot be read (every reason logged in `log`).

    Elements must be in no namespace or one of `namespaces`; their tags are given without it.
    `reference` reads with defusedxml alone (benchmarks and tests compare the two readers).
    """
    if len(data) > limits.max_bytes:
        log.add(
            f"document is larger than {limits.max_bytes} bytes", location="byte 0", code="too_large"
        )
        return None
    text = _decode(data, log)
    if text is None:
        return None
    # The text is decoded already: blank out the declaration's encoding, keeping every position.
    blanked = _DECLARATION.sub(lambda found: " " * len(found.group()), text, count=1)
    utf8 = blanked.encode("utf-8")
    if not reference:
        try:
            return _tree(_parse_fast(utf8, limits), log, namespaces, fast=limits.max_xml_depth)
        except _Unsure:
            pass
        except _Abort:
            return None
    root = _parse(utf8, log, limits, blanked)
    return None if root is None else _tree(root, log, namespaces, fast=None)


def _parse_fast(utf8: bytes, limits: ParseLimits) -> Any:
    """The root element as libxml2 reads it; `_Unsure` unless the document is plainly fine.

    A DTD anywhere, more possible start tags than the element bound, a processing instruction,
    a namespace prefix outside ASCII, any error or warning: the reference reader decides, with
    its reasons and locations, and stops where it must.
    """
    if (
        b"<!DOCTYPE" in utf8
        # The XML declaration is blanked: what is left is a processing instruction (or a
        # misplaced declaration), whose target libxml2 would check by other rules than expat.
        or b"<?" in utf8
        or utf8.count(b"<") - utf8.count(b"</") > limits.max_xml_elements
        or not _ascii_prefixes(utf8)
    ):
        raise _Unsure
    # A parser per document: lxml parsers are not to be shared between threads, and one costs
    # about a microsecond.
    parser = etree.XMLParser(
        encoding="utf-8",  # the bytes are UTF-8 whatever the (blanked) declaration said
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,  # keeps libxml2's own bounds: depth 256, 10 MB per text node
        remove_comments=True,
        remove_pis=True,
        collect_ids=False,
        recover=False,
    )
    try:
        root = etree.fromstring(utf8, parser)
    except etree.LxmlError:  # XMLSyntaxError and kin: the reference reader says why
        raise _Unsure from None
    docinfo = root.getroottree().docinfo
    if parser.error_log or docinfo.doctype or docinfo.internalDTD is not None:
        raise _Unsure
    return root


def _ascii_prefixes(utf8: bytes) -> bool:
    """Whether every namespace prefix declared (`xmlns:p=`) is ASCII.

    Names outside ASCII are where libxml2 (XML 1.0 5th edition) and expat (4th) disagree;
    element and attribute names are checked on the tree, prefixes only show where declared.
    """
    at = utf8.find(b"xmlns:")
    while at >= 0:
        prefix = _PREFIX.match(utf8, at + 6)
        if prefix is None or not prefix.group().isascii():
            return False
        at = utf8.find(b"xmlns:", prefix.end())
    return True


def _decode(data: bytes, log: ProblemLog) -> str | None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        declared, codec = "UTF-16", "utf-16"
    else:
        data = data.removeprefix(codecs.BOM_UTF8)
        head = data[:200].decode("ascii", errors="replace")
        declaration = _DECLARATION.match(head.lstrip())
        found = _ENCODING.search(head) if declaration else None
        declared = found.group(1) if found else "UTF-8"
        if declaration is None and not _is_utf8(data):
            log.warn(
                "no XML declaration and the bytes are not UTF-8: read as GB18030",
                location="byte 0",
                code="guessed_encoding",
            )
            declared = "GB18030"
        if declared.lower() not in _CODECS:
            log.add(
                f"encoding {declared!r} is not supported (use UTF-8 or GB18030)",
                location="XML declaration",
                value=declared,
                code="unsupported_encoding",
            )
            return None
        codec = _CODECS[declared.lower()]
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        log.add(
            f"bytes are not valid {declared} as the document declares ({exc.reason})",
            location=f"byte {exc.start}",
            value=data[exc.start : exc.start + 8].hex(" "),
            code="bad_encoding",
        )
        return None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _parse(utf8: bytes, log: ProblemLog, limits: ParseLimits, text: str) -> Element | None:
    depth = elements = 0
    root = None
    try:
        for event, element in iterparse(io.BytesIO(utf8), events=("start", "end"), forbid_dtd=True):
            if event == "end":
                depth -= 1
                continue
            depth, elements = depth + 1, elements + 1
            root = element if root is None else root
            if depth > limits.max_xml_depth or elements > limits.max_xml_elements:
                what = "nested deeper" if depth > limits.max_xml_depth else "more elements"
                log.add(
                    f"document has {what} than this adapter allows",
                    location=f"element {elements} ({_local(element.tag)})",
                    code="too_large",
                )
                raise _Abort
    except _Abort:
        return None
    except DefusedXmlException:
        # Its text names the referenced entity or file; the user needs none of that.
        log.add(
            "document type declarations (DTD) are refused: no entity expansion, no external "
            "references",
            location=_where(text, text.find("<!DOCTYPE")),
            code="dtd_forbidden",
        )
        return None
    except ParseError as exc:
        line, column = exc.position
        log.add(
            f"not well-formed XML ({_expat_reason(exc)})",
            location=f"line {line}, column {column + 1}",
            code="malformed_xml",
        )
        return None
    return root


def _where(text: str, index: int) -> str:
    """`line L, column C` (both from 1) of `index` in `text`; `DOCTYPE` if not found."""
    if index < 0:
        return "DOCTYPE"
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"line {line}, column {column}"


def _expat_reason(exc: ParseError) -> str:
    return str(exc).split(":", 1)[0]


def _tree(root: Any, log: ProblemLog, namespaces: frozenset[str], *, fast: int | None) -> XmlNode:
    """The XmlNode tree of an lxml or ElementTree element; warnings logged once it is built.

    `fast` is the depth bound for an lxml tree (None for the reference reader's, which checked
    its bounds while parsing): the first element deeper than it (in document order, as a
    streaming parser meets it) aborts with the problem the reference reader gives, nothing else
    logged; an element with too many attributes for lxml raises `_Unsure`.
    """
    walk = _Walk(namespaces, fast)
    local = walk.local(root.tag)
    try:
        node = walk.node(root, local, f"/{local}", 1)
    except _TooDeep as exc:
        log.add(
            "document has nested deeper than this adapter allows",
            location=exc.location,
            code="too_large",
        )
        raise _Abort from None
    for message, location, value, code in walk.warnings:
        log.warn(message, location=location, value=value, code=code)
    return node


class _TooDeep(Exception):
    def __init__(self, location: str) -> None:
        self.location = location


class _Walk:
    """One pass over a parsed tree: paths, local names, warnings in document order."""

    def __init__(self, namespaces: frozenset[str], max_depth: int | None) -> None:
        self.namespaces = namespaces
        self.fast = max_depth is not None
        self.max_depth = max_depth or 1 << 30
        self.count = 0
        self.names: dict[Any, str] = {}
        self.foreign: set[str] = set()  # tags in a namespace not in `namespaces`
        self.warnings: list[tuple[str, str, str | None, str]] = []

    def local(self, tag: Any) -> str:
        found = self.names.get(tag)
        if found is None:
            # Not a name (a comment, processing instruction, entity node), or one outside ASCII:
            # libxml2 takes the name characters of XML 1.0 5th edition, expat those of the 4th
            # (U+FEFF inside a name, say), and the reference reader is the one that decides.
            if self.fast and (type(tag) is not str or not tag.isascii()):
                raise _Unsure
            namespace, _, found = tag[1:].rpartition("}") if tag[0] == "{" else ("", "", tag)
            if namespace and namespace not in self.namespaces:
                self.foreign.add(tag)
            self.names[tag] = found
        return found

    def node(self, element: Any, tag: str, path: str, depth: int) -> XmlNode:
        # Hot path: runs for every element of every document, so plain dicts and no helpers.
        self.count += 1
        if depth > self.max_depth:
            raise _TooDeep(f"element {self.count} ({tag})")
        if self.foreign and (raw := element.tag) in self.foreign:
            namespace = raw[1:].rpartition("}")[0]
            self.warnings.append(
                (
                    f"element is in unexpected namespace {namespace!r}; read by its local name",
                    path,
                    None,
                    "unknown_namespace",
                )
            )
        nodes: tuple[XmlNode, ...] = ()
        if len(element):
            names = self.names
            children = []
            totals: dict[str, int] = {}
            for child in element:
                child_tag = names.get(child.tag) or self.local(child.tag)
                children.append((child, child_tag))
                totals[child_tag] = totals.get(child_tag, 0) + 1
            repeats = len(totals) != len(children)
            seen: dict[str, int] = {}
            built = []
            for child, child_tag in children:
                if repeats and totals[child_tag] > 1:
                    seen[child_tag] = index = seen.get(child_tag, 0) + 1
                    child_path = f"{path}/{child_tag}[{index}]"
                else:
                    child_path = f"{path}/{child_tag}"
                built.append(self.node(child, child_tag, child_path, depth + 1))
                tail = child.tail
                if tail and not tail.isspace():
                    self.warnings.append(
                        ("text between elements is ignored", child_path, tail.strip(),
                         "unexpected_text")
                    )  # fmt: skip
            nodes = tuple(built)
        text = element.text or ""
        if nodes and text and not text.isspace():
            self.warnings.append(
                ("text beside child elements is ignored", path, text.strip(), "unexpected_text")
            )
        attributes: dict[str, str] = {}
        if attribute_names := element.keys():
            if self.fast and (
                len(attribute_names) > _MAX_FAST_ATTRIBUTES
                or not all(n.isascii() for n in attribute_names)
            ):
                raise _Unsure  # lxml looks each value up by name: O(n²); names as above
            attributes = {
                _local(name): value
                for name, value in element.items()
                if not name.startswith("{" + XSI)
            }
        return XmlNode(tag, path, text, attributes, nodes)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


class Children:
    """The children of one element, checked against the tags it may hold once or repeatedly.

    An unknown tag is a warning (the node goes to `log.unread`, for extensions); a repeat of a
    tag allowed once is an error. Lookups then never fail, an absent element is simply None (or
    empty), with the path it would have had for locations.
    """

    def __init__(
        self,
        node: XmlNode | None,
        log: ProblemLog,
        *,
        path: str,
        once: tuple[str, ...] = (),
        repeated: tuple[str, ...] = (),
    ) -> None:
        self.path = node.path if node else path
        self._children: dict[str, list[XmlNode]] = {}
        for child in node.children if node else ():
            if child.tag not in once and child.tag not in repeated:
                log.warn(
                    f"unknown element {child.tag}: kept in extensions",
                    location=child.path,
                    code="unknown_element",
                )
                log.unread.append(child)
            elif child.tag in once and child.tag in self._children:
                log.add(
                    f"{child.tag} appears more than once",
                    location=child.path,
                    code="duplicate_element",
                )
            else:
                self._children.setdefault(child.tag, []).append(child)

    def first(self, tag: str) -> XmlNode | None:
        found = self._children.get(tag)
        return found[0] if found else None

    def every(self, tag: str) -> list[XmlNode]:
        return self._children.get(tag, [])

    def where(self, tag: str) -> str:
        found = self.first(tag)
        return found.path if found else f"{self.path}/{tag}"


def leaves_under(node: XmlNode, base: str) -> dict[str, str]:
    """Every leaf below `node` (itself, if it is one) as path relative to `base` -> text.

    Paths keep the repeat index XmlNode paths carry (`DecLicenseDocus/LicenseDocu[2]/DocuCode`)
    so `broker.formats.xml.write.tree_from_paths` can rebuild the same elements. An empty group
    (`<DecUsers/>`) is a leaf with empty text, so it comes back too.
    """
    found: dict[str, str] = {}
    cut = len(base) + 1
    stack = [node]
    while stack:
        current = stack.pop()
        if current.children:
            stack.extend(reversed(current.children))
        else:
            found[current.path[cut:]] = current.text
    return found
