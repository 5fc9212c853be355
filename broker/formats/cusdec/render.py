"""Render a canonical `Declaration` as a UN/EDIFACT CUSDEC D.96B interchange.

The syntax identifier follows the text: UNOC (ISO 8859-1) when every character fits, else UNOW
(UTF-8), so Chinese, Thai, Lao and Burmese names are never dropped or replaced. Forcing UNOC on
such text fails with the fields named. UNT and CNT counts are computed from what is written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import UTC
from typing import Any, Final, Literal

from broker.errors import FormatError
from broker.formats.base import ParseLimits, RenderResult
from broker.formats.cusdec import layout as q
from broker.formats.edifact.syntax import (
    CHARSETS,
    DEFAULT_DELIMITERS,
    Segment,
    segment_from_text,
    segment_lines,
)
from broker.formats.normalize import plain
from broker.formats.paths import RenderLedger, unencodable_text
from broker.model import Declaration, MessageFunction

Syntax = Literal["auto", "UNOC", "UNOW"]

# `extensions.cusdec:LOC#1`, `extensions.cusdec:item[3]/TAX#2`, `extensions.cusdec:summary/CNT#1`
_KEPT: Final = re.compile(
    rf"extensions\.{q.EXTENSION_PREFIX}(?P<scope>item\[(?P<item>[0-9]{{1,5}})\]/|summary/)?"
    r"(?P<tag>[A-Z0-9]{3})#[0-9]{1,5}"
)
_FUNCTION_CODE: Final = f"extensions.{q.EXTENSION_PREFIX}BGM/1225"
_KEPT_LIMITS: Final = ParseLimits(max_segments=1)

_SENDER: Final = "ILSTC-BROKER"
_NOT_LATIN1: Final = "[^\x00-\xff]"
_SURROGATE: Final = "[\ud800-\udfff]"
_MAX_MARKS: Final = 8  # combining marks a cut may move back over to keep a cluster whole


def render_cusdec(declaration: Declaration, *, syntax: Syntax = "auto") -> RenderResult:
    """A CUSDEC interchange for `declaration`; `syntax` UNOC or UNOW forces that character set."""
    refused = re.compile(f"{_SURROGATE}|{_NOT_LATIN1}" if syntax == "UNOC" else _SURROGATE)
    ledger = RenderLedger(declaration, q.FORMAT_ID)
    problems = unencodable_text(ledger.values, refused)
    if problems:
        why = "UNOC (ISO 8859-1) was asked for" if syntax == "UNOC" else "text cannot be encoded"
        raise FormatError.collect(f"cannot render as {q.FORMAT_ID}: {why}", problems)
    lines = len(declaration.goods_items)
    kept = _kept_segments(ledger, lines)
    body = [
        Segment.of("UNH", "1", q.MESSAGE_TYPE),
        *_header(declaration, ledger),
        *kept.get("", ()),
        Segment.of("UNS", q.DETAIL_SECTION),
        *(
            segment
            for index in range(lines)
            for segment in (*_item(index, ledger), *kept.get(f"item[{index + 1}]/", ()))
        ),
        Segment.of("UNS", q.SUMMARY_SECTION),
        Segment.of("CNT", (q.ITEM_COUNT, str(lines))),
    ]
    packages = ledger.take("total_package_count")
    if packages is not None:
        body.append(Segment.of("CNT", (q.PACKAGE_COUNT, str(packages))))
    body.extend(kept.get("summary/", ()))
    body.append(Segment.of("UNT", str(len(body) + 1), "1"))
    body_lines = segment_lines(body)  # written once, both to choose the syntax and to send
    if syntax == "auto":
        syntax = "UNOW" if re.search(_NOT_LATIN1, "\n".join(body_lines)) else "UNOC"
    reference = declaration.message_id.hex[:14].upper()
    prepared = declaration.issue_time.astimezone(UTC)
    envelope_start = Segment.of(
        "UNB",
        (syntax, "4" if syntax == "UNOW" else "3"),
        _SENDER,
        declaration.entry_office or declaration.declaring_office,
        (prepared.strftime("%y%m%d"), prepared.strftime("%H%M")),
        reference,
    )
    start, end = segment_lines([envelope_start, Segment.of("UNZ", "1", reference)])
    text = "\n".join([DEFAULT_DELIMITERS.una, start, *body_lines, end]) + "\n"
    return RenderResult(text.encode(CHARSETS[syntax]), ledger.report())


def _kept_segments(ledger: RenderLedger, lines: int) -> dict[str, list[Segment]]:
    """Segments a CUSDEC reader kept in extensions, by part (header, `item[n]/`, `summary/`).

    Extensions of other formats have no place in CUSDEC and are reported as lost.
    """
    kept: dict[str, list[Segment]] = {}
    for path in ledger.values:
        if not path.startswith("extensions."):
            continue
        found = _KEPT.fullmatch(path)
        if found is None:
            if path != _FUNCTION_CODE:
                ledger.drop(path, "CUSDEC carries only segments a CUSDEC reader kept")
            continue
        scope = found["scope"] or ""
        segment = segment_from_text(ledger.values[path], limits=_KEPT_LIMITS)
        item = found["item"]
        if segment is None or segment.tag != found["tag"]:
            ledger.drop(path, "not the text of one segment")
        elif item is not None and not 1 <= int(item) <= lines:
            ledger.drop(path, "names a goods item this declaration lacks")
        else:
            ledger.take(path)
            kept.setdefault(scope, []).append(segment)
    return kept


def _function_code(declaration: Declaration, ledger: RenderLedger) -> str:
    """1225: the code a reader kept when it read an unknown one as original, else the mapped one."""
    function: MessageFunction = ledger.take("function")
    kept = ledger.values.get(_FUNCTION_CODE)
    if kept is not None and function is MessageFunction.ORIGINAL:
        ledger.take(_FUNCTION_CODE)
        return str(kept)
    if kept is not None:
        ledger.drop(_FUNCTION_CODE, "the message function has changed since it was read")
    return function.edifact_code


def _header(declaration: Declaration, ledger: RenderLedger) -> Iterator[Segment]:
    take = ledger.take
    yield Segment.of(
        "BGM",
        q.DOCUMENT_CODES[take("kind")],
        take("functional_reference"),
        _function_code(declaration, ledger),
    )
    yield Segment.of(
        "DTM", (q.DATE_QUALIFIER, _local_time(declaration, ledger), q.WRITTEN_DATE_FORMAT)
    )
    for field, qualifier in q.OFFICE_LOCATIONS.items():
        yield from _optional("LOC", qualifier, take(field))
    yield from _itinerary(take("itinerary") or ())
    yield from _measure(q.TOTAL_GROSS, take("total_gross_mass_kg"))
    for container in take("transport.containers") or ():
        yield Segment.of("EQD", q.CONTAINER_EQUIPMENT, container)
    for seal in take("transport.seals") or ():
        yield Segment.of("SEL", seal)
    for field, qualifier in q.REFERENCES.items():
        if (reference := take(field)) is not None:
            yield Segment.of("RFF", (qualifier, reference))
    means = (
        take("transport.means_identity") or "",
        "",
        "",
        "",
        take("transport.nationality") or "",
    )
    mode = str(take("transport.mode").rec19_code)
    yield Segment.of("TDT", q.TRANSPORT_STAGE, None, mode, None, None, None, None, means)
    for role, qualifier in q.PARTIES.items():
        if getattr(declaration, role) is not None:
            yield _party(role, qualifier, ledger)
    yield from _optional("TOD", q.TERMS_FUNCTION, None, take("incoterm"))
    if (place := take("incoterm_place")) is not None:
        yield Segment.of("LOC", q.TERMS_PLACE, ("", "", "", place))
    if (invoice := take("invoice_amount")) is not None:
        currency = take("invoice_currency")
        yield Segment.of("CUX", (q.INVOICE_CURRENCY[0], currency, q.INVOICE_CURRENCY[1]))
        yield Segment.of("MOA", (q.INVOICE_AMOUNT, plain(invoice)))
    yield from _amount(q.TOTAL_VALUE, take("total_value"), take("total_value_currency"))


def _local_time(declaration: Declaration, ledger: RenderLedger) -> str:
    """The sender's wall-clock time with its offset (format 208); no fraction of a second."""
    ledger.take("issue_time")
    ledger.take("issue_time_offset_minutes")
    local = declaration.local_issue_time
    if local.microsecond:
        ledger.approximate("issue_time", "CUSDEC times have whole seconds; the fraction is dropped")
    return local.strftime("%Y%m%d%H%M%S%z")


def _itinerary(countries: tuple[str, ...]) -> Iterator[Segment]:
    """Dispatch country first, destination last, transit countries in between, in order."""
    for index, country in enumerate(countries):
        if index == 0:
            qualifier = q.DISPATCH_COUNTRY
        elif index == len(countries) - 1:
            qualifier = q.DESTINATION_COUNTRY
        else:
            qualifier = q.TRANSIT_COUNTRY
        yield Segment.of("LOC", qualifier, country)


def _party(role: str, qualifier: str, ledger: RenderLedger) -> Segment:
    def take(field: str) -> Any:
        return ledger.take(f"{role}.{field}")

    identification = (take("identifier") or "", take("identifier_scheme") or "")
    return Segment.of(
        "NAD",
        qualifier,
        identification,
        None,  # C058 unstructured name and address: not used
        _chunks(take("name"), q.NAME_CHUNK),
        _chunks(take("street"), q.NAME_CHUNK),
        take("city"),
        None,  # 3229 country sub-entity
        take("postcode"),
        take("country"),
    )


def _item(index: int, ledger: RenderLedger) -> Iterator[Segment]:
    def take(field: str) -> Any:
        return ledger.take(f"goods_items.{index}.{field}")

    yield Segment.of("LIN", str(take("line_number")))
    yield from _optional("CST", None, (take("procedure_code"), *q.PROCEDURE_LIST))
    yield Segment.of("PIA", q.HS_SUBHEADING, (take("hs6"), "HS"))
    if (tariff_line := take("tariff_line")) is not None:
        yield Segment.of("PIA", q.NATIONAL_LINE, (tariff_line, "HS"))
    yield Segment.of(
        "FTX", q.DESCRIPTION_TEXT, None, None, _chunks(take("description"), q.TEXT_CHUNK)
    )
    if (specification := take("specification")) is not None:
        yield Segment.of(
            "FTX", q.SPECIFICATION_TEXT, None, None, _chunks(specification, q.TEXT_CHUNK)
        )
    yield Segment.of("LOC", q.ORIGIN_COUNTRY, take("origin_country"))
    yield Segment.of("QTY", (q.QUANTITY_QUALIFIER, plain(take("quantity")), take("quantity_unit")))
    yield from _measure(q.ITEM_NET, take("net_mass_kg"))
    yield from _measure(q.ITEM_GROSS, take("gross_mass_kg"))
    yield from _amount(q.ITEM_VALUE, take("value"), take("value_currency"))
    count, kind = take("package_count"), take("package_kind")
    if count is not None or kind is not None:
        yield Segment.of("PAC", None if count is None else str(count), None, kind)
    agreement = take("preference.agreement")
    if agreement is not None:
        document = (q.PREFERENCE_DOCUMENT, "", "", agreement)
        yield Segment.of("DOC", document, take("preference.certificate_number"))


def _optional(tag: str, *elements: Any) -> Iterator[Segment]:
    """The segment, unless its last element (the value it exists for) is missing."""
    value = elements[-1]
    if value is not None and (not isinstance(value, tuple) or value[0] is not None):
        yield Segment.of(tag, *elements)


def _measure(dimension: str, kilograms: Any) -> Iterator[Segment]:
    if kilograms is not None:
        yield Segment.of("MEA", q.MEASURE_PURPOSE, dimension, ("KGM", plain(kilograms)))


def _amount(qualifier: str, amount: Any, currency: str | None) -> Iterator[Segment]:
    if amount is not None:
        yield Segment.of("MOA", (qualifier, plain(amount), currency or ""))


def _chunks(text: str | None, size: int) -> tuple[str, ...] | None:
    """Text cut into components of the directory's length, joined again on reading.

    A cut never falls before a combining mark (Thai and Lao vowel signs, Burmese medials), so each
    component still reads correctly on its own.
    """
    if text is None:
        return None
    chunks, start = [], 0
    while start < len(text):
        end = min(start + size, len(text))
        cut = end
        while end - cut < _MAX_MARKS and cut > start + 1 and _is_mark(text, cut):
            cut -= 1
        end = end if _is_mark(text, cut) else cut  # marks only: cut anywhere
        chunks.append(text[start:end])
        start = end
    return tuple(chunks)


def _is_mark(text: str, index: int) -> bool:
    return index < len(text) and unicodedata.category(text[index]).startswith("M")
