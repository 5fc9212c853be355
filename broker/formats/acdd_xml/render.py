"""Render a canonical `Declaration` as `acdd-xml` (the broker's XML of the ACDD data set).

Layout, WCO Data Model names (see `acdd_xml.layout` for why this is not the official schema):

    ACDD/MessageID
    ACDD/Declaration/{FunctionCode, TypeCode, FunctionalReferenceID, ID, DepartureDateTime,
        DeclarationOfficeID, ExitOfficeID, EntryOfficeID, InvoiceAmount, TotalValueAmount,
        TotalGrossMassMeasure, TotalPackageQuantity, Exporter, Consignee, Declarant, Carrier,
        BorderTransportMeans, Consignment, TradeTerms, GoodsItem*, AdditionalInformation*}

Amounts carry `currencyID`, measures `unitCode` (masses always KGM), identifiers `schemeID`;
the departure date-time keeps its UTC offset; extensions travel as AdditionalInformation.
A declaration missing one of the fifteen mandatory ACDD items is refused with all of them listed,
unless the caller asks to go on without them (`require_mandatory=False`): a receiving node then
delivers what the sending country's format could say and reports the gaps as warnings (China's
declaration, for one, has no address for the overseas consignee).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from broker.errors import FormatError, Problem
from broker.formats.acdd_xml.layout import (
    ADDRESS_TEXTS,
    FORMAT_ID,
    NAMESPACE,
    OFFICE_TEXTS,
    PARTY_ELEMENTS,
    REFERENCE_TEXTS,
    TYPE_CODES,
    missing_items,
)
from broker.formats.base import RenderResult
from broker.formats.normalize import plain
from broker.formats.paths import RenderLedger, unencodable_text
from broker.formats.xml.write import XML_REFUSED, XmlElement, group, leaf, to_xml_bytes
from broker.model import Declaration, MessageFunction, TransportMode


def render_acdd_xml(declaration: Declaration, *, require_mandatory: bool = True) -> RenderResult:
    ledger = RenderLedger(declaration, FORMAT_ID)
    problems = unencodable_text(ledger.values, XML_REFUSED)
    missing = [
        Problem(
            f"mandatory ACDD data item {item!r} is missing", field=path, code="mandatory_missing"
        )
        for item, path in missing_items(ledger.values, len(declaration.goods_items))
    ]
    if require_mandatory:
        problems += missing
    if problems:
        raise FormatError.collect(f"cannot render as {FORMAT_ID}", problems)
    take = ledger.take
    function: MessageFunction = take("function")
    mode: TransportMode = take("transport.mode")
    body = group(
        "Declaration",
        [
            leaf("FunctionCode", function.edifact_code),
            leaf("TypeCode", TYPE_CODES[take("kind")]),
            *(leaf(element, take(field)) for element, field in REFERENCE_TEXTS),
            leaf("DepartureDateTime", _local_time(declaration, ledger)),
            *(leaf(element, take(field)) for element, field in OFFICE_TEXTS),
            _amount("InvoiceAmount", take("invoice_amount"), take("invoice_currency")),
            _amount("TotalValueAmount", take("total_value"), take("total_value_currency")),
            _mass("TotalGrossMassMeasure", take("total_gross_mass_kg")),
            leaf("TotalPackageQuantity", _count(take("total_package_count"))),
            *(_party(element, role, ledger) for role, element in PARTY_ELEMENTS.items()),
            group(
                "BorderTransportMeans",
                [
                    leaf("ModeCode", str(mode.rec19_code)),
                    leaf("ID", take("transport.means_identity")),
                    leaf("RegistrationNationalityCode", take("transport.nationality")),
                ],
            ),
            _consignment(ledger),
            group(
                "TradeTerms",
                [
                    leaf("ConditionCode", take("incoterm")),
                    leaf("LocationName", take("incoterm_place")),
                ],
            ),
            *(_goods_item(index, ledger) for index in range(len(declaration.goods_items))),
            *(
                group(
                    "AdditionalInformation",
                    [
                        leaf("StatementCode", key),
                        leaf("StatementDescription", take(f"extensions.{key}")),
                    ],
                )
                for key in declaration.extensions
            ),
        ],
    )
    root = XmlElement(
        "ACDD",
        children=(XmlElement("MessageID", str(take("message_id"))), *([body] if body else [])),
    )
    warnings = () if require_mandatory else tuple(missing)
    return RenderResult(to_xml_bytes(root, namespace=NAMESPACE), ledger.report(), warnings)


def _local_time(declaration: Declaration, ledger: RenderLedger) -> str:
    """ISO 8601 wall-clock time of the sender, with its offset, to the microsecond."""
    ledger.take("issue_time")
    ledger.take("issue_time_offset_minutes")
    return declaration.local_issue_time.isoformat()


def _amount(tag: str, amount: Decimal | None, currency: str | None) -> XmlElement | None:
    if amount is None:
        return None
    return leaf(tag, plain(amount), **({"currencyID": currency} if currency else {}))


def _mass(tag: str, kilograms: Decimal | None) -> XmlElement | None:
    return None if kilograms is None else leaf(tag, plain(kilograms), unitCode="KGM")


def _count(value: int | None) -> str | None:
    return None if value is None else str(value)


def _party(tag: str, role: str, ledger: RenderLedger) -> XmlElement | None:
    take = ledger.take
    scheme = take(f"{role}.identifier_scheme")
    identifier = take(f"{role}.identifier")
    return group(
        tag,
        [
            leaf("Name", take(f"{role}.name")),
            leaf("ID", identifier, **({"schemeID": scheme} if scheme else {})),
            group("Address", [leaf(e, take(f"{role}.{f}")) for e, f in ADDRESS_TEXTS]),
        ],
    )


def _consignment(ledger: RenderLedger) -> XmlElement | None:
    take = ledger.take
    routing: tuple[str, ...] = take("itinerary") or ()
    containers: tuple[str, ...] = take("transport.containers") or ()
    seals: tuple[str, ...] = take("transport.seals") or ()
    return group(
        "Consignment",
        [
            leaf("UCRID", take("consignment_ucr")),
            leaf("LoadingLocationID", take("exit_place")),
            leaf("UnloadingLocationID", take("entry_place")),
            group("Itinerary", [leaf("RoutingCountryCode", country) for country in routing]),
            *(group("TransportEquipment", [leaf("ID", number)]) for number in containers),
            *(group("Seal", [leaf("ID", seal)]) for seal in seals),
        ],
    )


def _goods_item(index: int, ledger: RenderLedger) -> XmlElement | None:
    def take(field: str) -> Any:
        return ledger.take(f"goods_items.{index}.{field}")

    quantity: Decimal = take("quantity")
    return group(
        "GoodsItem",
        [
            leaf("SequenceNumeric", str(take("line_number"))),
            group(
                "Commodity",
                [
                    leaf("Description", take("description")),
                    leaf("Specification", take("specification")),
                    _classification(take("hs6"), "HS"),
                    _classification(take("tariff_line"), "NTL"),
                ],
            ),
            group(
                "GoodsMeasure",
                [
                    leaf("TariffQuantity", plain(quantity), unitCode=take("quantity_unit")),
                    _mass("NetWeightMeasure", take("net_mass_kg")),
                    _mass("GrossMassMeasure", take("gross_mass_kg")),
                ],
            ),
            leaf("OriginCountryCode", take("origin_country")),
            _amount("ValueAmount", take("value"), take("value_currency")),
            leaf("GovernmentProcedureCode", take("procedure_code")),
            group(
                "PreferenceClaim",
                [
                    leaf("AgreementCode", take("preference.agreement")),
                    leaf("CertificateID", take("preference.certificate_number")),
                ],
            ),
            group(
                "Packaging",
                [
                    leaf("QuantityQuantity", _count(take("package_count"))),
                    leaf("TypeCode", take("package_kind")),
                ],
            ),
        ],
    )


def _classification(code: str | None, kind: str) -> XmlElement | None:
    """HS: the HS6 subheading; NTL (broker-defined): the national tariff line it begins."""
    return group(
        "Classification", [leaf("ID", code), leaf("IdentificationTypeCode", kind if code else None)]
    )
