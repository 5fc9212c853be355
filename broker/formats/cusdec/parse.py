"""Parse a UN/EDIFACT CUSDEC (D.96B/D.97A) interchange into a canonical `Declaration`.

The character set follows UNB's syntax identifier (UNOA/UNOB ASCII, UNOC ISO 8859-1, UNOW
UTF-8), decoded strictly. The envelope is checked: one UNH ... UNT message, UNT's segment count
and reference, UNZ's message count and reference, CNT's goods item count. Segments and qualifiers
this mapping does not know are reported, never skipped. Locations read `segment 12 (LIN), line 13`.
"""

from __future__ import annotations

from broker.formats.base import ParseLimits, derived_message_id
from broker.formats.cusdec import layout as q
from broker.formats.cusdec.header import MessageReader
from broker.formats.edifact.syntax import CHARSETS, EdifactSyntaxError, Segment, parse_segments
from broker.formats.problems import ProblemLog
from broker.model import Declaration


def parse_cusdec(
    data: bytes, *, source: str = "", limits: ParseLimits | None = None
) -> Declaration:
    """A canonical declaration from a CUSDEC interchange, or `FormatError` with every problem."""
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
    message = _message(segments, log)
    if message is None:
        raise log.fail("no CUSDEC message found")
    declaration = MessageReader(log, delimiters.decimal).read(message[1:-1])
    declaration["message_id"] = derived_message_id(q.FORMAT_ID, data)
    return log.declaration(declaration, root=message[0].where)


def _decode(data: bytes, log: ProblemLog, limits: ParseLimits) -> str | None:
    """The interchange as text, in the character set UNB's syntax identifier names."""
    if len(data) > limits.max_bytes:
        log.add(
            f"interchange is larger than {limits.max_bytes} bytes",
            location="byte 0",
            code="too_large",
        )
        return None
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
            "syntax identifier must be UNOA, UNOB, UNOC or UNOW",
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


def _message(segments: list[Segment], log: ProblemLog) -> list[Segment] | None:
    """UNH ... UNT of the one message in the interchange, after checking the envelope."""
    first, last = segments[0], segments[-1]
    heads = [i for i, segment in enumerate(segments) if segment.tag == "UNH"]
    tails = [i for i, segment in enumerate(segments) if segment.tag == "UNT"]
    if first.tag != "UNB" or len(heads) != 1 or len(tails) != 1 or tails[0] < heads[0]:
        log.add(
            "expected UNB, exactly one UNH ... UNT message, and UNZ",
            location=first.where,
            code="edifact_envelope",
        )
        return None
    head, tail = segments[heads[0]], segments[tails[0]]
    message_type = head.components(2)
    if message_type[:2] != q.MESSAGE_TYPE[:2] or message_type[2:3] not in [
        (r,) for r in q.ACCEPTED_RELEASES
    ]:
        log.add(
            "message type must be CUSDEC:D:96B:UN (or D.97A)",
            location=head.where,
            value=":".join(message_type),
            code="edifact_envelope",
        )
    counted = tails[0] - heads[0] + 1
    if tail.get(1) != str(counted):
        log.add(
            f"UNT counts {tail.get(1) or 'no'} segments, the message has {counted}",
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
    for stray in (*segments[1 : heads[0]], *segments[tails[0] + 1 : -1]):
        log.add(f"{stray.tag} outside the message", location=stray.where, code="edifact_envelope")
    if last.tag != "UNZ":
        log.add("the interchange must end with UNZ", location=last.where, code="edifact_envelope")
    elif last.get(1) != "1" or last.get(2) != first.get(5):
        log.add(
            "UNZ must count 1 message and repeat UNB's control reference",
            location=last.where,
            value=f"{last.get(1)}+{last.get(2)}",
            code="segment_count",
        )
    return segments[heads[0] : tails[0] + 1]
