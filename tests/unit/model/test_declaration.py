"""The canonical declaration: what it accepts, what it refuses, and how it reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Context, Decimal, getcontext, localcontext
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from pydantic import ValidationError

from broker.errors import FormatError
from broker.model import (
    Declaration,
    GoodsItem,
    MessageFunction,
    TransportMode,
    validate_declaration,
)
from broker.model._rules import exact_sum
from broker.model.samples import iso6346, sample_declaration
from tests.strategies import declarations


def sample_data(**changes: Any) -> dict[str, Any]:
    """The sample declaration as plain data, with top-level fields changed."""
    data = sample_declaration(lines=3).model_dump()
    data.update(changes)
    return data


def item_data(index: int = 0, **changes: Any) -> dict[str, Any]:
    data = sample_data()
    data["goods_items"][index].update(changes)
    return data


def problems_of(data: dict[str, Any]) -> dict[str, str]:
    """Dotted field path -> pydantic error type, for every problem reported."""
    with pytest.raises(FormatError) as caught:
        validate_declaration(data)
    return {problem.field: problem.code for problem in caught.value.problems}


def test_the_sample_is_a_valid_china_laos_thailand_rail_transit() -> None:
    declaration = sample_declaration(lines=20)
    assert declaration.itinerary == ("CN", "LA", "TH")
    assert declaration.transport.mode is TransportMode.RAIL
    assert len(declaration.goods_items) == 20
    assert declaration.goods_items[0].description.startswith("笔记本电脑")
    assert validate_declaration(declaration.model_dump()) == declaration


def test_myanmar_local_time_is_restored_exactly_from_utc_and_offset() -> None:
    yangon = datetime(2025, 9, 15, 9, 30, 12, 345_678, tzinfo=ZoneInfo("Asia/Yangon"))
    data = sample_data(issue_time=yangon)
    del data["issue_time_offset_minutes"]
    declaration = Declaration.model_validate(data)
    assert declaration.issue_time == datetime(2025, 9, 15, 3, 0, 12, 345_678, tzinfo=UTC)
    assert declaration.issue_time.tzinfo is UTC
    local = declaration.local_issue_time
    assert (local.hour, local.minute, local.microsecond) == (9, 30, 345_678)
    assert local.utcoffset() == timedelta(hours=6, minutes=30)


def test_offset_defaults_to_the_one_issue_time_carries() -> None:
    data = sample_data(issue_time=datetime(2025, 3, 1, 8, 0, tzinfo=ZoneInfo("Asia/Almaty")))
    del data["issue_time_offset_minutes"]
    assert Declaration.model_validate(data).issue_time_offset_minutes == 300


def test_an_explicit_offset_wins_over_the_datetime_zone() -> None:
    data = sample_data(issue_time=datetime(2025, 3, 1, 0, 0, tzinfo=UTC))
    data["issue_time_offset_minutes"] = 390
    assert Declaration.model_validate(data).local_issue_time.isoformat() == (
        "2025-03-01T06:30:00+06:30"
    )


def test_naive_issue_time_is_refused() -> None:
    naive = datetime(2025, 3, 1, tzinfo=UTC).replace(tzinfo=None)
    assert problems_of(sample_data(issue_time=naive))["issue_time"] == "timezone_aware"


def test_decimals_are_held_at_the_schema_scale() -> None:
    item = GoodsItem.model_validate(item_data()["goods_items"][0] | {"quantity": Decimal("15")})
    assert str(item.quantity) == "15.000000"
    assert item.value is not None
    assert item.value.as_tuple().exponent == -4


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (1.5, "decimal_type"),
        ("1.5", "decimal_type"),
        (15, "decimal_type"),
        (Decimal("NaN"), "decimal_finite"),
        (Decimal("Infinity"), "decimal_finite"),
        (Decimal("0.0000001"), "decimal_range"),
        (Decimal("1E+22"), "decimal_range"),
        (Decimal("0"), "decimal_bound"),
        (Decimal("-1"), "decimal_bound"),
    ],
)
def test_quantity_must_be_an_exact_positive_decimal(value: object, code: str) -> None:
    assert problems_of(item_data(quantity=value))["goods_items.0.quantity"] == code


def test_json_carries_decimals_as_strings_and_round_trips() -> None:
    declaration = sample_declaration(lines=2)
    text = declaration.model_dump_json()
    assert '"quantity":"15.000000"' in text
    assert Declaration.model_validate_json(text) == declaration


def test_json_float_numbers_are_refused() -> None:
    text = (
        sample_declaration(lines=1)
        .model_dump_json()
        .replace('"quantity":"15.000000"', '"quantity":15.5')
    )
    with pytest.raises(ValidationError, match=r"decimal_type|cannot hold"):
        Declaration.model_validate_json(text)


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("hs6", "770100", "string_pattern_mismatch"),
        ("hs6", "001234", "string_pattern_mismatch"),
        ("hs6", "980100", "string_pattern_mismatch"),
        ("hs6", "84713", "string_pattern_mismatch"),
        ("hs6", "８４７１３０", "string_pattern_mismatch"),  # full-width digits
        ("tariff_line", "84713O0000", "string_pattern_mismatch"),
        ("tariff_line", "8517130000", "tariff_line_hs6"),
        ("origin_country", "XX", "value_error"),
        ("origin_country", "CHN", "string_pattern_mismatch"),
        ("value_currency", "RMB", "value_error"),
        ("gross_mass_kg", Decimal("0.5"), "gross_below_net"),
        ("quantity_unit", "kg", "string_pattern_mismatch"),
    ],
)
def test_goods_line_rules(field: str, value: object, code: str) -> None:
    assert problems_of(item_data(0, **{field: value}))[f"goods_items.0.{field}"] == code


@pytest.mark.parametrize("hs6", ["010121", "760110", "780110", "880240", "970110"])
def test_hs6_of_every_chapter_in_use_is_accepted(hs6: str) -> None:
    assert Declaration.model_validate(item_data(hs6=hs6, tariff_line=None))


def test_value_needs_its_currency() -> None:
    problems = problems_of(item_data(value_currency=None))
    assert problems == {"goods_items.0.value_currency": "missing_pair"}


def test_every_problem_is_reported_at_once_with_its_path() -> None:
    data = item_data(0, hs6="7701", origin_country="ZZ")
    data["goods_items"][2]["quantity"] = 2.5
    data["exit_place"] = "cnckg"
    data["itinerary"] = ["CN", "XL"]
    assert problems_of(data) == {
        "goods_items.0.hs6": "string_pattern_mismatch",
        "goods_items.0.origin_country": "value_error",
        "goods_items.2.quantity": "decimal_type",
        "exit_place": "string_pattern_mismatch",
        "itinerary.1": "value_error",
    }


def test_cross_field_problems_are_reported_together() -> None:
    data = sample_data(invoice_currency=None, total_package_count=1)
    data["goods_items"][1]["line_number"] = data["goods_items"][0]["line_number"]
    assert problems_of(data) == {
        "goods_items.1.line_number": "duplicate_line_number",
        "total_package_count": "total_mismatch",
        "invoice_currency": "missing_pair",
    }


def test_problem_carries_source_reason_and_original_value() -> None:
    with pytest.raises(FormatError) as caught:
        validate_declaration(item_data(hs6="770100"), source="cn-swxml:DecMessage.xml")
    (problem,) = caught.value.problems
    assert problem.source == "cn-swxml:DecMessage.xml"
    assert problem.value == "770100"
    assert "goods_items.0.hs6" in str(caught.value)


@pytest.mark.parametrize(
    ("field", "sum_of"),
    [
        ("total_gross_mass_kg", "gross_mass_kg"),
        ("total_value", "value"),
    ],
)
def test_totals_must_equal_the_sum_of_the_lines(field: str, sum_of: str) -> None:
    data = sample_data()
    exact = sum(item[sum_of] for item in data["goods_items"])
    assert Declaration.model_validate(data | {field: exact})
    assert problems_of(data | {field: exact + Decimal("0.01")}) == {field: "total_mismatch"}


def test_totals_are_not_checked_when_a_line_does_not_state_its_part() -> None:
    data = item_data(1, gross_mass_kg=None)
    assert Declaration.model_validate(data | {"total_gross_mass_kg": Decimal("1")})


def test_totals_add_up_without_rounding_at_28_digits() -> None:
    big = Decimal("9999999999999999999999.999999")  # 28 digits: a sum needs 29
    data = item_data(0, gross_mass_kg=big, net_mass_kg=None)
    data["goods_items"][1].update(gross_mass_kg=Decimal("0.000001"), net_mass_kg=None)
    data["goods_items"] = data["goods_items"][:2]
    data |= {"total_package_count": None, "total_value": None, "total_value_currency": None}
    assert problems_of(data | {"total_gross_mass_kg": big}) == {
        "total_gross_mass_kg": "total_mismatch"
    }


def test_exact_sums_ignore_and_keep_the_callers_decimal_context() -> None:
    big = Decimal("9999999999999999999999.999999")
    with localcontext(Context(prec=3)) as caller:
        assert exact_sum([big, Decimal("0.000001")]) == Decimal("1E+22")
        assert str(exact_sum([big, Decimal("0.000001")])) == "10000000000000000000000.000000"
        assert getcontext() is caller
        assert caller.prec == 3


def test_only_a_cancellation_may_have_no_goods() -> None:
    empty = sample_data(goods_items=[], total_gross_mass_kg=None, total_package_count=None)
    empty |= {"total_value": None, "total_value_currency": None}
    assert problems_of(empty) == {"goods_items": "no_goods"}
    cancelled = Declaration.model_validate(empty | {"function": "CANCELLATION"})
    assert cancelled.function.edifact_code == "1"


def test_party_identifier_needs_its_scheme() -> None:
    data = sample_data()
    data["exporter"]["identifier_scheme"] = None
    assert problems_of(data) == {"exporter.identifier_scheme": "missing_pair"}


def test_unknown_fields_are_refused() -> None:
    assert problems_of(sample_data(route="CN-LA-TH")) == {"route": "extra_forbidden"}


def test_models_are_immutable() -> None:
    declaration = sample_declaration(lines=1)
    with pytest.raises(ValidationError, match="frozen"):
        declaration.kind = declaration.kind  # type: ignore[misc]
    with pytest.raises(TypeError):
        declaration.extensions["cn-swxml:DecHead/ManualNo"] = "changed"  # type: ignore[index]
    assert isinstance(declaration.goods_items, tuple)


def test_extension_keys_name_their_format() -> None:
    assert problems_of(sample_data(extensions={"ManualNo": "x"})) == {
        "extensions.ManualNo.[key]": "string_pattern_mismatch"
    }


def test_code_list_crosswalks() -> None:
    assert [f.edifact_code for f in MessageFunction] == ["9", "4", "5", "1"]
    assert MessageFunction.from_edifact_code("5") is MessageFunction.REPLACE
    assert TransportMode.RAIL.rec19_code == 2
    assert TransportMode.from_rec19_code(1) is TransportMode.MARITIME
    with pytest.raises(ValueError, match="1225"):
        MessageFunction.from_edifact_code("2")
    with pytest.raises(ValueError, match="Rec 19"):
        TransportMode.from_rec19_code(10)


def test_sample_containers_have_valid_iso6346_check_digits() -> None:
    assert iso6346("CSQU305438") == "CSQU3054383"  # the standard's worked example


def test_local_issue_time_keeps_utc_instant_for_any_offset() -> None:
    data = sample_data(
        issue_time=datetime(2025, 1, 1, 23, 59, tzinfo=timezone(-timedelta(hours=12)))
    )
    del data["issue_time_offset_minutes"]
    declaration = Declaration.model_validate(data)
    assert declaration.issue_time == datetime(2025, 1, 2, 11, 59, tzinfo=UTC)
    assert declaration.local_issue_time.day == 1


@settings(max_examples=60, deadline=None)
@given(declarations())
def test_generated_declarations_survive_a_json_round_trip(declaration: Declaration) -> None:
    assert Declaration.model_validate_json(declaration.model_dump_json()) == declaration
