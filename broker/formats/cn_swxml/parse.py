"""Parse China single window declaration XML into a canonical `Declaration`.

Mapping (see `cn_swxml.layout` for the element lists and the module docs for the sources):
IEFlag I/E -> kind; PreEntryId -> functional_reference; EntryId -> declaration_number;
IEDate (Asia/Shanghai wall clock) -> issue_time in UTC with offset +08:00 kept; CustomMaster ->
declaring_office; IEPort -> exit_office (export) or entry_office (import); the domestic party
(TradeCoScc/TradeCode + TradeName) is the exporter of an export and the importer of an import,
the overseas one the other; TrafMode via the China transport mode table; TransMode via the
transaction terms table; TradeMode applies to every goods line; CodeTS keeps the national line
and gives its HS6; GName and GModel together form the description (GModel is also kept as an
extension so it is written back separately); GUnit via the unit table; country codes alpha-3 ->
alpha-2. Every other known element is kept in `extensions`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

from broker.codes.cn_transaction_terms import CN_TRANSACTION_TERMS
from broker.codes.cn_transport_modes import CN_TRANSPORT_MODES
from broker.codes.cn_units import CN_UNITS
from broker.codes.countries import alpha2
from broker.codes.currencies import currency
from broker.codes.time_zones import zone_for
from broker.formats.base import ParseLimits, derived_message_id
from broker.formats.cn_swxml.layout import (
    CONTAINER,
    DEC_HEAD,
    DEC_LIST,
    EXTENSION_PREFIX,
    FORMAT_ID,
    NAMESPACE,
    PASSTHROUGH_SECTIONS,
    SCHEME_CUSTOMS,
    SCHEME_OVERSEAS,
    SCHEME_USCC,
    SECTIONS,
)
from broker.formats.normalize import hs6_of, offset_minutes, parse_count, parse_decimal
from broker.formats.problems import ProblemLog
from broker.formats.xml.read import XmlNode, read_xml
from broker.model import Declaration, DeclarationKind, MessageFunction

T = TypeVar("T")


class _Leaves:
    """The known leaf elements of one section; those no mapping uses become extensions."""

    def __init__(self, node: XmlNode, known: tuple[str, ...], log: ProblemLog) -> None:
        self.path = node.path
        self._log = log
        self._nodes: dict[str, XmlNode] = {}
        self._used: set[str] = set()
        for child in node.children:
            if child.tag not in known:
                log.add(
                    f"unknown element {child.tag} in {node.tag}",
                    location=child.path,
                    code="unknown_element",
                )
            elif child.children:
                log.add(
                    "expected a value, found elements",
                    location=child.path,
                    code="unexpected_element",
                )
            elif child.tag in self._nodes:
                log.add(
                    f"{child.tag} appears more than once",
                    location=child.path,
                    code="duplicate_element",
                )
            else:
                self._nodes[child.tag] = child

    def where(self, name: str) -> str:
        node = self._nodes.get(name)
        return node.path if node else f"{self.path}/{name}"

    def peek(self, name: str) -> str | None:
        """The element's text, None when absent or empty, without consuming it."""
        node = self._nodes.get(name)
        return node.text if node and node.text else None

    def text(self, name: str, field: str) -> str | None:
        """Consume element `name` as the text of canonical `field`."""
        self._used.add(name)
        self._log.locate(field, self.where(name))
        return self.peek(name)

    def value(self, name: str, field: str, convert: Callable[[str], T]) -> T | None:
        text = self.text(name, field)
        return (
            None
            if text is None
            else self._log.read(text, convert, field=field, location=self.where(name))
        )

    def rest(self) -> dict[str, str]:
        """Elements not consumed by a mapping, empty ones included, for `extensions`."""
        return {n: node.text for n, node in self._nodes.items() if n not in self._used}


def parse_cn_swxml(
    data: bytes, *, source: str = "", limits: ParseLimits | None = None
) -> Declaration:
    """A canonical declaration from China single window XML, or `FormatError` with every problem."""
    log = ProblemLog(FORMAT_ID, source)
    limits = limits or ParseLimits()
    root = read_xml(data, log=log, limits=limits, namespaces=frozenset({NAMESPACE}))
    if root is None:
        raise log.fail("cannot read the XML document")
    if root.tag != "DecMessage":
        log.add(
            "root element must be DecMessage",
            location=root.path,
            value=root.tag,
            code="unknown_element",
        )
        raise log.fail("not a China single window declaration")
    sections = _sections(root, log)
    head = _Leaves(sections["DecHead"], DEC_HEAD, log)
    kind = head.value("IEFlag", "kind", _kind)
    issue_time = head.value("IEDate", "issue_time", _china_time)
    log.locate("issue_time_offset_minutes", head.where("IEDate"))
    procedure = (head.text("TradeMode", "goods_items"), head.where("TradeMode"))
    goods, extensions = _goods(sections.get("DecLists"), procedure, log)
    containers, container_extensions = _containers(sections.get("DecContainers"), log)
    declaration: dict[str, Any] = {
        "message_id": derived_message_id(FORMAT_ID, data),
        "functional_reference": head.text("PreEntryId", "functional_reference"),
        "declaration_number": head.text("EntryId", "declaration_number"),
        "kind": kind,
        "function": MessageFunction.ORIGINAL,
        "issue_time": issue_time,
        "issue_time_offset_minutes": offset_minutes(issue_time) if issue_time else None,
        "declaring_office": head.text("CustomMaster", "declaring_office"),
        "exit_place": head.text("DespPortCode", "exit_place"),
        "entry_place": head.text("DistinatePort", "entry_place"),
        "transport": {
            "mode": head.value("TrafMode", "transport.mode", CN_TRANSPORT_MODES.canonical),
            "means_identity": head.text("TrafName", "transport.means_identity"),
            "containers": containers,
        },
        "declarant": _domestic_party(head, "declarant", "AgentCodeScc", "AgentCode", "AgentName"),
        "total_gross_mass_kg": head.value("GrossWet", "total_gross_mass_kg", parse_decimal),
        "total_package_count": head.value("PackNo", "total_package_count", parse_count),
        "incoterm": _incoterm(head, log),
        "goods_items": goods,
    }
    importing = kind is DeclarationKind.IMPORT
    office = "entry_office" if importing else "exit_office"
    declaration[office] = head.text("IEPort", office)
    domestic, overseas = ("importer", "exporter") if importing else ("exporter", "importer")
    declaration[domestic] = _domestic_party(head, domestic, "TradeCoScc", "TradeCode", "TradeName")
    declaration[overseas] = _overseas_party(head, overseas, importing=importing)
    extensions.update(container_extensions)
    extensions.update({f"{EXTENSION_PREFIX}DecHead/{n}": t for n, t in head.rest().items()})
    for name, known in PASSTHROUGH_SECTIONS.items():
        if name in sections:
            leaves = _Leaves(sections[name], known, log)
            extensions.update(
                {f"{EXTENSION_PREFIX}{name}/{n}": t for n, t in leaves.rest().items()}
            )
    declaration["extensions"] = extensions
    return log.declaration(declaration, root="/DecMessage")


def _sections(root: XmlNode, log: ProblemLog) -> dict[str, XmlNode]:
    sections: dict[str, XmlNode] = {}
    for child in root.children:
        if child.tag not in SECTIONS:
            log.add(
                f"section {child.tag} is not supported by this adapter",
                location=child.path,
                code="unknown_element",
            )
        elif child.tag in sections:
            log.add(
                f"{child.tag} appears more than once", location=child.path, code="duplicate_element"
            )
        else:
            sections[child.tag] = child
    if "DecHead" not in sections:
        log.add("DecHead is missing", location="/DecMessage", field="kind", code="missing_element")
        sections["DecHead"] = XmlNode("DecHead", "/DecMessage/DecHead", "", {}, ())
    return sections


def _kind(flag: str) -> DeclarationKind:
    if flag == "I":
        return DeclarationKind.IMPORT
    if flag == "E":
        return DeclarationKind.EXPORT
    raise ValueError("IEFlag must be I (import) or E (export)")


def _china_time(text: str) -> datetime:
    """IEDate, `YYYYMMDD` or `YYYYMMDDhhmmss` on a clock in China, as an aware datetime."""
    formats = {8: "%Y%m%d", 14: "%Y%m%d%H%M%S"}
    if len(text) not in formats or not text.isdigit():
        raise ValueError("IEDate must be YYYYMMDD or YYYYMMDDhhmmss")
    wall_clock = datetime.strptime(text, formats[len(text)])  # noqa: DTZ007 - zone added next
    return wall_clock.replace(tzinfo=zone_for("CN"))


def _incoterm(head: _Leaves, log: ProblemLog) -> Any:
    """TransMode as an Incoterm; codes without one (4 C&I ...) are left for `extensions`."""
    code = head.peek("TransMode")
    log.locate("incoterm", head.where("TransMode"))
    if code is None:
        return None
    incoterm = log.read(
        code, CN_TRANSACTION_TERMS.canonical, field="incoterm", location=head.where("TransMode")
    )
    if incoterm is not None:
        head.text("TransMode", "incoterm")
    return incoterm


def _domestic_party(
    head: _Leaves, role: str, scc: str, code: str, name: str
) -> dict[str, Any] | None:
    """A party named by a social credit code (preferred) or customs code, plus its name."""
    identifier, scheme = head.text(scc, f"{role}.identifier"), SCHEME_USCC
    if identifier is None:
        identifier, scheme = head.text(code, f"{role}.identifier"), SCHEME_CUSTOMS
    party = {
        "name": head.text(name, f"{role}.name"),
        "identifier": identifier,
        "identifier_scheme": scheme if identifier else None,
    }
    return party if any(party.values()) else None


def _overseas_party(head: _Leaves, role: str, *, importing: bool) -> dict[str, Any] | None:
    prefix = "OverseasConsignor" if importing else "OverseasConsignee"
    identifier = head.text(f"{prefix}Code", f"{role}.identifier")
    party = {
        "name": head.text(f"{prefix}Ename", f"{role}.name"),
        "identifier": identifier,
        "identifier_scheme": SCHEME_OVERSEAS if identifier else None,
        "street": head.text("OverseasConsignorAddr", f"{role}.street") if importing else None,
    }
    return party if any(party.values()) else None


def _goods(
    lists: XmlNode | None, procedure: tuple[str | None, str], log: ProblemLog
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Goods items and the extensions of their unmapped elements (keyed by GNo).

    `procedure` is DecHead's TradeMode and where it is: China declares one supervision mode
    for all lines, the canonical model one per line.
    """
    log.locate("goods_items", lists.path if lists else "/DecMessage/DecLists")
    items, extensions = [], {}
    for index, node in enumerate(lists.children if lists else ()):
        if node.tag != "DecList":
            log.add(
                f"unknown element {node.tag} in DecLists",
                location=node.path,
                code="unknown_element",
            )
            continue
        line = _Leaves(node, DEC_LIST, log)
        field = f"goods_items.{index}"
        log.locate(field, node.path)
        log.locate(f"{field}.procedure_code", procedure[1])
        log.locate(f"{field}.tariff_line", line.where("CodeTS"))
        code = line.value("CodeTS", f"{field}.hs6", _commodity_code)
        name, model = line.text("GName", f"{field}.description"), line.peek("GModel")
        number = line.value("GNo", f"{field}.line_number", parse_count)
        items.append(
            {
                "line_number": number,
                "hs6": code[:6] if code else None,
                "tariff_line": code if code and len(code) > 6 else None,
                "description": f"{name} {model}" if name and model else name,
                "origin_country": line.value("OriginCountry", f"{field}.origin_country", alpha2),
                "quantity": line.value("GQty", f"{field}.quantity", parse_decimal),
                "quantity_unit": line.value("GUnit", f"{field}.quantity_unit", CN_UNITS.canonical),
                "value": line.value("DeclTotal", f"{field}.value", parse_decimal),
                "value_currency": line.value("TradeCurr", f"{field}.value_currency", currency),
                "procedure_code": procedure[0],
            }
        )
        key = f"{EXTENSION_PREFIX}DecList[GNo={number if number is not None else line.peek('GNo')}]"
        extensions.update({f"{key}/{name}": text for name, text in line.rest().items()})
    return items, extensions


def _commodity_code(text: str) -> str:
    hs6_of(text)
    return text


def _containers(section: XmlNode | None, log: ProblemLog) -> tuple[list[str], dict[str, str]]:
    """Container numbers (ContainerId) and the other container elements as extensions."""
    numbers, extensions = [], {}
    for node in section.children if section else ():
        leaves = _Leaves(node, CONTAINER, log)
        number = leaves.text("ContainerId", "transport.containers")
        if node.tag != "Container" or number is None:
            log.add(
                "expected a Container with a ContainerId",
                location=node.path,
                field="transport.containers",
                code="missing_element",
            )
            continue
        numbers.append(number)
        extensions.update(
            {
                f"{EXTENSION_PREFIX}DecContainers/Container[ContainerId={number}]/{n}": t
                for n, t in leaves.rest().items()
            }
        )
    return numbers, extensions
