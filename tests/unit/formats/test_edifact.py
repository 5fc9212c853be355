"""The EDIFACT syntax layer: release character, service string advice, limits, exact bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.formats.base import ParseLimits
from broker.formats.edifact import syntax
from broker.formats.edifact.syntax import (
    DEFAULT_DELIMITERS,
    Delimiters,
    EdifactSyntaxError,
    Segment,
    parse_segments,
    serialize,
)

LIMITS = ParseLimits()


def test_release_character_escapes_separators() -> None:
    _, segments = parse_segments("UNB+ACME?+CO?'S:X??Y'", limits=LIMITS)
    assert segments[0].elements == (("ACME+CO'S", "X?Y"),)


def test_serialize_writes_una_and_escapes_exactly() -> None:
    text = serialize([Segment.of("NAD", "IM", None, None, ("O'NEILL + SONS", "A:B"))])
    assert text == "UNA:+.? '\nNAD+IM+++O?'NEILL ?+ SONS:A?:B'\n"


def test_trailing_empty_elements_and_components_are_left_out() -> None:
    text = serialize([Segment.of("TDT", "11", None, "3", None, None, None, None, ("X1", "", ""))])
    assert text.splitlines()[1] == "TDT+11++3+++++X1'"


def test_service_string_advice_sets_the_delimiters() -> None:
    delimiters, segments = parse_segments("UNA;*,! #UNB*A;B*C!*D#\r\nUNZ*1#", limits=LIMITS)
    assert delimiters == Delimiters(";", "*", ",", "!", " ", "#")
    assert segments[0].elements == (("A", "B"), ("C*D",))
    assert segments[1].line == 2


def test_segment_numbers_and_lines_say_where() -> None:
    _, segments = parse_segments("UNA:+.? '\nUNB+X'\nUNH+1'\nLIN+1'", limits=LIMITS)
    assert [s.where for s in segments][-1] == "segment 3 (LIN), line 4"


def test_missing_component_reads_as_empty() -> None:
    _, (segment,) = parse_segments("LOC+22'", limits=LIMITS)
    assert segment.get(2) == ""
    assert segment.get(1, 3) == ""
    assert segment.components(5) == ()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("UNB+A?", "release character at the end"),
        ("UNB+A'UNZ+1", "no terminator"),
        ("UN+A'", "three-character tag"),
        ("", "no segments"),
        ("UNA:+", "cut short"),
        ("UNA::.? '", "one character for two purposes"),
    ],
)
def test_syntax_errors_say_what_and_where(text: str, reason: str) -> None:
    with pytest.raises(EdifactSyntaxError, match=reason):
        parse_segments(text, limits=LIMITS)


@pytest.mark.parametrize(
    ("text", "limits", "reason"),
    [
        ("UNB+1'" * 11, ParseLimits(max_segments=10), "more than 10 segments"),
        ("FTX+" + "x" * 200 + "'", ParseLimits(max_segment_chars=100), "longer than 100"),
        ("FTX" + "+a" * 12 + "'", ParseLimits(max_elements_per_segment=10), "too many elements"),
        (
            "FTX+" + "a:" * 12 + "'",
            ParseLimits(max_components_per_element=10),
            "too many components",
        ),
    ],
)
def test_limits_stop_hostile_input(text: str, limits: ParseLimits, reason: str) -> None:
    with pytest.raises(EdifactSyntaxError, match=reason):
        parse_segments(text, limits=limits)


TEXT = st.text(st.characters(codec="utf-8"), max_size=20)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.lists(st.lists(TEXT, min_size=1, max_size=3), max_size=4), min_size=1, max_size=5)
)
def test_any_text_survives_serialize_then_parse(elements: list[list[list[str]]]) -> None:
    segments = [
        Segment.of("FTX", *(tuple(components) for components in element)) for element in elements
    ]
    _, back = parse_segments(serialize(segments), limits=LIMITS)
    assert [s.elements for s in back] == [_trimmed(s.elements) for s in segments]


def _trimmed(elements: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    """What serialize keeps: trailing empty components and elements are not written."""
    kept = [tuple(_strip(list(e))) for e in elements]
    while kept and not kept[-1]:
        kept.pop()
    return tuple(e if e else ("",) for e in kept)


def _strip(components: list[str]) -> list[str]:
    while components and not components[-1]:
        components.pop()
    return components


def test_default_delimiters_are_the_iso_9735_ones() -> None:
    assert DEFAULT_DELIMITERS.una == "UNA:+.? '"


def _either(text: str, limits: ParseLimits) -> object:
    try:
        return parse_segments(text, limits=limits)
    except EdifactSyntaxError as exc:
        return ("error", str(exc), exc.segment, exc.line)


def _tokenized_only(text: str, limits: ParseLimits) -> object:
    with pytest.MonkeyPatch.context() as patch:  # the splitting fast path never answers
        patch.setattr(syntax, "_split", lambda *args: None)
        return _either(text, limits)


SEGMENT = st.builds(
    lambda tag, parts, end: tag + "".join("+" + part for part in parts) + end,
    st.sampled_from(["UNH", "BGM", "LIN", "ab", "UN", ""]),
    st.lists(st.text("AB01:+? \n'", max_size=6), max_size=5),
    st.sampled_from(["'", "'\n", "'\r\n  ", ""]),
)
PLAIN_PARTS = st.lists(SEGMENT, max_size=6).map("".join) | st.text("ABCUNH01+:'\n\r \t.")
TIGHT = ParseLimits(
    max_segments=4, max_segment_chars=12, max_elements_per_segment=3, max_components_per_element=3
)


@settings(max_examples=300, deadline=None)
@given(
    una=st.sampled_from(["", "UNA:+.? '", "UNA:+.?\n'"]),
    body=PLAIN_PARTS,
    limits=st.sampled_from([LIMITS, TIGHT]),
)
def test_split_and_tokenized_readings_agree(una: str, body: str, limits: ParseLimits) -> None:
    # Segments are read by splitting where they hold no release character: the same segments,
    # numbers and lines as the token reader, and where anything is wrong, the same error.
    text = una + body
    assert _either(text, limits) == _tokenized_only(text, limits)


def test_released_characters_are_read_without_the_whole_token_reader() -> None:
    text = "UNH+1'FTX+AAA+++O?'NEILL ?+ SONS:A??'\nUNT+3+1'"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(syntax, "_tokenized", lambda *args: pytest.fail("not the token reader"))
        _, segments = parse_segments(text, limits=LIMITS)
    assert segments[1].elements == (("AAA",), ("",), ("",), ("O'NEILL + SONS", "A?"))
    assert _either(text, LIMITS) == _tokenized_only(text, LIMITS)
