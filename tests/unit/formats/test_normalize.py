"""Normalization: exact decimals, exact unit conversion, HS6 from the national line."""

from __future__ import annotations

from decimal import Decimal

import pytest

from broker.codes import UnknownCodeError
from broker.formats.normalize import hs6_of, mass_in_kg, parse_count, parse_decimal, plain


@pytest.mark.parametrize(
    ("text", "value"), [("1234.50", "1234.50"), ("0.1", "0.1"), (".5", "0.5"), ("7", "7")]
)
def test_plain_decimals_are_read_exactly(text: str, value: str) -> None:
    assert parse_decimal(text) == Decimal(value)


@pytest.mark.parametrize("text", ["1e3", "1,234.5", "NaN", "Infinity", "", " 1", "1" * 41, "0x10"])
def test_other_number_notations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="plain decimal"):
        parse_decimal(text)


def test_decimal_comma_of_an_edifact_advice() -> None:
    assert parse_decimal("18250,5", decimal_mark=",") == Decimal("18250.5")


def test_counts_are_digits_only() -> None:
    assert parse_count("064") == 64
    for text in ("-1", "1.0", "", "12345678901"):
        with pytest.raises(ValueError, match="whole number"):
            parse_count(text)


def test_masses_convert_to_kilograms_exactly() -> None:
    assert mass_in_kg(Decimal("0.5815"), "TNE") == Decimal("581.5")
    assert mass_in_kg(Decimal("250"), "GRM") == Decimal("0.25")
    assert mass_in_kg(Decimal("0.1"), "KGM") == Decimal("0.1")
    with pytest.raises(UnknownCodeError, match="mass units"):
        mass_in_kg(Decimal(1), "LBR")


def test_plain_writes_no_exponent_and_no_trailing_zeros() -> None:
    assert plain(Decimal("1500.000000")) == "1500"
    assert plain(Decimal("0.000000")) == "0"
    assert plain(Decimal("0.000001")) == "0.000001"


def test_hs6_is_the_start_of_the_national_line() -> None:
    assert hs6_of("8471300000") == "847130"
    assert hs6_of("0902109000") == "090210"
    with pytest.raises(ValueError, match="6 to 13 digits"):
        hs6_of("84713")
