"""Read untrusted XML safely into a small immutable tree that knows each element's path.

Safety: defusedxml refuses any DTD, so entity expansion (billion laughs) and external entities
(XXE, e.g. `file:///etc/passwd`) fail before anything is expanded or read; size, nesting depth
and element count are bounded and checked while parsing, so a hostile document fails fast.

Encoding: the XML declaration is honoured (UTF-8 by default, UTF-16 with a byte order mark, and
GB18030/GBK/GB2312 from legacy Chinese systems). The bytes are decoded here, strictly, so that
GBK bytes declared as UTF-8 are reported with their byte offset instead of being mangled; expat
itself cannot read the multi-byte Chinese encodings. A document without an XML declaration that
is not UTF-8 is read as GB18030 (a superset of GBK and GB2312) with a warning, as Chinese
systems write such files.

Tolerance: namespaces (default or prefixed, any URI: unexpected ones are a warning), `xsi:`
attributes, CDATA, CRLF line ends and stray text between elements (a warning, the text ignored)
are all accepted; the element tree is what counts.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

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
_ENCODING: Final = re.compile(r"""\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


@dataclass(frozen=True, slots=True)
class XmlNode:
    """One element: local name, path such as `/DecMessage/DecLists/DecList[3]`, text, children."""

    tag: str
    path: str
    text: str
    attributes: Mapping[str, str]
    children: tuple[XmlNode, ...]


class _Abort(Exception):
    """A limit was exceeded while parsing; the problem is already logged."""


def read_xml(
    data: bytes, *, log: ProblemLog, limits: ParseLimits, namespaces: frozenset[str]
) -> XmlNode | None:
    """The document's root, or None when it cannot be read (every reason logged in `log`).

    Elements must be in no namespace or one of `namespaces`; their tags are given without it.
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
    root = _parse(blanked.encode("utf-8"), log, limits, blanked)
    return None if root is None else _node(root, f"/{_local(root.tag)}", log, namespaces)


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


def _node(element: Element, path: str, log: ProblemLog, namespaces: frozenset[str]) -> XmlNode:
    tag = element.tag
    if tag[0] == "{":
        namespace, _, tag = tag[1:].partition("}")
        if namespace not in namespaces:
            log.warn(
                f"element is in unexpected namespace {namespace!r}; read by its local name",
                location=path,
                code="unknown_namespace",
            )
    nodes: tuple[XmlNode, ...] = ()
    if len(element):
        children = list(element)
        tags = [_local(child.tag) for child in children]
        # Plain dicts, not Counter: this runs for every element of every document (hot path).
        totals: dict[str, int] = {}
        for child_tag in tags:
            totals[child_tag] = totals.get(child_tag, 0) + 1
        seen: dict[str, int] = {}
        built = []
        for child, child_tag in zip(children, tags, strict=True):
            if totals[child_tag] > 1:
                seen[child_tag] = index = seen.get(child_tag, 0) + 1
                child_path = f"{path}/{child_tag}[{index}]"
            else:
                child_path = f"{path}/{child_tag}"
            built.append(_node(child, child_path, log, namespaces))
            if child.tail and not child.tail.isspace():
                log.warn(
                    "text between elements is ignored",
                    location=child_path,
                    value=child.tail.strip(),
                    code="unexpected_text",
                )
        nodes = tuple(built)
    text = element.text or ""
    if nodes and text and not text.isspace():
        log.warn(
            "text beside child elements is ignored",
            location=path,
            value=text.strip(),
            code="unexpected_text",
        )
    attributes = element.attrib
    if attributes:
        attributes = {_local(n): v for n, v in attributes.items() if not n.startswith("{" + XSI)}
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
