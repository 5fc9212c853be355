"""Crosswalk tables: sources stated, unknown codes named, nothing passed through silently."""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from broker.codes import CodeTable, UnknownCodeError
from broker.codes.cn_transaction_terms import CN_TRANSACTION_TERMS
from broker.codes.cn_transport_modes import CN_TRANSPORT_MODES
from broker.codes.cn_units import CN_UNITS
from broker.codes.countries import alpha2, alpha3
from broker.codes.currencies import currency
from broker.codes.locodes import CORRIDOR_PLACES, corridor_place
from broker.codes.time_zones import COUNTRY_ZONES, zone_for
from broker.model import Incoterm, TransportMode

TABLE_MODULES = (
    "countries",
    "currencies",
    "cn_units",
    "cn_transport_modes",
    "cn_transaction_terms",
    "locodes",
    "time_zones",
)


@pytest.mark.parametrize("name", TABLE_MODULES)
def test_every_table_says_where_it_comes_from(name: str) -> None:
    module = importlib.import_module(f"broker.codes.{name}")
    assert module.SOURCE.strip()
    assert module.VERSION.strip()


@pytest.mark.parametrize("table", [CN_UNITS, CN_TRANSPORT_MODES, CN_TRANSACTION_TERMS])
def test_unverified_china_tables_say_so(table: CodeTable[str]) -> None:
    assert table.verified is False  # docs/domain.md marks them [check]


def test_china_waterway_is_not_rec19_rail() -> None:
    assert CN_TRANSPORT_MODES.canonical("2") is TransportMode.MARITIME
    assert CN_TRANSPORT_MODES.canonical("3") is TransportMode.RAIL
    assert CN_TRANSPORT_MODES.national(TransportMode.RAIL) == "3"
    assert TransportMode.RAIL.rec19_code == 2


def test_inland_water_is_written_as_the_nearest_china_code_and_says_so() -> None:
    assert CN_TRANSPORT_MODES.national(TransportMode.INLAND_WATER) == "2"
    assert not CN_TRANSPORT_MODES.is_exact(TransportMode.INLAND_WATER)
    assert CN_TRANSPORT_MODES.is_exact(TransportMode.ROAD)


@pytest.mark.parametrize(
    ("code", "unit"), [("035", "KGM"), ("070", "TNE"), ("007", "H87"), ("095", "LTR")]
)
def test_china_units_map_to_rec20(code: str, unit: str) -> None:
    assert CN_UNITS.canonical(code) == unit
    assert CN_UNITS.national(unit) == code


@pytest.mark.parametrize(
    ("code", "incoterm"),
    [("1", Incoterm.CIF), ("2", Incoterm.CFR), ("3", Incoterm.FOB), ("7", Incoterm.EXW)],
)
def test_china_transaction_terms_map_to_incoterms(code: str, incoterm: Incoterm) -> None:
    assert CN_TRANSACTION_TERMS.canonical(code) is incoterm
    assert CN_TRANSACTION_TERMS.national(incoterm) == code


def test_china_c_and_i_is_known_but_has_no_incoterm() -> None:
    assert CN_TRANSACTION_TERMS.canonical("4") is None


def test_every_incoterm_can_be_written_for_china() -> None:
    assert all(CN_TRANSACTION_TERMS.national(term) in "1237" for term in Incoterm)


@pytest.mark.parametrize(
    ("table", "code"), [(CN_UNITS, "999"), (CN_TRANSPORT_MODES, "Q"), (CN_TRANSACTION_TERMS, "8")]
)
def test_unknown_code_names_its_table(table: CodeTable[str], code: str) -> None:
    with pytest.raises(UnknownCodeError) as caught:
        table.canonical(code)
    assert table.name in str(caught.value)
    assert caught.value.code == code


def test_table_refuses_two_codes_for_one_value() -> None:
    with pytest.raises(ValueError, match="same canonical value"):
        CodeTable("t", "s", "v", True, {"1": "KGM", "2": "KGM"})


def test_countries_from_pycountry() -> None:
    assert [alpha2(c) for c in ("CHN", "LAO", "THA", "MMR", "KAZ")] == [
        "CN",
        "LA",
        "TH",
        "MM",
        "KZ",
    ]
    assert alpha3("VN") == "VNM"
    with pytest.raises(UnknownCodeError, match="ISO 3166-1 alpha-3"):
        alpha2("XXX")


def test_currencies_from_pycountry() -> None:
    assert currency("LAK") == "LAK"
    with pytest.raises(UnknownCodeError, match="ISO 4217"):
        currency("RMB")


def test_corridor_places() -> None:
    assert corridor_place("CNPIN").verified
    assert not corridor_place("CNQZH").verified
    assert all(code[:2] in COUNTRY_ZONES for code in CORRIDOR_PLACES)
    with pytest.raises(UnknownCodeError):
        corridor_place("XXXXX")


@pytest.mark.parametrize(
    ("country", "hours"), [("CN", 8), ("MM", 6.5), ("LA", 7), ("KZ", 5), ("SG", 8)]
)
def test_time_zones_come_from_the_tz_database(country: str, hours: float) -> None:
    moment = datetime(2025, 9, 15, 12, tzinfo=zone_for(country))
    assert moment.utcoffset() == timedelta(hours=hours)
    assert isinstance(zone_for(country), ZoneInfo)


def test_unknown_country_has_no_zone() -> None:
    with pytest.raises(UnknownCodeError, match="time zones"):
        zone_for("US")
