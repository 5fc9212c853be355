"""Parse `acdd-xml` (the broker's XML of the ACDD data set) into a canonical `Declaration`.

The layout is the one `acdd_xml.render` writes. Masses may be given in KGM, TNE or GRM and are
converted to kilograms exactly; the departure date-time must carry a UTC offset. Besides the
model's own checks, each of the fifteen mandatory ACDD data items that is absent is a warning.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final, TypeVar

from broker.formats.acdd_xml.layout import (
    ADDRESS_TEXTS,
    EXTENSION_PREFIX,
    FORMAT_ID,
    NAMESPACE,
    OFFICE_TEXTS,
    PARTY_ELEMENTS,
    REFERENCE_TEXTS,
    TYPE_CODES,
    missing_items,
)
from broker.formats.acdd_xml.values import ValueReader
from broker.formats.acdd_xml.wco import WCO_NAMESPACES, read_wco
from broker.formats.base import ParseLimits
from broker.formats.normalize import offset_minutes, parse_count, parse_decimal
from broker.formats.paths import flatten
from broker.formats.problems import ProblemLog, Reading
from broker.formats.xml.read import Children, XmlNode, leaves_under, read_xml
from broker.model import DeclarationKind, MessageFunction, TransportMode

T = TypeVar("T")

_KINDS: Final = {code: kind for kind, code in TYPE_CODES.items()}
_NAMESPACES: Final = frozenset({NAMESPACE, *WCO_NAMESPACES})
_PARTIES: Final = {element: role for role, element in PARTY_ELEMENTS.items()}
_DECLARATION: Final = (
    "FunctionCode",
    "TypeCode",
    *(element for element, _ in REFERENCE_TEXTS),
    "DepartureDateTime",
    *(element for element, _ in OFFICE_TEXTS),
    "InvoiceAmount",
    "TotalValueAmount",
    "TotalGrossMassMeasure",
    "TotalPackageQuantity",
    *_PARTIES,
    "BorderTransportMeans",
    "Consignment",
    "TradeTerms",
)


def read_acdd_xml(data: bytes, *, source: str = "", limits: ParseLimits | None = None) -> Reading:
    """The declaration in an `acdd-xml` document and the warnings, or `FormatError`."""
    log = ProblemLog(FORMAT_ID, source)
    root = read_xml(data, log=log, limits=limits or ParseLimits(), namespaces=_NAMESPACES)
    if root is None:
        raise log.fail("cannot read the XML document")
    if root.tag in ("Declaration", "MetaData"):
        return log.reading(read_wco(root, data, log), root=root.path)
    if root.tag != "ACDD":
        log.add(
            "root element must be ACDD, or a WCO Data Model Declaration or MetaData",
            location=root.path,
            value=root.tag,
            code="unknown_element",
        )
        raise log.fail("not an ACDD document")
    read = ValueReader(log)
    top = Children(root, log, path="/ACDD", once=("MessageID", "Declaration"))
    body = _inner(
        read,
        top,
        "Declaration",
        once=_DECLARATION,
        repeated=("GoodsItem", "AdditionalInformation"),
    )
    issue_time = read.value(body, "DepartureDateTime", "issue_time", _aware_time)
    log.locate("issue_time_offset_minutes", body.where("DepartureDateTime"))
    declaration: dict[str, Any] = {
        "message_id": read.text(top, "MessageID", "message_id"),
        "function": read.value(body, "FunctionCode", "function", MessageFunction.from_edifact_code),
        "kind": read.value(body, "TypeCode", "kind", _kind),
        **{field: read.text(body, element, field) for element, field in REFERENCE_TEXTS},
        "issue_time": issue_time,
        "issue_time_offset_minutes": offset_minutes(issue_time) if issue_time else None,
        **{field: read.text(body, element, field) for element, field in OFFICE_TEXTS},
        **_amount(read, body, "InvoiceAmount", "invoice_amount", "invoice_currency"),
        **_amount(read, body, "TotalValueAmount", "total_value", "total_value_currency"),
        "total_gross_mass_kg": read.mass(body, "TotalGrossMassMeasure", "total_gross_mass_kg"),
        "total_package_count": read.value(
            body, "TotalPackageQuantity", "total_package_count", parse_count
        ),
        **{role: _party(read, body, tag, role) for tag, role in _PARTIES.items()},
        **_consignment(read, body),
        "goods_items": [
            _goods_item(read, node, i) for i, node in enumerate(body.every("GoodsItem"))
        ],
        "extensions": _extensions(read, body),
    }
    log.locate("goods_items", body.where("GoodsItem"))
    # A missing ACDD item does not stop the document being a declaration: a warning, which
    # `validate --strict` turns into a failure (the renderer still refuses to write one).
    for item, path in missing_items(flatten(declaration), len(declaration["goods_items"])):
        if not log.reported(path):
            log.warn(
                f"mandatory ACDD data item {item!r} is missing",
                field=path,
                location=log.location_of(path, "/ACDD/Declaration"),
                code="mandatory_missing",
            )
    return log.reading(declaration, root="/ACDD")


def _amount(
    read: ValueReader, parent: Children, tag: str, field: str, currency: str, *, prefix: str = ""
) -> dict[str, Any]:
    amount, currency_code = read.amount(parent, tag, prefix + field, prefix + currency)
    return {field: amount, currency: currency_code}


def _kind(code: str) -> DeclarationKind:
    try:
        return _KINDS[code]
    except KeyError:
        raise ValueError("TypeCode must be EX, IM or TR") from None


def _aware_time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError("date-time must state its UTC offset, e.g. 2025-09-15T09:30:12+08:00")
    return moment


def _rec19(code: str) -> TransportMode:
    if len(code) != 1 or not code.isdigit():
        raise ValueError("ModeCode must be one UN/ECE Rec 19 digit")
    return TransportMode.from_rec19_code(int(code))


def _inner(
    read: ValueReader,
    parent: Children,
    tag: str,
    *,
    once: tuple[str, ...] = (),
    repeated: tuple[str, ...] = (),
) -> Children:
    """The children of `parent`'s element `tag`, at `<parent's path>/<tag>` when it is absent."""
    return Children(
        parent.first(tag), read.log, path=f"{parent.path}/{tag}", once=once, repeated=repeated
    )


def _party(read: ValueReader, body: Children, tag: str, role: str) -> dict[str, Any] | None:
    node = body.first(tag)
    if node is None:
        return None
    party = Children(node, read.log, path=node.path, once=("Name", "ID", "Address"))
    address = _inner(
        read,
        party,
        "Address",
        once=tuple(element for element, _ in ADDRESS_TEXTS),
    )
    read.log.locate(f"{role}.identifier_scheme", party.where("ID"))
    return {
        "name": read.text(party, "Name", f"{role}.name"),
        "identifier": read.text(party, "ID", f"{role}.identifier", "schemeID"),
        "identifier_scheme": read.attribute(party, "ID", "schemeID"),
        **{f: read.text(address, element, f"{role}.{f}") for element, f in ADDRESS_TEXTS},
    }


def _consignment(read: ValueReader, body: Children) -> dict[str, Any]:
    base = body.path
    means = _inner(
        read, body, "BorderTransportMeans", once=("ModeCode", "ID", "RegistrationNationalityCode")
    )
    consignment = _inner(
        read,
        body,
        "Consignment",
        once=("UCRID", "LoadingLocationID", "UnloadingLocationID", "Itinerary"),
        repeated=("TransportEquipment", "Seal"),
    )
    route = Children(
        consignment.first("Itinerary"),
        read.log,
        path=f"{base}/Consignment/Itinerary",
        repeated=("RoutingCountryCode",),
    )
    terms = _inner(read, body, "TradeTerms", once=("ConditionCode", "LocationName"))
    return {
        "transport": {
            "mode": read.value(means, "ModeCode", "transport.mode", _rec19),
            "means_identity": read.text(means, "ID", "transport.means_identity"),
            "nationality": read.text(means, "RegistrationNationalityCode", "transport.nationality"),
            "containers": _ids(read, consignment, "TransportEquipment", "transport.containers"),
            "seals": _ids(read, consignment, "Seal", "transport.seals"),
        },
        "consignment_ucr": read.text(consignment, "UCRID", "consignment_ucr"),
        "exit_place": read.text(consignment, "LoadingLocationID", "exit_place"),
        "entry_place": read.text(consignment, "UnloadingLocationID", "entry_place"),
        "itinerary": [node.text for node in route.every("RoutingCountryCode")],
        "incoterm": read.text(terms, "ConditionCode", "incoterm"),
        "incoterm_place": read.text(terms, "LocationName", "incoterm_place"),
    }


def _ids(read: ValueReader, parent: Children, tag: str, field: str) -> list[str | None]:
    read.log.locate(field, parent.where(tag))
    return [
        read.text(Children(node, read.log, path=node.path, once=("ID",)), "ID", field)
        for node in parent.every(tag)
    ]


def _goods_item(read: ValueReader, node: XmlNode, index: int) -> dict[str, Any]:
    field = f"goods_items.{index}"
    item = Children(
        node,
        read.log,
        path=node.path,
        once=(
            "SequenceNumeric",
            "Commodity",
            "GoodsMeasure",
            "OriginCountryCode",
            "ValueAmount",
            "GovernmentProcedureCode",
            "PreferenceClaim",
            "Packaging",
        ),
    )
    commodity = _inner(
        read, item, "Commodity", once=("Description", "Specification"), repeated=("Classification",)
    )
    measure = _inner(
        read, item, "GoodsMeasure", once=("TariffQuantity", "NetWeightMeasure", "GrossMassMeasure")
    )
    claim = _inner(read, item, "PreferenceClaim", once=("AgreementCode", "CertificateID"))
    packaging = _inner(read, item, "Packaging", once=("QuantityQuantity", "TypeCode"))
    read.log.locate(field, node.path)
    read.log.locate(f"{field}.quantity_unit", measure.where("TariffQuantity"))
    preference = {
        "agreement": read.text(claim, "AgreementCode", f"{field}.preference.agreement"),
        "certificate_number": read.text(
            claim, "CertificateID", f"{field}.preference.certificate_number"
        ),
    }
    return {
        "line_number": read.value(item, "SequenceNumeric", f"{field}.line_number", parse_count),
        "description": read.text(commodity, "Description", f"{field}.description"),
        "specification": read.text(commodity, "Specification", f"{field}.specification"),
        **_classifications(read, commodity, field),
        "quantity": read.value(
            measure, "TariffQuantity", f"{field}.quantity", parse_decimal, "unitCode"
        ),
        "quantity_unit": read.attribute(measure, "TariffQuantity", "unitCode"),
        "net_mass_kg": read.mass(measure, "NetWeightMeasure", f"{field}.net_mass_kg"),
        "gross_mass_kg": read.mass(measure, "GrossMassMeasure", f"{field}.gross_mass_kg"),
        "origin_country": read.text(item, "OriginCountryCode", f"{field}.origin_country"),
        **_amount(read, item, "ValueAmount", "value", "value_currency", prefix=f"{field}."),
        "procedure_code": read.text(item, "GovernmentProcedureCode", f"{field}.procedure_code"),
        "preference": preference if any(preference.values()) else None,
        "package_count": read.value(
            packaging, "QuantityQuantity", f"{field}.package_count", parse_count
        ),
        "package_kind": read.text(packaging, "TypeCode", f"{field}.package_kind"),
    }


def _classifications(read: ValueReader, commodity: Children, field: str) -> dict[str, str | None]:
    """Classification/ID by IdentificationTypeCode: HS -> hs6, NTL -> tariff_line."""
    codes: dict[str, str | None] = {"hs6": None, "tariff_line": None}
    targets = {"HS": "hs6", "NTL": "tariff_line"}
    for node in commodity.every("Classification"):
        parts = Children(node, read.log, path=node.path, once=("ID", "IdentificationTypeCode"))
        kind = read.text(parts, "IdentificationTypeCode", f"{field}.hs6") or ""
        if kind not in targets:
            read.log.add(
                "IdentificationTypeCode must be HS or NTL",
                location=parts.where("IdentificationTypeCode"),
                field=f"{field}.hs6",
                value=kind,
            )
            continue
        codes[targets[kind]] = read.text(parts, "ID", f"{field}.{targets[kind]}")
    return codes


def _extensions(read: ValueReader, body: Children) -> dict[str | None, str]:
    extensions: dict[str | None, str] = {}
    for node in read.log.unread:  # elements this layout does not know, kept by path
        for path, text in leaves_under(node, "/ACDD").items():
            extensions[f"{EXTENSION_PREFIX}{path}"] = text
    for node in body.every("AdditionalInformation"):
        statement = Children(
            node, read.log, path=node.path, once=("StatementCode", "StatementDescription")
        )
        key = read.text(statement, "StatementCode", "extensions")
        extensions[key] = read.text(statement, "StatementDescription", "extensions") or ""
    return extensions
