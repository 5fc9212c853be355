"""Write XML from a small element tree: UTF-8, two-space indentation, exact text.

Written here rather than with ElementTree because ElementTree leaves a carriage return in text
unescaped, and every XML parser turns it into a line feed: `&#13;` keeps it. Elements hold either
text or children, never both, so indentation never changes a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final, NamedTuple

# Characters XML 1.0 cannot hold at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF).
XML_REFUSED: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str | None) -> str | None:
    """`text` with each character XML 1.0 cannot hold as U+FFFD, for a text that must be
    written whatever it holds (a receipt quoting a hostile value); None stays None."""
    return None if text is None else XML_REFUSED.sub("\ufffd", text)


_TEXT_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES: Final = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;",
     "\t": "&#9;"}
)  # fmt: skip


class XmlElement(NamedTuple):
    """An element to write; a named tuple: immutable and cheap to build (renders make many)."""

    tag: str
    text: str | None = None
    children: tuple[XmlElement, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()


def leaf(tag: str, text: str | None, **attributes: str) -> XmlElement | None:
    """A text element, or None (left out) when there is no text."""
    if text is None:
        return None
    return XmlElement(tag, text, (), tuple(attributes.items()) if attributes else ())


def group(tag: str, children: Iterable[XmlElement | None]) -> XmlElement | None:
    """An element holding the given children, or None when none of them is present."""
    present = tuple([child for child in children if child is not None])  # a list: faster
    return XmlElement(tag, children=present) if present else None


def to_xml_bytes(root: XmlElement, *, namespace: str | None = None) -> bytes:
    """The document as UTF-8 bytes with an XML declaration; `namespace` is the default one."""
    if namespace:
        root = XmlElement(
            root.tag, root.text, root.children, (("xmlns", namespace), *root.attributes)
        )
    lines = ['<?xml version="1.0" encoding="UTF-8"?>']
    _write(root, 0, lines)
    return ("\n".join(lines) + "\n").encode("utf-8")


def _write(element: XmlElement, depth: int, lines: list[str]) -> None:
    indent = "  " * depth
    tag = element.tag
    if element.attributes:  # most elements have none: no generator for them (hot path)
        tag += "".join(
            f' {name}="{value.translate(_ATTRIBUTE_ESCAPES)}"' for name, value in element.attributes
        )
    if element.children:
        lines.append(f"{indent}<{tag}>")
        for child in element.children:
            _write(child, depth + 1, lines)
        lines.append(f"{indent}</{element.tag}>")
    elif element.text:
        text = element.text.translate(_TEXT_ESCAPES)
        lines.append(f"{indent}<{tag}>{text}</{element.tag}>")
    else:
        lines.append(f"{indent}<{tag}/>")


_STEP: Final = re.compile(r"(?P<tag>[^/\[\]]+)(?:\[(?P<index>[0-9]{1,6})\])?")


def tree_from_paths(entries: Iterable[tuple[str, str]]) -> list[XmlElement] | None:
    """Elements rebuilt from `A/B[2]/C -> text` leaves (see `xml.read.leaves_under`).

    Repeats of one tag come out in index order, tags in the order they first appear. None if a
    path is not of that shape (the caller reports it instead of writing a wrong element).
    """
    root: dict[tuple[str, int], Any] = {}
    for path, text in entries:
        level = root
        steps = path.split("/")
        for position, step in enumerate(steps):
            found = _STEP.fullmatch(step)
            if found is None:
                return None
            key = (found["tag"], int(found["index"] or 0))
            if position == len(steps) - 1:
                if key in level and isinstance(level[key], dict):
                    return None
                level[key] = text
            else:
                child = level.setdefault(key, {})
                if not isinstance(child, dict):
                    return None
                level = child
    return _elements(root)


def _elements(level: dict[tuple[str, int], Any]) -> list[XmlElement]:
    order = list(dict.fromkeys(tag for tag, _ in level))
    out = []
    for tag in order:
        for key in sorted((k for k in level if k[0] == tag), key=lambda k: k[1]):
            value = level[key]
            if isinstance(value, dict):
                out.append(XmlElement(tag, children=tuple(_elements(value))))
            else:
                out.append(XmlElement(tag, value))
    return out
