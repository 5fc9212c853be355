"""Read a WCO Data Model declaration (`Declaration`, optionally inside `MetaData`) tolerantly.

National customs systems built on the WCO Data Model send the declaration as a namespaced
`Declaration` (`urn:wco:datamodel:WCO:DEC-DMS:2`), often wrapped in a `MetaData` envelope
(`urn:wco:datamodel:WCO:DocumentMetaData-DMS:2`) naming the data model version, prefixed or
in the default namespace, as the UK's CDS and the EU's national declaration services publish
them. `WCO_FIELDS` and `WCO_ITEM_FIELDS` say where each canonical field may be found (first
path present wins); everything else under the declaration is kept in extensions under its
path (`acdd-xml:wco/GoodsShipment/AEOMutualRecognitionParty[2]/ID`) with a warning, so nothing
is lost. ACDD's fifteen mandatory items are not required of such a document (it was not written
as an ACDD): a missing one is a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

from broker.formats.acdd_xml.layout import EXTENSION_PREFIX, FORMAT_ID, missing_items
from broker.formats.base import derived_message_id
from broker.formats.normalize import mass_in_kg, offset_minutes, parse_count, parse_decimal
from broker.formats.paths import flatten
from broker.formats.problems import ProblemLog
from broker.formats.xml.read import XmlNode
from broker.model import DeclarationKind, MessageFunction, TransportMode

WCO_NAMESPACES: Final = frozenset(
    {
        "urn:wco:datamodel:WCO:DEC-DMS:2",
        "urn:wco:datamodel:WCO:DocumentMetaData-DMS:2",
        "urn:wco:datamodel:WCO:Declaration_DS:DMS:2",
        "urn:wco:datamodel:WCO:MetaData_DS-DMS:2",
        "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:6",
    }
)

# Canonical field -> element paths below Declaration, best first.
WCO_FIELDS: Final = {
    "functional_reference": ("FunctionalReferenceID",),
    "declaration_number": ("ID",),
    "declaring_office": ("DeclarationOffice/ID", "DeclarationOfficeID"),
    "exit_office": ("ExitOffice/ID", "ExitOfficeID"),
    "entry_office": ("EntryOffice/ID", "PresentationOffice/ID", "EntryOfficeID"),
    "exit_place": ("GoodsShipment/Consignment/LoadingLocation/ID",),
    "entry_place": ("GoodsShipment/Consignment/UnloadingLocation/ID",),
    "consignment_ucr": ("GoodsShipment/UCR/ID", "GoodsShipment/UCR/TraderAssignedReferenceID"),
    "total_package_count": ("TotalPackageQuantity",),
    "transport.means_identity": (
        "BorderTransportMeans/ID",
        "GoodsShipment/Consignment/DepartureTransportMeans/ID",
        "GoodsShipment/Consignment/ArrivalTransportMeans/ID",
    ),
    "transport.nationality": ("BorderTransportMeans/RegistrationNationalityCode",),
    "incoterm": ("GoodsShipment/TradeTerms/ConditionCode", "TradeTerms/ConditionCode"),
    "incoterm_place": (
        "GoodsShipment/TradeTerms/LocationName",
        "GoodsShipment/TradeTerms/LocationID",
        "TradeTerms/LocationName",
    ),
}
_MODE: Final = (
    "BorderTransportMeans/ModeCode",
    "GoodsShipment/Consignment/DepartureTransportMeans/ModeCode",
    "GoodsShipment/Consignment/ArrivalTransportMeans/ModeCode",
)
_TIMES: Final = (
    "IssueDateTime/DateTimeString",
    "IssueDateTime",
    "DepartureDateTime",
    "AcceptanceDateTime/DateTimeString",
)
_INVOICE: Final = ("InvoiceAmount", "GoodsShipment/InvoiceAmount")
_TOTAL_GROSS: Final = ("TotalGrossMassMeasure", "GoodsShipment/Consignment/GrossMassMeasure")
_PARTIES: Final = {
    "exporter": ("Exporter", "GoodsShipment/Exporter", "GoodsShipment/Consignor"),
    "importer": ("GoodsShipment/Consignee", "GoodsShipment/Importer", "Consignee"),
    "declarant": ("Declarant", "Agent"),
    "carrier": ("Carrier", "GoodsShipment/Consignment/Carrier"),
}
_ITEMS: Final = ("GoodsShipment/GovernmentAgencyGoodsItem", "GovernmentAgencyGoodsItem")
WCO_ITEM_FIELDS: Final = {
    "line_number": ("SequenceNumeric",),
    "description": ("Commodity/Description",),
    "origin_country": ("Origin/CountryCode", "Commodity/Origin/CountryCode"),
    "package_count": ("Packaging/QuantityQuantity",),
    "package_kind": ("Packaging/TypeCode",),
}
_ITEM_VALUE: Final = ("StatisticalValueAmount", "CustomsValueAmount", "ValueAmount")
_ITEM_MASSES: Final = {
    "net_mass_kg": ("Commodity/GoodsMeasure/NetNetWeightMeasure", "GoodsMeasure/NetWeightMeasure"),
    "gross_mass_kg": ("Commodity/GoodsMeasure/GrossMassMeasure", "GoodsMeasure/GrossMassMeasure"),
}
_QUANTITY: Final = ("Commodity/GoodsMeasure/TariffQuantity", "GoodsMeasure/TariffQuantity")
# Classification IdentificationTypeCode giving the HS-based commodity code (WCO DM / EU CDS:
# TSP = combined nomenclature / TARIC, HS = Harmonized System, NTL = national tariff line).
_COMMODITY_TYPES: Final = ("HS", "TSP", "NTL", "GN")
# Declaration TypeCode: the first two letters (the UK/EU third letter is the declaration kind).
_KINDS: Final = {
    "EX": DeclarationKind.EXPORT,
    "EC": DeclarationKind.EXPORT,
    "IM": DeclarationKind.IMPORT,
    "TR": DeclarationKind.TRANSIT,
    "TT": DeclarationKind.TRANSIT,
}


class _Tree:
    """The leaves below one element by index-free path; what a mapping takes is marked used."""

    def __init__(self, node: XmlNode) -> None:
        self.node = node
        self.by_path: dict[str, list[XmlNode]] = {}
        self.used: set[str] = set()  # XmlNode paths
        cut = len(node.path) + 1
        stack = list(reversed(node.children))
        while stack:
            current = stack.pop()
            key = "/".join(step.split("[", 1)[0] for step in current.path[cut:].split("/"))
            self.by_path.setdefault(key, []).append(current)
            stack.extend(reversed(current.children))

    def first(self, paths: Iterable[str]) -> XmlNode | None:
        for path in paths:
            for node in self.by_path.get(path, ()):
                if not node.children and node.text.strip():
                    self.used.add(node.path)
                    return node
        return None

    def every(self, paths: Iterable[str]) -> list[XmlNode]:
        for path in paths:
            if path in self.by_path:
                return self.by_path[path]
        return []


def read_wco(root: XmlNode, data: bytes, log: ProblemLog) -> dict[str, Any]:
    """Canonical field values from a WCO DM `Declaration` (or a `MetaData` holding one)."""
    extensions: dict[str, str] = {}
    declaration_node = root
    if root.tag == "MetaData":
        found = [child for child in root.children if child.tag == "Declaration"]
        if not found:
            log.add("MetaData holds no Declaration", location=root.path, code="missing_element")
            return {}
        declaration_node = found[0]
        for child in root.children:
            if child is not declaration_node and not child.children:
                extensions[f"{EXTENSION_PREFIX}wco-metadata/{child.tag}"] = child.text
    tree = _Tree(declaration_node)
    values: dict[str, Any] = {"message_id": derived_message_id(FORMAT_ID, data)}
    for field, paths in WCO_FIELDS.items():
        node = tree.first(paths)
        log.locate(field, node.path if node else f"{declaration_node.path}/{paths[0]}")
        _put(values, field, _converted(field, node, log))
    values["function"] = _function(tree, log, extensions)
    values["kind"] = _kind(tree, log, declaration_node.path)
    moment = _time(tree, log, declaration_node.path)
    values["issue_time"] = moment
    values["issue_time_offset_minutes"] = offset_minutes(moment) if moment else None
    mode = tree.first(_MODE)
    log.locate("transport.mode", mode.path if mode else f"{declaration_node.path}/{_MODE[0]}")
    _put(values, "transport.mode", _converted("transport.mode", mode, log))
    if mode is None:  # the canonical model needs one: said, not guessed silently
        values["transport"]["mode"] = TransportMode.NOT_SPECIFIED
        log.warn(
            "no transport ModeCode: NOT_SPECIFIED",
            location=f"{declaration_node.path}/{_MODE[0]}",
            field="transport.mode",
            code="guessed",
        )
    containers = []
    for node in tree.every(("GoodsShipment/Consignment/TransportEquipment/ID",)):
        if node.text.strip():
            tree.used.add(node.path)
            containers.append(node.text.strip())
    values.setdefault("transport", {})["containers"] = containers
    _amount(values, tree, _INVOICE, ("invoice_amount", "invoice_currency"), log)
    _mass(values, tree, _TOTAL_GROSS, "total_gross_mass_kg", log)
    for role, paths in _PARTIES.items():
        values[role] = _party(tree, paths, role, log)
    values["goods_items"] = [
        _item(tree, node, index, log) for index, node in enumerate(tree.every(_ITEMS))
    ]
    log.locate("goods_items", f"{declaration_node.path}/{_ITEMS[0]}")
    _keep_rest(tree, declaration_node, log, extensions)
    values["extensions"] = extensions
    for item, path in missing_items(flatten(values), len(values["goods_items"])):
        log.warn(
            f"ACDD data item {item!r} is absent from this WCO declaration",
            location=log.location_of(path, declaration_node.path),
            field=path,
            code="mandatory_missing",
        )
    return values


def _put(target: dict[str, Any], field: str, value: Any) -> None:
    *parents, name = field.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
    target[name] = value


def _converted(field: str, node: XmlNode | None, log: ProblemLog) -> Any:
    if node is None:
        return None
    text = node.text.strip()
    converters: dict[str, Callable[[str], Any]] = {
        "total_package_count": parse_count,
        "transport.mode": _rec19,
        "line_number": parse_count,
        "package_count": parse_count,
    }
    convert = converters.get(field)
    return text if convert is None else log.read(text, convert, field=field, location=node.path)


def _rec19(code: str) -> TransportMode:
    if len(code) != 1 or not code.isdigit():
        raise ValueError("ModeCode must be one UN/ECE Rec 19 digit")
    return TransportMode.from_rec19_code(int(code))


def _function(tree: _Tree, log: ProblemLog, extensions: dict[str, str]) -> MessageFunction:
    node = tree.first(("FunctionCode",))
    if node is None:
        return MessageFunction.ORIGINAL
    code = node.text.strip()
    try:
        return MessageFunction.from_edifact_code(code)
    except ValueError:
        log.warn(
            f"FunctionCode {code} read as original (9)",
            location=node.path,
            field="function",
            value=code,
            code="guessed",
        )
        extensions[f"{EXTENSION_PREFIX}wco/FunctionCode"] = code
        return MessageFunction.ORIGINAL


def _kind(tree: _Tree, log: ProblemLog, base: str) -> DeclarationKind | None:
    node = tree.first(("TypeCode",))
    log.locate("kind", node.path if node else f"{base}/TypeCode")
    if node is None:
        return None
    code = node.text.strip()
    kind = _KINDS.get(code[:2])
    if kind is None:
        log.add(
            "TypeCode must begin with EX, IM or TR (export, import, transit)",
            location=node.path,
            field="kind",
            value=code,
        )
    elif len(code) > 2:
        tree.used.discard(node.path)  # the additional declaration type travels in extensions
    return kind


def _time(tree: _Tree, log: ProblemLog, base: str) -> datetime | None:
    node = tree.first(_TIMES)
    log.locate("issue_time", node.path if node else f"{base}/IssueDateTime")
    log.locate("issue_time_offset_minutes", node.path if node else f"{base}/IssueDateTime")
    if node is None:
        return None
    form = node.attributes.get("formatCode", "")
    return log.read(
        node.text.strip(), lambda t: _wco_time(t, form), field="issue_time", location=node.path
    )


def _wco_time(text: str, form: str) -> datetime:
    """ISO 8601 with an offset, or WCO formatCode 304: CCYYMMDDHHMMSS then Z or +hh[mm]."""
    if form in ("", "304") and len(text) >= 15 and text[:14].isdigit():
        wall = datetime.strptime(text[:14], "%Y%m%d%H%M%S")  # noqa: DTZ007 - zone added next
        zone = text[14:]
        if zone == "Z":
            return wall.replace(tzinfo=UTC)
        if zone[:1] in "+-" and zone[1:].isdigit() and len(zone) in (3, 5):
            minutes = int(zone[1:3]) * 60 + (int(zone[3:5]) if len(zone) == 5 else 0)
            sign = -1 if zone[0] == "-" else 1
            return wall.replace(tzinfo=timezone(timedelta(minutes=sign * minutes)))
        raise ValueError("formatCode 304 time must end in Z or +hh[mm]")
    moment = datetime.fromisoformat(text)
    if moment.utcoffset() is None:
        raise ValueError("date-time must state its UTC offset")
    return moment


def _amount(
    target: dict[str, Any],
    tree: _Tree,
    paths: tuple[str, ...],
    fields: tuple[str, str],
    log: ProblemLog,
    prefix: str = "",
) -> None:
    node = tree.first(paths)
    amount, currency = fields
    if node is None:
        return
    log.locate(prefix + currency, node.path)
    target[amount] = log.read(
        node.text.strip(), parse_decimal, field=prefix + amount, location=node.path
    )
    target[currency] = node.attributes.get("currencyID")


def _mass(
    target: dict[str, Any],
    tree: _Tree,
    paths: tuple[str, ...],
    key: str,
    log: ProblemLog,
    prefix: str = "",
) -> None:
    node = tree.first(paths)
    if node is None:
        return
    field = prefix + key
    log.locate(field, node.path)
    value = log.read(node.text.strip(), parse_decimal, field=field, location=node.path)
    unit = node.attributes.get("unitCode", "KGM")
    if value is not None:
        target[key] = log.read(
            unit, lambda u: mass_in_kg(value, u), field=field, location=node.path
        )


def _party(
    tree: _Tree, paths: tuple[str, ...], role: str, log: ProblemLog
) -> dict[str, Any] | None:
    for base in paths:
        if not any(key.startswith(base + "/") for key in tree.by_path):
            continue
        fields = {
            "name": (f"{base}/Name",),
            "identifier": (f"{base}/ID",),
            "street": (f"{base}/Address/Line",),
            "city": (f"{base}/Address/CityName",),
            "postcode": (f"{base}/Address/PostcodeID",),
            "country": (f"{base}/Address/CountryCode",),
        }
        party: dict[str, Any] = {}
        for key, where in fields.items():
            node = tree.first(where)
            log.locate(f"{role}.{key}", node.path if node else f"{tree.node.path}/{base}")
            party[key] = node.text.strip() if node else None
            if key == "identifier" and node is not None:
                party["identifier_scheme"] = node.attributes.get("schemeID") or "WCO-ID"
        if party.get("name") is None and party.get("identifier") is not None:
            party["name"] = party["identifier"]  # the model needs a name; the ID is the name
            log.warn(
                f"{role} has an ID but no Name: the ID stands for the name",
                location=log.location_of(f"{role}.identifier", tree.node.path),
                field=f"{role}.name",
                code="guessed",
            )
        return party if any(party.values()) else None
    return None


def _item(tree: _Tree, node: XmlNode, index: int, log: ProblemLog) -> dict[str, Any]:
    item_tree = _Tree(node)
    prefix = f"goods_items.{index}."
    log.locate(prefix.rstrip("."), node.path)
    item: dict[str, Any] = {}
    for field, paths in WCO_ITEM_FIELDS.items():
        found = item_tree.first(paths)
        log.locate(prefix + field, found.path if found else node.path)
        item[field] = _converted(field, found, log)
    _amount(item, item_tree, _ITEM_VALUE, ("value", "value_currency"), log, prefix)
    for field, paths in _ITEM_MASSES.items():
        _mass(item, item_tree, paths, field, log, prefix)
    quantity = item_tree.first(_QUANTITY)
    if quantity is not None:
        log.locate(prefix + "quantity", quantity.path)
        item["quantity"] = log.read(
            quantity.text.strip(), parse_decimal, field=prefix + "quantity", location=quantity.path
        )
        item["quantity_unit"] = quantity.attributes.get("unitCode")
    elif item.get("net_mass_kg") is not None:  # no TariffQuantity: the net mass is the quantity
        item["quantity"], item["quantity_unit"] = item["net_mass_kg"], "KGM"
        log.warn(
            "no TariffQuantity: the net mass (kg) is the quantity",
            location=node.path,
            field=prefix + "quantity",
            code="guessed",
        )
    procedure = item_tree.first(("GovernmentProcedure/CurrentCode",))
    if procedure is not None:
        previous = item_tree.first(("GovernmentProcedure/PreviousCode",))
        item["procedure_code"] = procedure.text.strip() + (
            previous.text.strip() if previous else ""
        )
    _classification(item, item_tree, node, prefix, log)
    tree.used |= item_tree.used
    return item


def _classification(
    item: dict[str, Any], tree: _Tree, node: XmlNode, prefix: str, log: ProblemLog
) -> None:
    log.locate(prefix + "hs6", f"{node.path}/Commodity/Classification")
    for classification in tree.every(("Commodity/Classification",)):
        parts = {child.tag: child for child in classification.children}
        kind = parts.get("IdentificationTypeCode")
        code = parts.get("ID")
        if kind is None or code is None or kind.text.strip() not in _COMMODITY_TYPES:
            continue
        digits = code.text.strip()
        log.locate(prefix + "hs6", code.path)
        log.locate(prefix + "tariff_line", code.path)
        if not digits.isdigit() or not 6 <= len(digits) <= 13:
            log.add(
                "commodity code must be 6 to 13 digits",
                location=code.path,
                field=prefix + "hs6",
                value=digits,
            )
            continue
        tree.used.update({code.path, kind.path})
        item["hs6"] = item.get("hs6") or digits[:6]
        if len(digits) > 6 and not item.get("tariff_line"):
            item["tariff_line"] = digits


def _leaves(node: XmlNode) -> list[XmlNode]:
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if current.children:
            stack.extend(reversed(current.children))
        else:
            found.append(current)
    return found


def _keep_rest(tree: _Tree, root: XmlNode, log: ProblemLog, extensions: dict[str, str]) -> None:
    """Every leaf no mapping used, by path, in extensions; one warning per element."""
    cut = len(root.path) + 1
    leaves = [leaf for leaf in _leaves(root) if leaf.path not in tree.used]
    for leaf in leaves:
        extensions[f"{EXTENSION_PREFIX}wco/{leaf.path[cut:]}"] = leaf.text
        if leaf.text.strip():
            log.warn(
                f"{leaf.tag} has no canonical field: kept in extensions",
                location=leaf.path,
                code="kept_element",
            )
