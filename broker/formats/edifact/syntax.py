"""UN/EDIFACT syntax (ISO 9735): segments in, text out, and back. Pure, no message knowledge.

`UNA:+.? '` (service string advice) names the component, element and segment separators, the
decimal mark and the release character that makes the next character literal (`ACME?+CO?'S` is
`ACME+CO'S`). Line breaks after a segment terminator are tolerated and written for readability,
as most implementations do. Parsing is bounded (segment count, segment length, elements,
components) so hostile input fails fast; a syntax error raises `EdifactSyntaxError` with the
segment number and line where it happened.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Final

from broker.formats.base import ParseLimits

# Syntax identifier (UNB S001/0001) -> the character encoding it stands for (ISO 9735 part 1:
# A and B are subsets of ISO 646, C to K the ISO 8859 parts 1, 2, 5, 7, 3, 4, 6, 8 and 9, W is
# UTF-8). UNOA allows upper case only; its text is still read as ASCII.
CHARSETS: Final = {
    "UNOA": "ascii",
    "UNOB": "ascii",
    "UNOC": "latin-1",
    "UNOD": "iso8859-2",
    "UNOE": "iso8859-5",
    "UNOF": "iso8859-7",
    "UNOG": "iso8859-3",
    "UNOH": "iso8859-4",
    "UNOI": "iso8859-6",
    "UNOJ": "iso8859-8",
    "UNOK": "iso8859-9",
    "UNOW": "utf-8",
}
_TAG: Final = re.compile(r"[A-Z0-9]{3}")


class EdifactSyntaxError(ValueError):
    """The text is not well-formed EDIFACT; `segment` and `line` say where (1-based)."""

    def __init__(self, reason: str, *, segment: int, line: int) -> None:
        self.reason, self.segment, self.line = reason, segment, line
        super().__init__(f"segment {segment}, line {line}: {reason}")


@dataclass(frozen=True, slots=True)
class Delimiters:
    component: str = ":"
    element: str = "+"
    decimal: str = "."
    release: str = "?"
    reserved: str = " "
    segment: str = "'"

    @property
    def una(self) -> str:
        return (
            "UNA"
            + self.component
            + self.element
            + self.decimal
            + self.release
            + self.reserved
            + self.segment
        )

    def escape(self, value: str) -> str:
        release, component, element, segment = (
            self.release, self.component, self.element, self.segment
        )  # fmt: skip
        if (  # most values hold no delimiter: four scans in C instead of a loop per character
            release not in value
            and component not in value
            and element not in value
            and segment not in value
        ):
            return value
        special = (release, component, element, segment)
        return "".join(release + char if char in special else char for char in value)


DEFAULT_DELIMITERS: Final = Delimiters()


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its tag, its data elements (each a tuple of components), where it was."""

    tag: str
    elements: tuple[tuple[str, ...], ...] = ()
    number: int = 0  # position in the interchange, UNB = 1 (UNA is not a segment)
    line: int = 0
    # `where`, formatted once when read: readers name it for every value they take.
    location: str = field(default="", compare=False)

    @classmethod
    def of(cls, tag: str, *elements: str | Sequence[str] | None) -> Segment:
        """`Segment.of("LOC", "22", ("", "", "", "Chongqing"))`; None is an empty element."""
        return cls(
            tag,
            tuple(() if e is None else (e,) if isinstance(e, str) else tuple(e) for e in elements),
        )

    def get(self, element: int, component: int = 1) -> str:
        """Component `component` of data element `element`, both from 1; "" when absent."""
        if element > len(self.elements) or component > len(self.elements[element - 1]):
            return ""
        return self.elements[element - 1][component - 1]

    def components(self, element: int) -> tuple[str, ...]:
        return self.elements[element - 1] if element <= len(self.elements) else ()

    @property
    def where(self) -> str:
        return self.location or f"segment {self.number} ({self.tag}), line {self.line}"


@dataclass
class _Builder:
    """The segment being read: its elements so far and where it began."""

    start: int
    line: int
    elements: list[tuple[str, ...]] = field(default_factory=list)
    components: list[str] = field(default_factory=list)


def read_delimiters(text: str) -> tuple[Delimiters, int]:
    """The delimiters a `UNA` advice declares (defaults without one) and where segments begin."""
    if not text.startswith("UNA"):
        return DEFAULT_DELIMITERS, 0
    if len(text) < 9:
        raise EdifactSyntaxError("UNA service string advice is cut short", segment=0, line=1)
    delimiters = Delimiters(*text[3:9])
    separators = (delimiters.component, delimiters.element, delimiters.release, delimiters.segment)
    if len(set(separators)) != 4:
        raise EdifactSyntaxError("UNA uses one character for two purposes", segment=0, line=1)
    return delimiters, 9


def parse_segments(text: str, *, limits: ParseLimits) -> tuple[Delimiters, list[Segment]]:
    """Split an interchange into segments, releasing escaped characters."""
    delimiters, position = read_delimiters(text)
    quick = _split(text, position, delimiters, limits)
    return delimiters, quick if quick is not None else _tokenized(
        text, position, delimiters, limits
    )


def _split(text: str, position: int, d: Delimiters, limits: ParseLimits) -> list[Segment] | None:
    """The segments, split with `str.split` where a segment holds no release character (most
    do); None if anything is wrong or beyond a bound: `_tokenized` then says what, as always."""
    segments: list[Segment] = []
    line = 1 + text.count("\n", 0, position)
    position, line = _skip_line_breaks(text, position, line)
    component, element, terminator, release = d.component, d.element, d.segment, d.release
    max_chars, max_elements = limits.max_segment_chars, limits.max_elements_per_segment + 1
    max_components, size = limits.max_components_per_element, len(text)
    while position < size:
        end = text.find(terminator, position)
        if end < 0:
            return None
        if text.find(release, position, end) < 0:
            elements = [tuple(part.split(component)) for part in text[position:end].split(element)]
            after = end + 1
        else:
            read = _released_segment(text, position, d, limits)
            if read is None:
                return None
            elements, after = read
        head = elements[0]
        if (
            after - position > max_chars
            or len(elements) > max_elements
            or max(map(len, elements)) > max_components
            or len(head) != 1
            or not _TAG.fullmatch(head[0])
            or len(segments) == limits.max_segments
        ):
            return None
        number, tag = len(segments) + 1, head[0]
        where = f"segment {number} ({tag}), line {line}"
        segments.append(Segment(tag, tuple(elements[1:]), number, line, where))
        line += text.count("\n", position, after)
        position = after
        while position < size and text[position] in "\r\n \t":  # as _skip_line_breaks
            line += text[position] == "\n"
            position += 1
    return segments or None


def _released_segment(
    text: str, position: int, d: Delimiters, limits: ParseLimits
) -> tuple[list[tuple[str, ...]], int] | None:
    """One segment holding release characters: its elements and where the next one may begin."""
    token, released = _patterns(d)
    elements: list[tuple[str, ...]] = []
    components: list[str] = []
    at = position
    while True:
        found = token.match(text, at)
        if found is None or found.end() - position > limits.max_segment_chars:
            return None
        value = found["text"]
        components.append(released.sub(r"\1", value) if d.release in value else value)
        at = found.end()
        separator = found["sep"]
        if separator == d.component:
            continue
        elements.append(tuple(components))
        components = []
        if separator is None or len(elements) > limits.max_elements_per_segment + 1:
            return None
        if separator == d.segment:
            return elements, at


def _tokenized(
    text: str, position: int, delimiters: Delimiters, limits: ParseLimits
) -> list[Segment]:
    """Segments read token by token: release characters, and the precise error if any."""
    d = delimiters
    token, released = _patterns(d)
    segments: list[Segment] = []
    line = 1 + text.count("\n", 0, position)
    position, line = _skip_line_breaks(text, position, line)
    current = _Builder(position, line)
    while position < len(text):
        found = token.match(text, position)
        where = {"segment": len(segments) + 1, "line": current.line}
        if found is None:
            raise EdifactSyntaxError("release character at the end of the data", **where)
        value = found["text"]
        current.components.append(released.sub(r"\1", value) if d.release in value else value)
        position = found.end()
        if position - current.start > limits.max_segment_chars:
            raise EdifactSyntaxError(
                f"segment longer than {limits.max_segment_chars} characters", **where
            )
        if len(current.components) > limits.max_components_per_element:
            raise EdifactSyntaxError("too many components in one element", **where)
        separator = found["sep"]
        if separator == d.component:
            continue
        current.elements.append(tuple(current.components))
        current.components = []
        if len(current.elements) > limits.max_elements_per_segment + 1:
            raise EdifactSyntaxError("too many elements in one segment", **where)
        if separator is None:
            raise EdifactSyntaxError("the last segment has no terminator", **where)
        if separator == d.segment:
            segments.append(_segment(current, len(segments) + 1))
            if len(segments) > limits.max_segments:
                raise EdifactSyntaxError(f"more than {limits.max_segments} segments", **where)
            line = current.line + text.count("\n", current.start, position)
            position, line = _skip_line_breaks(text, position, line)
            current = _Builder(position, line)
    if not segments:
        raise EdifactSyntaxError("no segments found", segment=0, line=1)
    return segments


@functools.cache
def _patterns(d: Delimiters) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A token (text up to the next separator, released characters included) and a release."""
    separators = re.escape(d.component + d.element + d.segment)
    release = re.escape(d.release)
    token = re.compile(
        rf"(?P<text>(?:[^{separators}{release}]|{release}.)*)(?:(?P<sep>[{separators}])|\Z)",
        re.DOTALL,
    )
    return token, re.compile(rf"{release}(.)", re.DOTALL)


def _skip_line_breaks(text: str, position: int, line: int) -> tuple[int, int]:
    """Line ends (and blanks around them) between segments: no tag begins with a blank."""
    while position < len(text) and text[position] in "\r\n \t":
        line += text[position] == "\n"
        position += 1
    return position, line


def _segment(builder: _Builder, number: int) -> Segment:
    head = builder.elements[0]
    if len(head) != 1 or not _TAG.fullmatch(head[0]):
        raise EdifactSyntaxError(
            "a segment must begin with a three-character tag", segment=number, line=builder.line
        )
    tag = head[0]
    where = f"segment {number} ({tag}), line {builder.line}"
    return Segment(tag, tuple(builder.elements[1:]), number, builder.line, where)


def serialize(segments: Iterable[Segment], delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """The interchange text: UNA, then one segment per line, trailing empty parts left out."""
    return "\n".join([delimiters.una, *segment_lines(segments, delimiters)]) + "\n"


def segment_lines(
    segments: Iterable[Segment], delimiters: Delimiters = DEFAULT_DELIMITERS
) -> list[str]:
    """Each segment's text with its terminator, as `serialize` writes them after the UNA."""
    escape, component, element, terminator = (
        delimiters.escape, delimiters.component, delimiters.element, delimiters.segment
    )  # fmt: skip
    lines = []
    for segment in segments:
        elements = [_trimmed([escape(c) for c in components]) for components in segment.elements]
        while elements and not elements[-1]:
            elements.pop()
        joined = [component.join(components) for components in elements]
        lines.append(element.join([segment.tag, *joined]) + terminator)
    return lines


def serialize_segment(segment: Segment, delimiters: Delimiters = DEFAULT_DELIMITERS) -> str:
    """One segment's text without its terminator (`LOC+20+CNCKG`), for keeping it in text."""
    return serialize([segment], delimiters).split("\n", 2)[1][: -len(delimiters.segment)]


def segment_from_text(text: str, *, limits: ParseLimits) -> Segment | None:
    """The one segment `serialize_segment` wrote, or None if `text` is not exactly one."""
    try:
        _, segments = parse_segments(text + DEFAULT_DELIMITERS.segment, limits=limits)
    except EdifactSyntaxError:
        return None
    return segments[0] if len(segments) == 1 else None


def _trimmed(components: list[str]) -> list[str]:
    while components and not components[-1]:
        components.pop()
    return components
