"""Read a UN/EDIFACT CUSDEC interchange (directories D.96B to D.16A) into canonical declarations.

The character set follows UNB's syntax identifier (UNOA/UNOB ASCII, UNOC to UNOK the ISO 8859
parts, UNOW UTF-8), decoded strictly; with or without UNA; one segment per line with CRLF or LF,
or none. Each UNH ... UNT message is its own declaration. The envelope is checked: UNT's segment
count and reference, UNZ's message count and reference, CNT's goods item count. Segments and
qualifiers this mapping does not use are kept in extensions with a warning, never dropped.
Locations read `segment 12 (LIN), line 13`.
"""

from __future__ import annotations

import codecs
import re
from datetime import UTC, datetime
from typing import Final

from broker.errors import FormatError
from broker.formats.base import ParseLimits, derived_message_id
from broker.formats.cusdec import layout as q
from broker.formats.cusdec.header import MessageReader
from broker.formats.edifact.syntax import CHARSETS, EdifactSyntaxError, Segment, parse_segments
from broker.formats.problems import ProblemLog, Reading

_RELEASE: Final = re.compile(r"[0-9]{2}[AB]")


def read_cusdec(data: bytes, *, source: str = "", limits: ParseLimits | None = None) -> Reading:
    """Every declaration (one per message) in a CUSDEC interchange, or `FormatError`."""
    log = ProblemLog(q.FORMAT_ID, source)
    limits = limits or ParseLimits()
    text = _decode(data, log, limits)
    if text is None:
        raise log.fail("cannot read the interchange")
    try:
        delimiters, segments = parse_segments(text, limits=limits)
    except EdifactSyntaxError as exc:
        log.add(
            exc.reason, location=f"segment {exc.segment}, line {exc.line}", code="edifact_syntax"
        )
        raise log.fail("not well-formed EDIFACT") from None
    messages = _messages(segments, log)
    if not messages:
        raise log.fail("no CUSDEC message found")
    prepared = _prepared(segments[0])
    found = []
    for index, message in enumerate(messages):
        declaration = MessageReader(log, delimiters.decimal, prepared=prepared).read(message[1:-1])
        # One message keeps the id of the whole interchange; several are told apart by position.
        identity = data if len(messages) == 1 else data + f"#{index + 1}".encode()
        declaration["message_id"] = derived_message_id(q.FORMAT_ID, identity)
        found.append((declaration, message[0].where))
    declarations = []
    for declaration, root in found:
        try:
            declarations.append(log.declaration(declaration, root=root))
        except FormatError:
            continue  # every message's problems are collected, then raised together
    if log.failed:
        raise log.fail("not a valid cusdec interchange")
    return Reading(tuple(declarations), log.all_warnings())


def _prepared(unb: Segment) -> datetime | None:
    """UNB S004 date and time of preparation (YYMMDD or CCYYMMDD, HHMM), taken as UTC."""
    date, time = unb.get(4), unb.get(4, 2)
    try:
        form = "%y%m%d%H%M" if len(date) == 6 else "%Y%m%d%H%M"
        return datetime.strptime(date + time, form).replace(tzinfo=UTC)
    except ValueError:
        return None


def _decode(data: bytes, log: ProblemLog, limits: ParseLimits) -> str | None:
    """The interchange as text, in the character set UNB's syntax identifier names."""
    if len(data) > limits.max_bytes:
        log.add(
            f"interchange is larger than {limits.max_bytes} bytes",
            location="byte 0",
            code="too_large",
        )
        return None
    data = data.removeprefix(codecs.BOM_UTF8)
    separator = data[4:5] if data.startswith(b"UNA") else b"+"
    start = data[9:].lstrip(b"\r\n") if data.startswith(b"UNA") else data.lstrip(b"\r\n")
    if not start.startswith(b"UNB" + separator):
        log.add(
            "an interchange begins with UNB (after an optional UNA)",
            location="segment 1",
            value=start[:3].decode("latin-1"),
            code="edifact_syntax",
        )
        return None
    syntax = start[4:8].decode("latin-1")
    if syntax not in CHARSETS:
        log.add(
            f"syntax identifier must be one of {', '.join(CHARSETS)}",
            location="segment 1 (UNB)",
            value=syntax,
            code="unsupported_encoding",
        )
        return None
    try:
        return data.decode(CHARSETS[syntax])
    except UnicodeDecodeError as exc:
        log.add(
            f"bytes are not valid {syntax} ({CHARSETS[syntax]}): {exc.reason}",
            location=f"byte {exc.start}",
            value=data[exc.start : exc.start + 8].hex(" "),
            code="bad_encoding",
        )
        return None


def _messages(segments: list[Segment], log: ProblemLog) -> list[list[Segment]]:
    """Every UNH ... UNT message of the interchange, after checking the envelope."""
    first, last = segments[0], segments[-1]
    if first.tag != "UNB":
        log.add("an interchange begins with UNB", location=first.where, code="edifact_envelope")
        return []
    messages: list[list[Segment]] = []
    current: list[Segment] | None = None
    for segment in segments[1:-1] if last.tag == "UNZ" else segments[1:]:
        if segment.tag == "UNH":
            if current is not None:
                log.add("UNH before the UNT of the message before", location=segment.where,
                        code="edifact_envelope")  # fmt: skip
            current = [segment]
        elif current is None:
            if segment.tag not in ("UNG", "UNE"):  # functional groups: tolerated, not needed
                log.add(
                    f"{segment.tag} outside a message",
                    location=segment.where,
                    code="edifact_envelope",
                )
        else:
            current.append(segment)
            if segment.tag == "UNT":
                messages.append(current)
                current = None
    if current is not None:
        log.add("the last message has no UNT", location=current[0].where, code="edifact_envelope")
    if not messages:
        log.add("expected UNB, UNH ... UNT messages, and UNZ", location=first.where,
                code="edifact_envelope")  # fmt: skip
    for message in messages:
        _check_message(message, log)
    # UNZ counts the functional groups (UNG ... UNE) when there are any, else the messages.
    groups = sum(1 for segment in segments if segment.tag == "UNG")
    counted = groups or len(messages)
    if last.tag != "UNZ":
        log.add("the interchange must end with UNZ", location=last.where, code="edifact_envelope")
    elif last.get(1) != str(counted) or last.get(2) != first.get(5):
        log.add(
            f"UNZ must count {counted} {'group' if groups else 'message'}(s) and repeat UNB's "
            "control reference",
            location=last.where,
            value=f"{last.get(1)}+{last.get(2)}",
            code="segment_count",
        )
    return messages


def _check_message(message: list[Segment], log: ProblemLog) -> None:
    head, tail = message[0], message[-1]
    message_type = head.components(2)
    release = message_type[2] if len(message_type) > 2 else ""
    if message_type[:2] != q.MESSAGE_TYPE[:2] or not _RELEASE.fullmatch(release):
        log.add(
            "message type must be CUSDEC:D:<release>:UN (D.96B to D.16A)",
            location=head.where,
            value=":".join(message_type),
            code="edifact_envelope",
        )
    elif release not in q.CHECKED_RELEASES:
        log.warn(
            f"directory D.{release} is read with the layout checked for "
            f"{', '.join(q.CHECKED_RELEASES)}",
            location=head.where,
            value=release,
            code="unchecked_directory",
        )
    if tail.get(1) != str(len(message)):
        log.add(
            f"UNT counts {tail.get(1) or 'no'} segments, the message has {len(message)}",
            location=tail.where,
            value=tail.get(1),
            code="segment_count",
        )
    if tail.get(2) != head.get(1):
        log.add(
            "UNT message reference differs from UNH",
            location=tail.where,
            value=tail.get(2),
            code="edifact_envelope",
        )
