"""The envelope: CloudEvents binary-mode headers, the signing input, strict parsing."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.clock import FakeClock
from broker.errors import ConfigError, SignatureError
from broker.signing import envelope as envelope_module
from broker.signing.envelope import (
    MAX_HEADER_VALUE_BYTES,
    MAX_HEADERS,
    Envelope,
    Header,
    Seal,
    build_envelope,
    format_time,
    parse_envelope,
    parse_time,
    sign_message,
    signing_input,
)
from tests.unit.signing.conftest import (
    DATASCHEMA,
    START,
    VALUE,
    Corridor,
    Send,
    make_verifier,
    mid,
    replace_header,
)

ATTRIBUTE_HEADER = re.compile(r"ce_[a-z0-9]{1,20}")


def spec_signing_input(headers: list[Header], value: bytes) -> bytes:
    """docs/signing.md, section "Signing input", written out independently of the module."""
    values = dict(headers)
    listing = values.get("ce_sigheaders")
    if listing is None:  # envelope v1: every ce_* header but the signature, and content-type
        names = [n for n in values if (n.startswith("ce_") and n != "ce_signature")]
        names += ["content-type"]
        magic = b"ilstc-ce-signature-v1\n"
    else:
        names = [*listing.decode("ascii").split(","), "ce_sigheaders"]
        magic = b"ilstc-ce-signature-v2\n"
    if listing is not None:  # v2 signs ce_time as its instant, in the writers' form
        moment = parse_time(values["ce_time"].decode("ascii"))
        assert moment is not None
        values["ce_time"] = format_time(moment).encode("ascii")
    lines = b"".join(name.encode("ascii") + b"=" + values[name] + b"\n" for name in sorted(names))
    digest = hashlib.sha256(value).hexdigest().encode("ascii")
    return magic + lines + b"value-sha256=" + digest + b"\n"


def outcome(headers: list[Header]) -> str:
    """ "parsed", or the reason code: the only other thing parsing may do is raise."""
    try:
        parse_envelope(headers)
    except SignatureError as exc:
        return exc.code
    return "parsed"


def malformed(headers: list[Header]) -> str:
    with pytest.raises(SignatureError) as caught:
        parse_envelope(headers)
    assert caught.value.code == "malformed-envelope"
    return str(caught.value)


def test_headers_are_cloudevents_binary_mode(send: Send) -> None:
    headers = send()
    names = [name for name, _ in headers]
    assert len(names) == len(set(names))
    assert "content-type" in names
    for name in names:
        assert name == "content-type" or ATTRIBUTE_HEADER.fullmatch(name), name
    values = dict(headers)
    assert values["ce_specversion"] == b"1.0"
    assert values["ce_source"] == b"urn:ilstc:node:CN-CQ"
    assert values["ce_time"] == b"2026-11-29T08:00:00.000000Z"
    assert values["ce_recipient"] == b"LA-VTE"
    listed = values["ce_sigheaders"].decode().split(",")
    assert listed == sorted(set(names) - {"ce_signature", "ce_sigheaders"})


def test_parse_returns_what_was_built(corridor: Corridor, send: Send) -> None:
    envelope = parse_envelope(send())
    assert envelope.version == 2
    assert envelope.id == mid("CN-CQ-0001")
    assert envelope.time == START
    assert envelope.keyid == corridor.nodes["CN-CQ"].key_id
    assert envelope.content_type == "application/avro"
    assert envelope.dataschema == DATASCHEMA
    assert (envelope.seal, envelope.extensions) == (None, ())
    assert len(envelope.signature) == 64


def test_signing_input_follows_the_spec_in_any_header_order(send: Send) -> None:
    headers = send()
    shuffled = [*reversed(headers), ("traceparent", b"00-abc-def-01")]
    expected = spec_signing_input(headers, VALUE)
    assert expected.startswith(b"ilstc-ce-signature-v2\nce_dataschema=")
    assert signing_input(headers, VALUE) == expected
    assert signing_input(shuffled, VALUE) == expected
    assert parse_envelope(shuffled).signing_input(VALUE) == expected


def test_ce_time_is_signed_as_its_instant(corridor: Corridor, send: Send) -> None:
    """A relay that spells ce_time another way (the SDKs do) keeps the signature valid."""
    headers = send()
    verifier = make_verifier(corridor.keystore(), FakeClock(START))
    for spelling in (b"2026-11-29T08:00:00Z", b"2026-11-29T16:00:00.000000000+08:00"):
        respelled = replace_header(headers, "ce_time", spelling)
        assert signing_input(respelled, VALUE) == signing_input(headers, VALUE)
        verifier.release(verifier.verify(respelled, VALUE))
    later = replace_header(headers, "ce_time", b"2026-11-29T08:00:00.000001Z")
    with pytest.raises(SignatureError, match="bad-signature"):
        verifier.verify(later, VALUE)


def test_a_relay_may_add_unsigned_extensions(corridor: Corridor, send: Send) -> None:
    headers = send()
    relayed = [*headers, ("ce_partitionkey", b"CQ2026112900001"), ("ce_traceparent", b"\x00\xff")]
    envelope = parse_envelope(relayed)
    assert envelope.extensions == ()  # unsigned: not part of what the receiver sees
    assert envelope.signing_input(VALUE) == signing_input(headers, VALUE)
    make_verifier(corridor.keystore(), FakeClock(START)).verify(relayed, VALUE)


def test_signed_extensions_are_kept(corridor: Corridor) -> None:
    signer = corridor.nodes["CN-CQ"].signer

    def with_extensions(extensions: dict[str, str]) -> Envelope:
        return build_envelope(
            message_id=mid("x"),
            source="urn:ilstc:node:CN-CQ",
            type="org.ilstc.customs.declaration.v1",
            time=START,
            content_type="application/avro",
            signer=signer,
            extensions=extensions,
        )

    envelope = with_extensions({"ce_corridorleg": "CQ-VTE"})
    assert envelope.extensions == (("ce_corridorleg", "CQ-VTE"),)
    assert b"ce_corridorleg=CQ-VTE\n" in envelope.signing_input(VALUE)
    assert b"ce_corridorleg," in envelope.signing_input(VALUE)  # listed in ce_sigheaders
    with pytest.raises(ConfigError):
        with_extensions({"ce_recipient": "LA-VTE"})


def _relisted(headers: list[Header], names: list[str]) -> list[Header]:
    return replace_header(headers, "ce_sigheaders", ",".join(names).encode())


@pytest.mark.parametrize(
    "left_out",
    ["ce_id", "ce_time", "ce_subject", "ce_recipient", "ce_dataschema", "content-type", "ce_keyid"],
)
def test_every_header_the_receiver_acts_on_must_be_signed(send: Send, left_out: str) -> None:
    headers = send()
    listed = dict(headers)["ce_sigheaders"].decode().split(",")
    reason = malformed(_relisted(headers, [n for n in listed if n != left_out]))
    assert left_out in reason
    assert "not covered" in reason


def test_seal_headers_must_be_signed(send: Send) -> None:
    seal = Seal("x25519-hkdf-sha256-aes256gcm", "ab" * 32, bytes(32))
    headers = send(seal=seal)
    listed = dict(headers)["ce_sigheaders"].decode().split(",")
    assert {"ce_sealalg", "ce_sealepk", "ce_sealkeyid"} <= set(listed)
    assert "ce_sealepk" in malformed(_relisted(headers, [n for n in listed if n != "ce_sealepk"]))


@pytest.mark.parametrize(
    ("mutate", "why"),
    [
        (lambda names: sorted([*names, "ce_partitionkey"]), "absent"),
        (lambda names: list(reversed(names)), "not sorted"),
        (lambda names: [*names, names[-1]], "not sorted"),
        (lambda names: sorted([*names, "ce_signature"]), "lists ce_signature"),
        (lambda names: sorted([*names, "ce_sigheaders"]), "lists ce_sigheaders"),
        (lambda names: [*names[:1], "", *names[1:]], "not sorted"),
    ],
)
def test_the_signed_header_list_is_canonical(
    send: Send, mutate: Callable[[list[str]], list[str]], why: str
) -> None:
    headers = send()
    listed = dict(headers)["ce_sigheaders"].decode().split(",")
    assert why in malformed(_relisted(headers, mutate(listed)))
    assert "not a list" in malformed(replace_header(headers, "ce_sigheaders", "ce_idé".encode()))


def test_v1_records_of_older_nodes_still_verify(corridor: Corridor, send: Send) -> None:
    """v1: no ce_sigheaders, every ce_* header is covered (docs/signing.md section 3)."""
    v1 = [(n, v) for n, v in send() if n not in ("ce_sigheaders", "ce_signature")]
    v1 = replace_header(v1, "ce_dataschema", b"7a3f9c21d04e8b56")  # v1 wrote a bare fingerprint
    v1_input = spec_signing_input(v1, VALUE)
    assert v1_input.startswith(b"ilstc-ce-signature-v1\n")
    assert signing_input(v1, VALUE) == v1_input
    signature = corridor.nodes["CN-CQ"].signer.sign(v1_input)
    headers = [*v1, ("ce_signature", base64.b64encode(signature))]
    message = make_verifier(corridor.keystore(), FakeClock(START)).verify(headers, VALUE)
    assert message.envelope.version == 1
    # ...but a v1 signature covers every ce_* header: a relay's extension breaks it.
    relayed = [*headers, ("ce_partitionkey", b"k")]
    with pytest.raises(SignatureError, match="bad-signature"):
        make_verifier(corridor.keystore(), FakeClock(START)).verify(relayed, VALUE)


def test_build_refuses_naive_times_and_sign_refuses_another_key(
    corridor: Corridor, send: Send
) -> None:
    signer = corridor.nodes["CN-CQ"].signer

    def envelope_at(time: datetime) -> Envelope:
        return build_envelope(
            message_id=mid("1"),
            source="urn:ilstc:node:CN-CQ",
            type="org.ilstc.customs.declaration.v1",
            time=time,
            content_type="application/avro",
            signer=signer,
        )

    with pytest.raises(SignatureError):
        envelope_at(START.replace(tzinfo=None))
    with pytest.raises(ConfigError):
        sign_message(envelope_at(START), VALUE, corridor.nodes["VN-HAN"].signer)


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2026-11-29T08:00:00Z", "2026-11-29T08:00:00.000000Z"),
        ("2026-11-29T08:00:00.000000Z", "2026-11-29T08:00:00.000000Z"),
        ("2026-11-29T16:00:00+08:00", "2026-11-29T08:00:00.000000Z"),  # Beijing time
        ("2026-11-29T14:30:00.5+06:30", "2026-11-29T08:00:00.500000Z"),  # Myanmar
        ("2026-11-29T03:00:00-05:00", "2026-11-29T08:00:00.000000Z"),
        ("2026-11-29T08:00:00-00:00", "2026-11-29T08:00:00.000000Z"),
        ("2026-11-29T08:00:00.1234567Z", "2026-11-29T08:00:00.123456Z"),  # .NET, 7 digits
        ("2026-11-29T08:00:00.123456789Z", "2026-11-29T08:00:00.123456Z"),  # Go, Java: 9
        ("2026-11-29t08:00:00z", "2026-11-29T08:00:00.000000Z"),  # RFC 3339 allows lower case
        ("2026-11-29T00:30:00+01:00", "2026-11-28T23:30:00.000000Z"),  # the day before in UTC
    ],
)
def test_ce_time_accepts_every_rfc3339_form(text: str, utc: str) -> None:
    moment = parse_time(text)
    assert moment is not None
    assert format_time(moment) == utc
    assert moment.tzinfo is UTC


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-29T08:00:00",  # no offset
        "2026-11-29",  # date only
        "2026-11-29 08:00:00Z",  # space (RFC 3339 allows it only as a note, ISO 8601 not)
        "2026-13-29T08:00:00Z",  # month 13
        "2026-02-29T08:00:00Z",  # not a leap year
        "2026-11-29T24:00:00Z",
        "2026-11-29T08:00:60Z",  # leap second: no corridor datetime library represents it
        "2026-11-29T08:00:00.Z",
        "2026-11-29T08:00:00.1234567890Z",  # 10 digits
        "2026-11-29T08:00:00+24:00",
        "2026-11-29T08:00:00+0800",
        "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
        "2026-11-29T08:00:00.١Z",  # non-ASCII digit
    ],
)
def test_ce_time_refuses_what_rfc3339_does_not_allow(text: str) -> None:
    assert parse_time(text) is None


@pytest.mark.parametrize(
    "value",
    [
        b"CN-CQ-0001",
        b"0999612D-5849-5669-9A34-B9FC05CC2893",  # upper case
        b"{0999612d-5849-5669-9a34-b9fc05cc2893}",
        b"0999612d58495669" + b"9a34b9fc05cc2893",
        b"urn:uuid:0999612d-5849-5669-9a34-b9fc05cc2893",
    ],
)
def test_ce_id_is_a_lower_case_uuid(send: Send, value: bytes) -> None:
    assert "ce_id" in malformed(replace_header(send(), "ce_id", value))


@pytest.mark.parametrize("value", [b"7a3f9c21d04e8b56", b"avro schema 1", b"/schemas/1"])
def test_ce_dataschema_is_an_absolute_uri(send: Send, value: bytes) -> None:
    assert "ce_dataschema" in malformed(replace_header(send(), "ce_dataschema", value))


@pytest.mark.parametrize(
    "required",
    [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "ce_sigalg",
        "ce_keyid",
        "ce_signature",
        "content-type",
    ],
)
def test_missing_required_header(send: Send, required: str) -> None:
    assert required in malformed([h for h in send() if h[0] != required])


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("ce_subject", b"", "empty"),
        ("ce_subject", b"x" * (MAX_HEADER_VALUE_BYTES + 1), "oversized"),
        ("ce_subject", b"CQ\n2026", "newline"),
        ("ce_subject", b"CQ\x7f", "DEL"),
        ("ce_subject", b"\xc3\x28", "not UTF-8"),
        ("ce_specversion", b"0.3", "old spec version"),
        ("ce_time", b"2026-11-29T08:00:00", "no zone"),
        ("ce_time", b"2026-11-29", "date only"),
        ("ce_time", b"2026-13-29T08:00:00Z", "month 13"),
        ("ce_time", "2026-11-29T08:00:00.١Z".encode(), "non-ASCII digit"),
        ("ce_keyid", b"AB" * 32, "upper-case key id"),
        ("ce_keyid", b"ab" * 31, "short key id"),
        ("ce_signature", b"not base64!", "not base64"),
        ("ce_signature", b"QR==", "non-canonical base64"),
        ("ce_recipient", b"Vientiane", "recipient not a node id"),
    ],
)
def test_malformed_values(send: Send, name: str, value: bytes, why: str) -> None:
    malformed(replace_header(send(), name, value))


@pytest.mark.parametrize(
    "header",
    [
        ("ce_Subject", b"x"),  # upper case
        ("ce_trace_id", b"x"),  # underscore
        ("ce_" + "a" * 21, b"x"),  # longer than 20
        ("ce_", b"x"),  # empty name
        ("ce_datacontenttype", b"application/avro"),  # content-type in binary mode
        ("ce_data", b"x"),
        ("ce_id", b"duplicate"),
    ],
)
def test_malformed_header_names_and_duplicates(send: Send, header: Header) -> None:
    malformed([*send(), header])


def test_too_many_headers_and_missing_values(send: Send) -> None:
    headers = send()
    filler = [(f"x-filler-{i}", b"") for i in range(MAX_HEADERS - len(headers) + 1)]
    assert "headers" in malformed(headers + filler)
    none_value: list[Header] = [(n, None if n == "ce_id" else v) for n, v in headers]  # type: ignore[misc]
    malformed(none_value)


def test_seal_headers_come_together() -> None:
    v1 = [h for h in GOOD_HEADERS if h[0] not in ("ce_sealkeyid", "ce_sealepk")]
    assert "ce_sealepk" in malformed(v1)
    short_key = base64.b64encode(bytes(31))
    assert "32-byte" in malformed(replace_header(GOOD_HEADERS, "ce_sealepk", short_key))


GOOD_HEADERS: list[Header] = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"0999612d-5849-5669-9a34-b9fc05cc2893"),
    ("ce_source", b"urn:ilstc:node:CN-CQ"),
    ("ce_type", b"org.ilstc.customs.declaration.v1"),
    ("ce_time", b"2026-11-29T08:00:00.000000Z"),
    ("ce_sigalg", b"ed25519"),
    ("ce_keyid", b"ab" * 32),
    ("ce_recipient", b"LA-VTE"),
    ("ce_sealalg", b"x25519-hkdf-sha256-aes256gcm"),
    ("ce_sealkeyid", b"cd" * 32),
    ("ce_sealepk", base64.b64encode(bytes(32))),
    ("content-type", b"application/avro"),
    ("ce_signature", base64.b64encode(bytes(64))),
]


def test_the_hypothesis_baseline_parses() -> None:
    assert parse_envelope(GOOD_HEADERS).seal is not None


SIGNED_NAMES = [
    "ce_specversion",
    "ce_id",
    "ce_source",
    "ce_type",
    "ce_time",
    "ce_sigalg",
    "ce_keyid",
    "ce_signature",
    "ce_recipient",
    "ce_sealepk",
    "content-type",
]
header_names = st.one_of(st.sampled_from(SIGNED_NAMES), st.text(max_size=24))
random_headers = st.lists(st.tuples(header_names, st.binary(max_size=80)), max_size=MAX_HEADERS + 2)


@settings(max_examples=150, deadline=None)
@given(headers=random_headers)
def test_random_headers_only_ever_raise_signature_error(headers: list[Header]) -> None:
    assert outcome(headers) in {"parsed", "malformed-envelope"}


@settings(max_examples=150, deadline=None)
@given(index=st.integers(min_value=0), value=st.binary(max_size=80))
def test_one_random_value_in_a_valid_envelope(index: int, value: bytes) -> None:
    headers = list(GOOD_HEADERS)
    name, _ = headers[index % len(headers)]
    headers[index % len(headers)] = (name, value)
    assert outcome(headers) in {"parsed", "malformed-envelope"}


def _built_or_refusal(**attributes: Any) -> object:
    try:
        return build_envelope(**attributes)
    except (SignatureError, UnicodeEncodeError) as exc:
        return repr(exc)


@settings(max_examples=300, deadline=None)
@given(
    message_id=st.one_of(st.uuids().map(str), st.text(max_size=40)),
    subject=st.one_of(st.text(max_size=30), st.text(min_size=1020, max_size=1030)),
    moment=st.datetimes(timezones=st.timezones()),
    ephemeral_key=st.one_of(st.none(), st.binary(min_size=31, max_size=33)),
)
def test_an_envelope_from_a_writer_template_is_what_the_full_parse_gives(
    corridor: Corridor,
    message_id: str,
    subject: str,
    moment: datetime,
    ephemeral_key: bytes | None,
) -> None:
    """build_envelope re-checks only ce_id, ce_time, ce_subject once it has parsed the other
    attributes: same envelope, same refusal as a full parse of every header."""
    signer = corridor.nodes["CN-CQ"].signer
    attributes: dict[str, Any] = {
        "source": "urn:ilstc:node:CN-CQ",
        "type": "org.ilstc.customs.declaration.v1",
        "content_type": "application/avro",
        "signer": signer,
        "dataschema": DATASCHEMA,
        "recipient": "LA-VTE",
    }

    def sealed(key: bytes | None) -> Seal | None:
        return None if key is None else Seal("x25519-hkdf-sha256-aes256gcm", "ab" * 32, key)

    varying = {"message_id": message_id, "time": moment, "subject": subject}
    varying["seal"] = sealed(ephemeral_key)
    envelope_module._TEMPLATES.clear()
    full = _built_or_refusal(**attributes, **varying)
    primer = None if ephemeral_key is None else sealed(bytes(range(32)))
    build_envelope(**attributes, message_id=mid("primer"), time=START, subject="CQ1", seal=primer)
    assert envelope_module._TEMPLATES  # the next build takes the template
    assert _built_or_refusal(**attributes, **varying) == full
