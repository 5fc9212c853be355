"""The envelope: CloudEvents binary-mode headers, the signing input, strict parsing."""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from broker.errors import ConfigError, SignatureError
from broker.signing.envelope import (
    MAX_HEADER_VALUE_BYTES,
    MAX_HEADERS,
    Envelope,
    Header,
    build_envelope,
    parse_envelope,
    sign_message,
    signing_input,
)
from tests.unit.signing.conftest import START, VALUE, Corridor, Send, replace_header

ATTRIBUTE_HEADER = re.compile(r"ce_[a-z0-9]{1,20}")


def spec_signing_input(headers: list[Header], value: bytes) -> bytes:
    """docs/signing.md, section "Signing input", written out independently of the module."""
    covered = sorted(
        (name, raw)
        for name, raw in headers
        if (name.startswith("ce_") and name != "ce_signature") or name == "content-type"
    )
    lines = b"".join(name.encode("ascii") + b"=" + raw + b"\n" for name, raw in covered)
    digest = hashlib.sha256(value).hexdigest().encode("ascii")
    return b"ilstc-ce-signature-v1\n" + lines + b"value-sha256=" + digest + b"\n"


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


def test_parse_returns_what_was_built(corridor: Corridor, send: Send) -> None:
    envelope = parse_envelope(send())
    assert envelope.id == "CN-CQ-0001"
    assert envelope.time == START
    assert envelope.keyid == corridor.nodes["CN-CQ"].key_id
    assert envelope.content_type == "application/avro"
    assert envelope.dataschema == "avro-crc64:7a3f9c21d04e8b56"
    assert (envelope.seal, envelope.extensions) == (None, ())
    assert len(envelope.signature) == 64


def test_signing_input_follows_the_spec_in_any_header_order(send: Send) -> None:
    headers = send()
    shuffled = [*reversed(headers), ("traceparent", b"00-abc-def-01")]
    expected = spec_signing_input(headers, VALUE)
    assert signing_input(headers, VALUE) == expected
    assert signing_input(shuffled, VALUE) == expected
    assert parse_envelope(shuffled).signing_input(VALUE) == expected


def test_unknown_extensions_are_kept_and_signed(corridor: Corridor, send: Send) -> None:
    headers = [*send(), ("ce_corridorleg", b"CQ-VTE")]
    envelope = parse_envelope(headers)
    assert envelope.extensions == (("ce_corridorleg", "CQ-VTE"),)
    assert b"ce_corridorleg=CQ-VTE\n" in envelope.signing_input(VALUE)


def test_build_refuses_naive_times_and_sign_refuses_another_key(
    corridor: Corridor, send: Send
) -> None:
    signer = corridor.nodes["CN-CQ"].signer

    def envelope_at(time: datetime) -> Envelope:
        return build_envelope(
            message_id="1",
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
        ("ce_time", b"2026-11-29T08:00:00+08:00", "not UTC"),
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


def test_seal_headers_come_together(send: Send) -> None:
    headers = [*send(), ("ce_sealalg", b"x25519-hkdf-sha256-aes256gcm")]
    assert "ce_sealepk" in malformed(headers)
    short_key = base64.b64encode(bytes(31))
    complete = [*headers, ("ce_sealkeyid", b"ab" * 32), ("ce_sealepk", short_key)]
    assert "32-byte" in malformed(complete)


GOOD_HEADERS: list[Header] = [
    ("ce_specversion", b"1.0"),
    ("ce_id", b"CN-CQ-0001"),
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
