"""The ACDD data set: its fifteen mandatory items and where the canonical model holds them.

The ASEAN Customs Declaration Document's XML schema (implementation guide v1.08) is not public.
The `acdd-xml` format is therefore the broker's own XML rendering of the published data set, with
WCO Data Model names; the mandatory items are Singapore Customs' list (docs/domain.md §2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from broker.model import DeclarationKind

FORMAT_ID: Final = "acdd-xml"
NAMESPACE: Final = "urn:ilstc:broker:acdd:1"
EXTENSION_PREFIX: Final = f"{FORMAT_ID}:"

# Declaration TypeCode (WCO D013 in words: export, import, transit); the broker's own codes.
TYPE_CODES: Final = {
    DeclarationKind.EXPORT: "EX",
    DeclarationKind.IMPORT: "IM",
    DeclarationKind.TRANSIT: "TR",
}

# The element <-> field tables both `acdd_xml.parse` and `acdd_xml.render` read, in document
# order; the structured parts (amounts, measures, consignment, goods items) are written out in
# both, next to each other.
REFERENCE_TEXTS: Final = (
    ("FunctionalReferenceID", "functional_reference"),
    ("ID", "declaration_number"),
)
OFFICE_TEXTS: Final = (
    ("DeclarationOfficeID", "declaring_office"),
    ("ExitOfficeID", "exit_office"),
    ("EntryOfficeID", "entry_office"),
)
PARTY_ELEMENTS: Final = {
    "exporter": "Exporter",
    "importer": "Consignee",
    "declarant": "Declarant",
    "carrier": "Carrier",
}
ADDRESS_TEXTS: Final = (
    ("Line", "street"),
    ("CityName", "city"),
    ("PostcodeID", "postcode"),
    ("CountryCode", "country"),
)

# (data item as the ACDD list names it, canonical field pattern)
MANDATORY_ITEMS: Final = (
    ("exporter ID", "exporter.identifier"),
    ("exporter name", "exporter.name"),
    ("consignee name", "importer.name"),
    ("consignee address", "importer.street"),
    ("declaring agent ID", "declarant.identifier"),
    ("declaring agent name", "declarant.name"),
    ("departure date", "issue_time"),
    ("national permit (declaration) number", "declaration_number"),
    ("outward transport mode", "transport.mode"),
    ("port of discharge", "entry_place"),
    ("item serial number", "goods_items.*.line_number"),
    ("item HS code", "goods_items.*.hs6"),
    ("HS quantity", "goods_items.*.quantity"),
    ("HS quantity unit", "goods_items.*.quantity_unit"),
    ("country of origin", "goods_items.*.origin_country"),
)

# Every canonical field has an element; ACDD is the broker's own rendering of the data set.
PARTY_FIELDS: Final = (
    "name",
    "identifier",
    "identifier_scheme",
    "street",
    "city",
    "postcode",
    "country",
)
ITEM_FIELDS: Final = (
    "line_number", "hs6", "tariff_line", "description", "specification", "origin_country",
    "quantity",
    "quantity_unit", "net_mass_kg", "gross_mass_kg", "value", "value_currency", "procedure_code",
    "preference.agreement", "preference.certificate_number", "package_count", "package_kind",
)  # fmt: skip
CAPABILITIES: Final = frozenset(
    {
        "message_id", "functional_reference", "declaration_number", "kind", "function",
        "issue_time", "issue_time_offset_minutes", "declaring_office", "exit_office",
        "exit_place", "entry_office", "entry_place", "itinerary", "transport.mode",
        "transport.means_identity", "transport.nationality", "transport.containers",
        "transport.seals", "total_gross_mass_kg", "total_package_count", "total_value",
        "total_value_currency", "invoice_amount", "invoice_currency", "incoterm",
        "incoterm_place", "consignment_ucr", "extensions",
        *(f"{role}.{field}" for role in ("exporter", "importer", "declarant", "carrier")
          for field in PARTY_FIELDS),
        *(f"goods_items.*.{field}" for field in ITEM_FIELDS),
    }
)  # fmt: skip


def missing_items(values: Mapping[str, Any], line_count: int) -> list[tuple[str, str]]:
    """(data item, concrete canonical path) of each mandatory item absent from `values`.

    `values` maps concrete paths to filled values (see `broker.formats.paths.flatten`).
    """
    missing: list[tuple[str, str]] = []
    for item, pattern in MANDATORY_ITEMS:
        paths = (
            [pattern.replace("*", str(index)) for index in range(line_count)]
            if "*" in pattern
            else [pattern]
        )
        missing.extend((item, path) for path in paths if path not in values)
    return missing
