"""Routing to every country on the way, and data-sharing policy that records what it withholds."""

from __future__ import annotations

from decimal import Decimal

from broker.model import TransportMode
from broker.model.samples import sample_declaration
from broker.node.config import Partner, TransitRoute
from broker.policy import WITHHELD_KEY, apply_policy, unknown_fields
from broker.routing import countries_concerned, route, with_known_itinerary

PARTNERS = (Partner(node_id="LA-VTE"), Partner(node_id="TH-BKK"), Partner(node_id="VN-HAN"))


def test_rail_transit_goes_to_laos_and_thailand_not_back_to_china() -> None:
    declaration = sample_declaration(lines=2)
    assert countries_concerned(declaration) == ("CN", "LA", "TH")
    result = route(declaration, "CN", PARTNERS)
    assert [p.node_id for p in result.recipients] == ["LA-VTE", "TH-BKK"]
    assert result.unserved_countries == ()


def test_a_country_without_a_partner_node_is_reported() -> None:
    declaration = sample_declaration(lines=1).model_copy(update={"itinerary": ("CN", "LA", "MM")})
    result = route(declaration, "CN", PARTNERS)
    assert [p.node_id for p in result.recipients] == ["LA-VTE", "TH-BKK"]  # TH: importer/entry
    assert result.unserved_countries == ("MM",)


def test_no_policy_shares_everything() -> None:
    declaration = sample_declaration(lines=2)
    result = apply_policy(declaration, None)
    assert result.declaration == declaration
    assert result.withheld == ()


def test_allow_list_withholds_identifiers_and_values_and_says_so() -> None:
    declaration = sample_declaration(lines=3)
    allow = [
        "exporter.name", "exporter.country", "importer", "goods_items.net_mass_kg",
        "goods_items.gross_mass_kg", "total_gross_mass_kg", "transport",
    ]  # fmt: skip
    result = apply_policy(declaration, allow)
    shared = result.declaration
    assert shared.exporter is not None
    assert declaration.exporter is not None
    assert shared.exporter.name == declaration.exporter.name
    assert shared.exporter.identifier is None
    assert shared.exporter.identifier_scheme is None  # withheld with its pair
    assert shared.importer == declaration.importer  # parent allowed: all of it
    assert shared.declarant is None
    assert all(item.value is None and item.value_currency is None for item in shared.goods_items)
    assert shared.goods_items[0].gross_mass_kg == declaration.goods_items[0].gross_mass_kg
    assert shared.total_gross_mass_kg == declaration.total_gross_mass_kg
    assert isinstance(shared.total_gross_mass_kg, Decimal)
    assert "exporter.identifier" in result.withheld
    assert "goods_items.value" in result.withheld
    assert "declarant" in result.withheld
    assert "importer.identifier" not in result.withheld
    # Recorded in the declaration itself: the recipient sees the gap is deliberate.
    assert shared.extensions[WITHHELD_KEY] == ",".join(result.withheld)
    # The goods themselves always travel.
    assert [i.description for i in shared.goods_items] == [
        i.description for i in declaration.goods_items
    ]


def test_typos_in_allow_lists_are_caught() -> None:
    assert unknown_fields(["exporter.name", "exporter.nmae", "goods_items.value", "x"]) == [
        "exporter.nmae",
        "x",
    ]


def test_a_known_rail_route_fills_in_the_itinerary_a_national_format_lacks() -> None:
    lacking = sample_declaration(lines=1).model_copy(update={"itinerary": ()})
    rail_via_laos = TransitRoute(mode=TransportMode.RAIL, destination="TH", via=("LA",))
    road_via_laos = TransitRoute(mode=TransportMode.ROAD, destination="TH", via=("LA",))
    assert with_known_itinerary(lacking, "CN", [road_via_laos]).itinerary == ()
    enriched = with_known_itinerary(lacking, "CN", [road_via_laos, rail_via_laos])
    assert enriched.itinerary == ("CN", "LA", "TH")
    assert [p.node_id for p in route(enriched, "CN", PARTNERS).recipients] == ["LA-VTE", "TH-BKK"]
    stated = sample_declaration(lines=1)  # an itinerary given by the document is never replaced
    assert with_known_itinerary(stated, "CN", [rail_via_laos]) is stated
