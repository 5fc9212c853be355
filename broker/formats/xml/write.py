"""Write XML from a small element tree: UTF-8, two-space indentation, exact text.

Written here rather than with ElementTree because ElementTree leaves a carriage return in text
unescaped, and every XML parser turns it into a line feed: `&#13;` keeps it. Elements hold either
text or children, never both, so indentation never changes a value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

# Characters XML 1.0 cannot hold at all (most C0 controls, lone surrogates, U+FFFE/U+FFFF).
XML_REFUSED: Final = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

_TEXT_ESCAPES: Final = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE_ESCAPES: Final = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;",
     "\t": "&#9;"}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class XmlElement:
    tag: str
    text: str | None = None
    children: tuple[XmlElement, ...] = ()
    attributes: tuple[tuple[str, str], ...] = ()


def leaf(tag: str, text: str | None, **attributes: str) -> XmlElement | None:
    """A text element, or None (left out) when there is no text."""
    if text is None:
        return None
    return XmlElement(tag, text, attributes=tuple(attributes.items()))


def group(tag: str, children: Iterable[XmlElement | None]) -> XmlElement | None:
    """An element holding the given children, or None when none of them is present."""
    present = tuple(child for child in children if child is not None)
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
    attributes = "".join(
        f' {name}="{value.translate(_ATTRIBUTE_ESCAPES)}"' for name, value in element.attributes
    )
    if element.children:
        lines.append(f"{indent}<{element.tag}{attributes}>")
        for child in element.children:
            _write(child, depth + 1, lines)
        lines.append(f"{indent}</{element.tag}>")
    elif element.text:
        text = element.text.translate(_TEXT_ESCAPES)
        lines.append(f"{indent}<{element.tag}{attributes}>{text}</{element.tag}>")
    else:
        lines.append(f"{indent}<{element.tag}{attributes}/>")
