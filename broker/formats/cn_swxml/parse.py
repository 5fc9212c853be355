"""Read China single window declaration XML into a canonical `Declaration`, tolerantly.

Mapping (the one-to-one elements are `layout.HEAD_LEAVES` / `LINE_LEAVES`): IEFlag I/E -> kind;
PreEntryId -> functional_reference (empty before customs numbers the declaration: then
DecSign/ClientSeqNo, then SeqNo, with a warning); IEDate (Asia/Shanghai wall clock) -> issue_time
in UTC with offset +08:00 kept (empty before the goods move: then DDate, DecSign/SignDate, PDate,
with a warning); IEPort -> exit_office (export) or entry_office (import); the domestic party
(TradeCodeScc/TradeCode + TradeName) is the exporter of an export and the importer of an import,
the overseas one the other; TrafMode via the China transport mode table; TransMode via the
transaction terms table; TradeMode applies to every goods line; CodeTS keeps the national line
and gives its HS6; GName is the description and GModel the specification; countries ISO alpha-3
(or alpha-2, or China's older numeric table with a warning) -> alpha-2; currencies ISO or the
older numeric table; DespPortCode/DistinatePort are places when they are UN/LOCODEs, else China
port codes kept in extensions with a warning.

Empty means absent. Every other element, known or never seen before (a warning), is kept in
`extensions` under its path; no element is a reason to refuse a declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Final, TypeVar

from broker.codes.cn_legacy import CN_LEGACY_COUNTRIES, CN_LEGACY_CURRENCIES
from broker.codes.cn_ports import read_port
from broker.codes.cn_transaction_terms import CN_TRANSACTION_TERMS
from broker.codes.cn_transport_modes import CN_TRANSPORT_MODES
from broker.codes.countries import alpha2, alpha3
from broker.codes.currencies import currency
from broker.codes.table import CodeTable, UnknownCodeError
from broker.codes.time_zones import zone_for
from broker.formats.base import ParseLimits, derived_message_id
from broker.formats.cn_swxml.layout import (
    ALIASES,
    CONTAINER,
    DEC_HEAD,
    DEC_LIST,
    DEC_LIST_GROUPS,
    EXTENSION_PREFIX,
    FORMAT_ID,
    HEAD_LEAVES,
    LINE_LEAVES,
    MESSAGE_VERSION,
    NAMESPACE,
    PASSTHROUGH_SECTIONS,
    REFERENCE_FALLBACKS,
    SCHEME_CUSTOMS,
    SCHEME_OVERSEAS,
    SCHEME_USCC,
    SECTIONS,
    TIME_FALLBACKS,
    Leaf,
)
from broker.formats.normalize import hs6_of, offset_minutes
from broker.formats.problems import ProblemLog, Reading
from broker.formats.xml.read import XmlNode, leaves_under, read_xml
from broker.model import DeclarationKind, MessageFunction, TransportMode

T = TypeVar("T")

_ROOT: Final = "/DecMessage"


class _Leaves:
    """The leaf elements of one section; those no mapping uses become extensions.

    An unknown element is a warning and still kept; an element holding elements (a sub-group)
    is kept whole under its path in `groups`.
    """

    def __init__(
        self, node: XmlNode, known: tuple[str, ...], log: ProblemLog, groups: tuple[str, ...] = ()
    ) -> None:
        self.path = node.path
        self._log = log
        self._nodes: dict[str, XmlNode] = {}
        self._used: set[str] = set()
        self.groups: dict[str, str] = {}
        for child in node.children:
            tag = ALIASES.get(child.tag, child.tag)
            if child.children:
                if child.tag not in groups:
                    log.warn(
                        f"unknown group {child.tag} in {node.tag}: kept in extensions",
                        location=child.path,
                        code="unknown_element",
                    )
                self.groups.update(leaves_under(child, node.path))
                continue
            if tag not in known:
                log.warn(
                    f"unknown element {child.tag} in {node.tag}: kept in extensions",
                    location=child.path,
                    code="unknown_element",
                )
            before = self._nodes.get(tag)
            if before is None or not before.text:  # a filled one wins over an empty one
                self._nodes[tag] = child
            elif child.text and child.text != before.text:
                log.add(
                    f"{child.tag} appears more than once",
                    location=child.path,
                    code="duplicate_element",
                )

    def where(self, name: str) -> str:
        node = self._nodes.get(name)
        return node.path if node else f"{self.path}/{name}"

    def peek(self, name: str) -> str | None:
        """The element's text, None when absent or empty, without consuming it."""
        node = self._nodes.get(name)
        return node.text if node and node.text else None

    def blank(self, name: str) -> bool:
        """Whether the element is absent, empty or only white space (not filled in yet)."""
        return not (self.peek(name) or "").strip()

    def present(self, name: str) -> bool:
        return name in self._nodes

    def text(self, name: str, field: str) -> str | None:
        """Consume element `name` as the text of canonical `field`."""
        # where() and peek() inlined: this runs for every value of every document.
        node = self._nodes.get(name)
        self._used.add(name)
        self._log.locate(field, node.path if node else f"{self.path}/{name}")
        return node.text if node and node.text else None

    def value(self, name: str, field: str, convert: Callable[[str], T]) -> T | None:
        """Element `name` converted (numbers and codes without surrounding blanks)."""
        text = self.text(name, field)
        if convert is str or text is None:  # text is kept exactly as written
            return text  # type: ignore[return-value]
        return self._log.read(text.strip(), convert, field=field, location=self.where(name))

    def coded(self, leaf: Leaf, field: str) -> Any:
        """`leaf`'s value; a code no table knows is its `fallback`, with a warning (kept)."""
        if leaf.fallback is None:
            return self.value(leaf.element, field, leaf.codec.read)
        text = self.text(leaf.element, field)
        if text is None:
            return None
        try:
            return leaf.codec.read(text.strip())
        except UnknownCodeError as exc:
            self._log.warn(
                f"{exc}: read as {leaf.fallback}, the code kept in extensions",
                location=self.where(leaf.element),
                field=field,
                value=text,
                code="unknown_code",
            )
            self.keep(leaf.element)
            return leaf.fallback

    def warn(self, reason: str, *, location: str, field: str) -> None:
        self._log.warn(reason, location=location, field=field, code="guessed")

    def keep(self, name: str) -> None:
        """Leave element `name` for extensions even though a mapping looked at it."""
        self._used.discard(name)

    def rest(self) -> dict[str, str]:
        """Elements not consumed by a mapping, empty ones included, for `extensions`."""
        return {n: node.text for n, node in self._nodes.items() if n not in self._used}


def read_cn_swxml(data: bytes, *, source: str = "", limits: ParseLimits | None = None) -> Reading:
    """The declaration in China single window XML and the warnings, or `FormatError`."""
    log = ProblemLog(FORMAT_ID, source)
    root = read_xml(
        data, log=log, limits=limits or ParseLimits(), namespaces=frozenset({NAMESPACE})
    )
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
    return log.reading(_declaration(root, data, log), root=_ROOT)


def _declaration(root: XmlNode, data: bytes, log: ProblemLog) -> dict[str, Any]:
    sections, extensions = _sections(root, log)
    head = _Leaves(sections["DecHead"], DEC_HEAD, log)
    signature = _Leaves(sections["DecSign"], PASSTHROUGH_SECTIONS["DecSign"], log)
    leaves = {"DecHead": head, "DecSign": signature}
    kind = head.value("IEFlag", "kind", _kind)
    issue_time = _issue_time(leaves, log)
    procedure = (head.text("TradeMode", "goods_items"), head.where("TradeMode"))
    goods, line_extensions = _goods(sections.get("DecLists"), procedure, log)
    containers, container_extensions = _containers(sections.get("DecContainers"), log)
    declaration: dict[str, Any] = {
        "message_id": derived_message_id(FORMAT_ID, data),
        "functional_reference": _reference(leaves, log),
        "kind": kind,
        "function": MessageFunction.ORIGINAL,
        "issue_time": issue_time,
        "issue_time_offset_minutes": offset_minutes(issue_time) if issue_time else None,
        "exit_place": _place(head, "DespPortCode", "exit_place", log),
        "entry_place": _place(head, "DistinatePort", "entry_place", log),
        "transport": {
            "mode": _transport_mode(head, log),
            "containers": containers,
        },
        "declarant": _domestic_party(head, "declarant", "AgentCodeScc", "AgentCode", "AgentName"),
        "incoterm": _incoterm(head, log),
        "goods_items": goods,
    }
    for leaf in HEAD_LEAVES:
        _put(declaration, leaf.field, head.value(leaf.element, leaf.field, leaf.codec.read))
    importing = kind is DeclarationKind.IMPORT
    office = "entry_office" if importing else "exit_office"
    declaration[office] = head.text("IEPort", office)
    domestic, overseas = ("importer", "exporter") if importing else ("exporter", "importer")
    scc = "TradeCodeScc"
    declaration[domestic] = _domestic_party(head, domestic, scc, "TradeCode", "TradeName")
    declaration[overseas] = _overseas_party(head, overseas, importing=importing)
    extensions.update(line_extensions)
    extensions.update(container_extensions)
    for name, section in leaves.items():
        extensions.update(_prefixed(name, section))
    if "DecFreeTxt" in sections:
        free_text = _Leaves(sections["DecFreeTxt"], PASSTHROUGH_SECTIONS["DecFreeTxt"], log)
        extensions.update(_prefixed("DecFreeTxt", free_text))
    if MESSAGE_VERSION in root.attributes:
        extensions[f"{EXTENSION_PREFIX}DecMessage@{MESSAGE_VERSION}"] = root.attributes[
            MESSAGE_VERSION
        ]
    declaration["extensions"] = extensions
    return declaration


def _prefixed(name: str, section: _Leaves) -> dict[str, str]:
    found = {f"{EXTENSION_PREFIX}{name}/{n}": t for n, t in section.rest().items()}
    found.update({f"{EXTENSION_PREFIX}{name}/{path}": t for path, t in section.groups.items()})
    return found


def _put(target: dict[str, Any], field: str, value: Any) -> None:
    *parents, name = field.split(".")
    for parent in parents:
        target = target.setdefault(parent, {})
    target[name] = value


def _sections(root: XmlNode, log: ProblemLog) -> tuple[dict[str, XmlNode], dict[str, str]]:
    """The mapped sections by name, and every other section kept whole as extensions."""
    sections: dict[str, XmlNode] = {}
    kept: dict[str, str] = {}
    mapped = ("DecHead", "DecLists", "DecContainers", *PASSTHROUGH_SECTIONS)
    for child in root.children:
        if child.tag in mapped:
            if child.tag in sections:
                log.add(
                    f"{child.tag} appears more than once",
                    location=child.path,
                    code="duplicate_element",
                )
            else:
                sections[child.tag] = child
            continue
        if child.tag not in SECTIONS:
            log.warn(
                f"unknown section {child.tag}: kept in extensions",
                location=child.path,
                code="unknown_element",
            )
        kept.update(
            {f"{EXTENSION_PREFIX}{path}": text for path, text in leaves_under(child, _ROOT).items()}
        )
    if "DecHead" not in sections:
        log.add("DecHead is missing", location=_ROOT, field="kind", code="missing_element")
    for name in ("DecHead", "DecSign"):
        sections.setdefault(name, XmlNode(name, f"{_ROOT}/{name}", "", {}, ()))
    return sections, kept


def _reference(leaves: dict[str, _Leaves], log: ProblemLog) -> str | None:
    """PreEntryId, or before customs numbers the declaration the first identifier it carries."""
    head = leaves["DecHead"]
    reference = head.text("PreEntryId", "functional_reference")
    if not head.blank("PreEntryId"):
        return reference
    head.keep("PreEntryId")
    for section, name in REFERENCE_FALLBACKS:
        found = leaves[section].peek(name)
        if found is not None:
            log.warn(
                f"PreEntryId is empty (not yet numbered by customs): {section}/{name} is the "
                "functional reference",
                location=head.where("PreEntryId"),
                field="functional_reference",
                value=found,
                code="reference_fallback",
            )
            log.locate("functional_reference", leaves[section].where(name))
            return found
    return None


def _issue_time(leaves: dict[str, _Leaves], log: ProblemLog) -> datetime | None:
    """IEDate, or before the goods move the first other time the message carries."""
    head = leaves["DecHead"]
    log.locate("issue_time_offset_minutes", head.where("IEDate"))
    if not head.blank("IEDate"):
        return head.value("IEDate", "issue_time", _china_time)
    head.text("IEDate", "issue_time")
    head.keep("IEDate")
    for section, name in TIME_FALLBACKS:
        text = leaves[section].peek(name)
        if text is None:
            continue
        moment = log.read(
            text, _china_time, field="issue_time", location=leaves[section].where(name)
        )
        if moment is not None:
            log.warn(
                f"IEDate is empty (goods not yet moved): {section}/{name} is the issue time",
                location=head.where("IEDate"),
                field="issue_time",
                value=text,
                code="time_fallback",
            )
        return moment
    return None


def _place(head: _Leaves, name: str, field: str, log: ProblemLog) -> str | None:
    """A UN/LOCODE, or None with the China port code kept in extensions and a warning."""
    code = head.peek(name)
    log.locate(field, head.where(name))
    if code is None:
        return None
    port = read_port(code)
    if port.locode is not None:
        head.text(name, field)
        return port.locode
    log.warn(
        f"{port.note}: kept in extensions, {field} left empty",
        location=head.where(name),
        field=field,
        value=code,
        code="not_a_locode",
    )
    return None


def _transport_mode(head: _Leaves, log: ProblemLog) -> TransportMode | None:
    """TrafMode via the table; a special-area or unknown code is NOT_SPECIFIED (warning, kept)."""
    text = head.text("TrafMode", "transport.mode")
    if text is None:
        return None
    try:
        mode = CN_TRANSPORT_MODES.canonical(text.strip())
    except UnknownCodeError as exc:
        reason = str(exc)
    else:
        if mode is not None:
            return mode
        reason = (
            f"TrafMode {text} (a movement within China's special customs areas) has no Rec 19 mode"
        )
    log.warn(
        f"{reason}: read as NOT_SPECIFIED, the code kept in extensions",
        location=head.where("TrafMode"),
        field="transport.mode",
        value=text,
        code="unknown_code",
    )
    head.keep("TrafMode")
    return TransportMode.NOT_SPECIFIED


def _kind(flag: str) -> DeclarationKind:
    if flag == "I":
        return DeclarationKind.IMPORT
    if flag == "E":
        return DeclarationKind.EXPORT
    raise ValueError("IEFlag must be I (import) or E (export)")


# Times as real clients write them: compact, with separators, with hundredths or milliseconds.
_TIME_FORMATS: Final = {
    8: "%Y%m%d",
    10: "%Y-%m-%d",
    14: "%Y%m%d%H%M%S",
    19: "%Y-%m-%d %H:%M:%S",
}


def _china_time(text: str) -> datetime:
    """A time on a clock in China (IEDate, DDate, SignDate ...) as an aware datetime.

    `YYYYMMDD`, `YYYYMMDDhhmmss` (with 2 or 3 more digits of fractions, as DecSign/SignDate
    has them), `YYYY-MM-DD` or `YYYY-MM-DD hh:mm:ss`.
    """
    text = text.replace("/", "-")  # 2025/10/08 as some clients copy a date field
    compact = text[:14] if len(text) in (16, 17) and text.isdigit() else text
    form = _TIME_FORMATS.get(len(compact))
    if form is None:
        raise ValueError("a China date must be YYYYMMDD, YYYYMMDDhhmmss or YYYY-MM-DD[ hh:mm:ss]")
    try:
        wall_clock = datetime.strptime(compact, form)  # noqa: DTZ007 - zone added next
    except ValueError:
        raise ValueError(f"not a date of the form {form}") from None
    return wall_clock.replace(tzinfo=zone_for("CN"))


def _incoterm(head: _Leaves, log: ProblemLog) -> Any:
    """TransMode as an Incoterm; codes without one (4 C&I ...) are left for `extensions`."""
    code = head.peek("TransMode")
    log.locate("incoterm", head.where("TransMode"))
    if code is None:
        return None
    try:
        incoterm = CN_TRANSACTION_TERMS.canonical(code.strip())
    except UnknownCodeError as exc:
        log.warn(
            f"{exc}: no Incoterm, the code kept in extensions",
            location=head.where("TransMode"),
            field="incoterm",
            value=code,
            code="unknown_code",
        )
        return None
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
    return _named(party, role, head.where(name), head) if any(party.values()) else None


def _named(party: dict[str, Any], role: str, where: str, head: _Leaves) -> dict[str, Any]:
    """A party with an identifier and no name is named by its identifier (a warning)."""
    if party["name"] is None and party["identifier"] is not None:
        party["name"] = party["identifier"]
        head.warn(
            f"{role} has an identifier but no name: the identifier stands for the name",
            location=where,
            field=f"{role}.name",
        )
    return party


def _overseas_party(head: _Leaves, role: str, *, importing: bool) -> dict[str, Any] | None:
    prefix = "OverseasConsignor" if importing else "OverseasConsignee"
    identifier = head.text(f"{prefix}Code", f"{role}.identifier")
    party = {
        "name": head.text(f"{prefix}Ename", f"{role}.name"),
        "identifier": identifier,
        "identifier_scheme": SCHEME_OVERSEAS if identifier else None,
        "street": head.text("OverseasConsignorAddr", f"{role}.street") if importing else None,
    }
    return _named(party, role, head.where(f"{prefix}Ename"), head) if any(party.values()) else None


def _goods(
    lists: XmlNode | None, procedure: tuple[str | None, str], log: ProblemLog
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Goods items and the extensions of their unmapped elements (keyed by GNo).

    `procedure` is DecHead's TradeMode and where it is: China declares one supervision mode
    for all lines, the canonical model one per line.
    """
    log.locate("goods_items", lists.path if lists else f"{_ROOT}/DecLists")
    items: list[dict[str, Any]] = []
    extensions: dict[str, str] = {}
    for node in lists.children if lists else ():
        if node.tag != "DecList":
            log.warn(
                f"unknown element {node.tag} in DecLists: kept in extensions",
                location=node.path,
                code="unknown_element",
            )
            extensions.update(
                {f"{EXTENSION_PREFIX}{p}": t for p, t in leaves_under(node, _ROOT).items()}
            )
            continue
        line = _Leaves(node, DEC_LIST, log, DEC_LIST_GROUPS)
        field = f"goods_items.{len(items)}"
        log.locate(field, node.path)
        log.locate(f"{field}.procedure_code", procedure[1])
        log.locate(f"{field}.tariff_line", line.where("CodeTS"))
        code = line.value("CodeTS", f"{field}.hs6", _commodity_code)
        item: dict[str, Any] = {
            "hs6": code[:6] if code else None,
            "tariff_line": code if code and len(code) > 6 else None,
            "origin_country": _coded(
                line, "OriginCountry", f"{field}.origin_country", _country, log
            ),
            "value_currency": _coded(line, "TradeCurr", f"{field}.value_currency", _currency, log),
            "procedure_code": procedure[0],
        }
        for leaf in LINE_LEAVES:
            item[leaf.field] = line.coded(leaf, f"{field}.{leaf.field}")
        if item["line_number"] is None and line.blank("GNo"):
            item["line_number"] = len(items) + 1
            log.warn(
                "GNo is empty: the goods line is numbered by its position",
                location=line.where("GNo"),
                field=f"{field}.line_number",
                code="guessed",
            )
        items.append(item)
        number = item["line_number"]
        key = f"{EXTENSION_PREFIX}DecList[GNo={number if number is not None else line.peek('GNo')}]"
        extensions.update({f"{key}/{name}": text for name, text in line.rest().items()})
        extensions.update({f"{key}/{path}": text for path, text in line.groups.items()})
    return items, extensions


def _coded(
    line: _Leaves,
    name: str,
    field: str,
    convert: Callable[[str], tuple[str, bool]],
    log: ProblemLog,
) -> str | None:
    """A country or currency code; one from the older numeric table is read with a warning."""
    found = line.value(name, field, convert)
    if found is None:
        return None
    value, legacy = found
    if legacy:
        log.warn(
            f"an older China code, read as {value}",
            location=line.where(name),
            field=field,
            value=line.peek(name),
            code="legacy_code",
        )
    return value


def _country(code: str) -> tuple[str, bool]:
    """ISO alpha-3 (what the 2018 message uses), alpha-2, or China's older numeric code."""
    if len(code) == 2:
        alpha3(code)  # an UnknownCodeError names the table if it is not a country
        return code, False
    return _legacy_or(code, CN_LEGACY_COUNTRIES, alpha2)


def _currency(code: str) -> tuple[str, bool]:
    if code == "RMB":  # the renminbi's common name, not its ISO code CNY
        return "CNY", True
    return _legacy_or(code, CN_LEGACY_CURRENCIES, currency)


def _legacy_or(code: str, table: CodeTable[str], iso: Callable[[str], str]) -> tuple[str, bool]:
    if code.isdigit():
        value = table.canonical(code)
        if value is None:  # every entry has a canonical value; keeps mypy and readers honest
            raise UnknownCodeError(table.name, code)
        return value, True
    return iso(code), False


def _commodity_code(text: str) -> str:
    """CodeTS; the dots and blanks of a printed code (`8471.3000.00`) are left out."""
    digits = text.replace(".", "").replace(" ", "")
    hs6_of(digits)
    return digits


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
