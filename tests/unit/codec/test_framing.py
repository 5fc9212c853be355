"""Avro single-object and Confluent framings, byte for byte."""

from __future__ import annotations

import pytest

from broker.codec.framing import (
    Framing,
    detect_framing,
    frame_confluent,
    frame_single_object,
    parse_confluent,
    parse_single_object,
)
from broker.errors import CodecError

FINGERPRINT = bytes.fromhex("f46695ef180317ee")


def test_single_object_is_c301_fingerprint_body() -> None:
    framed = frame_single_object(FINGERPRINT, b"\x02\x04")
    assert framed == bytes.fromhex("c301 f46695ef180317ee 0204")
    assert parse_single_object(framed) == (FINGERPRINT, b"\x02\x04")


def test_confluent_is_zero_big_endian_id_body() -> None:
    framed = frame_confluent(258, b"\x02")
    assert framed == bytes.fromhex("00 00000102 02")
    assert parse_confluent(framed) == (258, b"\x02")


def test_empty_body_is_a_valid_frame() -> None:
    assert parse_single_object(frame_single_object(FINGERPRINT, b"")) == (FINGERPRINT, b"")
    assert parse_confluent(frame_confluent(0, b"")) == (0, b"")


@pytest.mark.parametrize(
    ("data", "framing"),
    [(b"\xc3\x01rest", Framing.SINGLE_OBJECT), (b"\x00rest", Framing.CONFLUENT)],
)
def test_framing_is_detected_from_the_magic(data: bytes, framing: Framing) -> None:
    assert detect_framing(data) is framing


@pytest.mark.parametrize("data", [b"", b"\xc3", b"\xc3\x02", b"{", b"\x01\x00"])
def test_unknown_magic_is_a_codec_error(data: bytes) -> None:
    with pytest.raises(CodecError, match="unknown framing"):
        detect_framing(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xc3\x01\x00\x01", "truncated single-object header: 4 bytes, need 10"),
        (b"\xc3\x02" + bytes(8), "wrong single-object magic c302"),
    ],
)
def test_single_object_parse_errors_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        parse_single_object(data)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x00\x00\x01", "truncated Confluent header: 3 bytes, need 5"),
        (b"\x01\x00\x00\x00\x01", "wrong Confluent magic byte 01"),
        (b"\x00\xff\xff\xff\xff", "schema id 4294967295 is outside"),
    ],
)
def test_confluent_parse_errors_say_why(data: bytes, reason: str) -> None:
    with pytest.raises(CodecError, match=reason):
        parse_confluent(data)


def test_frame_arguments_are_checked() -> None:
    with pytest.raises(CodecError, match="8 bytes"):
        frame_single_object(b"\x01", b"")
    with pytest.raises(CodecError, match="outside"):
        frame_confluent(-1, b"")
