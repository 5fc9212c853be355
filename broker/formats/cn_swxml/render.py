"""Render a canonical `Declaration` as China single window declaration XML (UTF-8).

The inverse of `cn_swxml.parse`: canonical fields go to their elements, `cn-swxml:` extensions
back to theirs, and everything China cannot carry is listed in the loss report. A transit
declaration, a change or cancellation, and a unit without a China code cannot be expressed at all
and fail with `FormatError` instead of producing a misleading document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final, TypeVar

from broker.codes.cn_ports import read_port
from broker.codes.cn_transaction_terms import CN_TRANSACTION_TERMS
from broker.codes.cn_transport_modes import CN_TRANSPORT_MODES
from broker.codes.cn_units import CN_UNITS
from broker.codes.countries import alpha3
from broker.codes.table import CodeTable
from broker.codes.time_zones import zone_for
from broker.errors import FormatError, Problem
from broker.formats.base import RenderResult
from broker.formats.cn_swxml.layout import (
    CONTAINER,
    DEC_HEAD,
    DEC_LIST,
    EXTENSION_PREFIX,
    FORMAT_ID,
    HEAD_LEAVES,
    LINE_LEAVES,
    MAPPED,
    MAPPED_SECTIONS,
    MESSAGE_VERSION,
    NAMESPACE,
    PASSTHROUGH_SECTIONS,
    REFERENCE_FALLBACKS,
    SCHEME_CUSTOMS,
    SCHEME_OVERSEAS,
    SCHEME_USCC,
    SECTIONS,
    TIME_FALLBACKS,
)
from broker.formats.normalize import offset_minutes
from broker.formats.paths import RenderLedger, unencodable_text
from broker.formats.xml.write import (
    XML_REFUSED,
    XmlElement,
    group,
    leaf,
    to_xml_bytes,
    tree_from_paths,
)
from broker.model import Declaration, DeclarationKind, MessageFunction, TransportMode

# `extensions.cn-swxml:<section>/<element>` with section DecHead, DecSign, DecFreeTxt,
# DecList[GNo=3] or DecContainers/Container[ContainerId=...]; a DecList sub-group path; any
# other path (a whole section kept as read); the DecMessage version attribute.
_SECTION_LEAF: Final = re.compile(
    r"(?P<section>DecHead|DecSign|DecFreeTxt|DecList\[GNo=[^\]]+\]"
    r"|DecContainers/Container\[ContainerId=[^\]]+\])/(?P<name>\w+)"
)
_LINE_GROUP: Final = re.compile(r"(?P<section>DecList\[GNo=[^\]]+\])/(?P<path>\w+/.+)")
_EXTENSIONS: Final = f"extensions.{EXTENSION_PREFIX}"
_VERSION_KEY: Final = f"DecMessage@{MESSAGE_VERSION}"
# Customs codes name a party only when its social credit code is absent.
_READ_ONLY_WITHOUT: Final = {"TradeCode": "TradeCodeScc", "AgentCode": "AgentCodeScc"}

C = TypeVar("C", bound=str)


@dataclass
class _Section:
    """Elements of one XML section being rendered, and the element names it may hold."""

    tag: str
    known: tuple[str, ...]
    elements: dict[str, str] = field(default_factory=dict)
    groups: list[tuple[str, str]] = field(default_factory=list)

    def xml(self) -> XmlElement | None:
        known = [leaf(n, self.elements[n]) for n in self.known if n in self.elements]
        unknown = [leaf(n, text) for n, text in self.elements.items() if n not in self.known]
        return group(self.tag, [*known, *unknown, *(tree_from_paths(self.groups) or ())])


def render_cn_swxml(declaration: Declaration) -> RenderResult:
    """China single window XML for `declaration`, with what it could not carry."""
    ledger = RenderLedger(declaration, FORMAT_ID)
    _refuse_inexpressible(declaration, ledger)
    head = _Section("DecHead", DEC_HEAD, _head(declaration, ledger))
    lines = [
        _Section("DecList", DEC_LIST, _line(i, ledger)) for i in range(len(declaration.goods_items))
    ]
    boxes = [
        _Section("Container", CONTAINER, {"ContainerId": number})
        for number in ledger.take("transport.containers") or ()
    ]
    passthrough = {name: _Section(name, known) for name, known in PASSTHROUGH_SECTIONS.items()}
    sections = {
        "DecHead": head,
        **{f"DecList[GNo={line.elements['GNo']}]": line for line in lines},
        **{f"DecContainers/Container[ContainerId={b.elements['ContainerId']}]": b for b in boxes},
        **passthrough,
    }
    kept: dict[str, list[tuple[str, str]]] = {}
    attributes: list[tuple[str, str]] = []
    for path in ledger.values:
        if not path.startswith(_EXTENSIONS) or ledger.decided(path):
            continue
        key = path[len(_EXTENSIONS) :]
        if key == _VERSION_KEY:
            attributes.append((MESSAGE_VERSION, ledger.take(path)))
        elif found := _SECTION_LEAF.fullmatch(key):
            _place_extension(ledger, path, found["name"], sections.get(found["section"]), head)
        elif found := _LINE_GROUP.fullmatch(key):
            _place_group(ledger, path, found["path"], sections.get(found["section"]))
        else:
            _keep_section(ledger, path, key, kept)
    _restore_pre_acceptance(declaration, ledger, head)
    whole = {name: tree_from_paths(entries) for name, entries in kept.items()}
    for name, elements in whole.items():
        if elements is None:
            for path, _ in kept[name]:
                ledger.drop(f"{_EXTENSIONS}{path}", "not an element path of this format")
    root_sections: dict[str, list[XmlElement | None]] = {
        "DecHead": [head.xml()],
        "DecLists": [group("DecLists", (line.xml() for line in lines))],
        "DecContainers": [group("DecContainers", (box.xml() for box in boxes))],
        **{name: [section.xml()] for name, section in passthrough.items()},
    }
    for name, elements in whole.items():
        root_sections.setdefault(name, []).extend(elements or ())
    order = [*SECTIONS, *(name for name in root_sections if name not in SECTIONS)]
    children = [
        element for name in order for element in root_sections.get(name, ()) if element is not None
    ]
    root = XmlElement("DecMessage", children=tuple(children), attributes=tuple(attributes))
    return RenderResult(to_xml_bytes(root, namespace=NAMESPACE), ledger.report())


def _keep_section(
    ledger: RenderLedger, path: str, key: str, kept: dict[str, list[tuple[str, str]]]
) -> None:
    """A whole section kept as read (DecLicenseDocus/LicenseDocu[2]/CertCode ...)."""
    name = key.split("/", 1)[0].split("[", 1)[0]
    if name in MAPPED_SECTIONS:
        ledger.drop(path, "names a section, goods line or container this declaration lacks")
        return
    kept.setdefault(name, []).append((key, ledger.take(path)))


def _place_group(ledger: RenderLedger, path: str, inner: str, section: _Section | None) -> None:
    if section is None:
        ledger.drop(path, "names a goods line this declaration lacks")
        return
    section.groups.append((inner, ledger.take(path)))


def _restore_pre_acceptance(declaration: Declaration, ledger: RenderLedger, head: _Section) -> None:
    """Write PreEntryId and IEDate empty again where the document had them empty.

    The reader filled functional_reference and issue_time from other elements (ClientSeqNo,
    DDate ...), which travel in extensions and are written back; an empty PreEntryId or IEDate
    kept in extensions marks that, and is honoured only while that source still agrees.
    """
    empty_reference = ledger.values.get(f"{_EXTENSIONS}DecHead/PreEntryId") == ""
    sources = {
        ledger.values.get(f"{_EXTENSIONS}{section}/{name}") for section, name in REFERENCE_FALLBACKS
    }
    if empty_reference and declaration.functional_reference in sources:
        head.elements["PreEntryId"] = ""
        ledger.take(f"{_EXTENSIONS}DecHead/PreEntryId")
    if ledger.values.get(f"{_EXTENSIONS}DecHead/IEDate") == "" and _time_from_fallback(
        declaration, ledger
    ):
        head.elements["IEDate"] = ""
        ledger.take(f"{_EXTENSIONS}DecHead/IEDate")


def _time_from_fallback(declaration: Declaration, ledger: RenderLedger) -> bool:
    local = declaration.issue_time.astimezone(zone_for("CN")).strftime("%Y%m%d%H%M%S")
    for section, name in TIME_FALLBACKS:
        text = ledger.values.get(f"{_EXTENSIONS}{section}/{name}")
        if text:
            digits = "".join(char for char in text if char.isdigit())
            return local.startswith(digits[:14]) if len(digits) >= 8 else False
    return False


def _refuse_inexpressible(declaration: Declaration, ledger: RenderLedger) -> None:
    problems = unencodable_text(ledger.values, XML_REFUSED)
    if declaration.kind is DeclarationKind.TRANSIT:
        problems.append(_inexpressible("kind", "China declarations are import (I) or export (E)"))
    if declaration.function is not MessageFunction.ORIGINAL:
        problems.append(
            _inexpressible(
                "function",
                "cn-swxml carries original declarations only; changes and cancellations use "
                "the single window's amendment procedure",
            )
        )
    for index, item in enumerate(declaration.goods_items):
        kept = declaration.extensions.get(
            f"{EXTENSION_PREFIX}DecList[GNo={item.line_number}]/GUnit"
        )
        if item.quantity_unit not in CN_UNITS.to_canonical.values() and not (
            kept and item.quantity_unit == "ZZ"
        ):
            problems.append(
                Problem(
                    f"unit has no code in {CN_UNITS.name}",
                    field=f"goods_items.{index}.quantity_unit",
                    value=item.quantity_unit,
                    code="unknown_code",
                )
            )
    if problems:
        raise FormatError.collect(f"cannot render as {FORMAT_ID}", problems)


def _inexpressible(field_path: str, reason: str) -> Problem:
    return Problem(reason, field=field_path, code="not_representable")


def _head(declaration: Declaration, ledger: RenderLedger) -> dict[str, str]:
    importing = declaration.kind is DeclarationKind.IMPORT
    ledger.take("kind")
    ledger.take("function")
    office, other = (
        ("entry_office", "exit_office") if importing else ("exit_office", "entry_office")
    )
    ledger.drop(
        other, f"China has one port office (IEPort), here the {office.split('_')[0]} office"
    )
    head: dict[str, str | None] = {
        "PreEntryId": ledger.take("functional_reference"),
        "IEFlag": "I" if importing else "E",
        "IEPort": ledger.take(office),
        "IEDate": _china_time(ledger),
        "TrafMode": _transport_mode(declaration, ledger),
        "DespPortCode": ledger.take("exit_place"),
        "DistinatePort": ledger.take("entry_place"),
        "TransMode": _code(ledger, "incoterm", CN_TRANSACTION_TERMS, "TransMode"),
        "TradeMode": _trade_mode(declaration, ledger),
    }
    for spec in HEAD_LEAVES:
        value = ledger.take(spec.field)
        head[spec.element] = None if value is None else spec.codec.write(value)
    domestic, overseas = ("importer", "exporter") if importing else ("exporter", "importer")
    head |= _party(ledger, domestic, {SCHEME_USCC: "TradeCodeScc", SCHEME_CUSTOMS: "TradeCode"})
    head["TradeName"] = ledger.take(f"{domestic}.name")
    head |= _party(ledger, "declarant", {SCHEME_USCC: "AgentCodeScc", SCHEME_CUSTOMS: "AgentCode"})
    head["AgentName"] = ledger.take("declarant.name")
    prefix = "OverseasConsignor" if importing else "OverseasConsignee"
    head |= _party(ledger, overseas, {SCHEME_OVERSEAS: f"{prefix}Code"})
    head[f"{prefix}Ename"] = ledger.take(f"{overseas}.name")
    if importing:
        head["OverseasConsignorAddr"] = ledger.take("exporter.street")
    return {name: value for name, value in head.items() if value is not None}


def _china_time(ledger: RenderLedger) -> str:
    local: datetime = ledger.take("issue_time").astimezone(zone_for("CN"))
    if local.microsecond:
        ledger.approximate("issue_time", "IEDate has whole seconds; the fraction is dropped")
    if ledger.take("issue_time_offset_minutes") != offset_minutes(local):
        ledger.approximate(
            "issue_time_offset_minutes",
            "IEDate is China time (+08:00); the sender's own UTC offset is not kept",
        )
    return local.strftime("%Y%m%d%H%M%S")


def _transport_mode(declaration: Declaration, ledger: RenderLedger) -> str | None:
    """TrafMode; a code the reader kept (read as NOT_SPECIFIED) is written back as it was."""
    kept = f"{_EXTENSIONS}DecHead/TrafMode"
    code = ledger.values.get(kept)
    if declaration.transport.mode is TransportMode.NOT_SPECIFIED and code is not None:
        reads_back = code in CN_TRANSPORT_MODES.to_canonical
        if not reads_back or CN_TRANSPORT_MODES.to_canonical[code] is TransportMode.NOT_SPECIFIED:
            ledger.take("transport.mode")
            return str(ledger.take(kept))
    return _code(ledger, "transport.mode", CN_TRANSPORT_MODES, "TrafMode")


def _code(ledger: RenderLedger, path: str, table: CodeTable[C], element: str) -> str | None:
    value = ledger.take(path)
    if value is None:
        return None
    code = table.national(value)
    if not table.is_exact(value):
        back = table.canonical(code)
        ledger.approximate(path, f"{value} is written as {element} {code}, read back as {back}")
    return code


def _trade_mode(declaration: Declaration, ledger: RenderLedger) -> str | None:
    """China has one supervision mode (TradeMode) per declaration, the model one per line."""
    paths = [f"goods_items.{i}.procedure_code" for i in range(len(declaration.goods_items))]
    if len({ledger.values.get(path) for path in paths}) != 1:
        for path in paths:
            ledger.drop(path, "China declares one supervision mode (TradeMode) for all lines")
        return None
    codes: set[str | None] = {ledger.take(path) for path in paths}
    return codes.pop()


def _party(ledger: RenderLedger, role: str, elements: dict[str, str]) -> dict[str, str | None]:
    """The party's identifier in the element for its scheme; other schemes are not carried."""
    scheme = ledger.values.get(f"{role}.identifier_scheme")
    if scheme not in elements:
        reason = f"China names this party only by {' or '.join(elements)} identifiers"
        ledger.drop(f"{role}.identifier", reason)
        ledger.drop(f"{role}.identifier_scheme", reason)
        return {}
    ledger.take(f"{role}.identifier_scheme")
    return {elements[scheme]: ledger.take(f"{role}.identifier")}


def _line(index: int, ledger: RenderLedger) -> dict[str, str]:
    path = f"goods_items.{index}"
    hs6, tariff_line = ledger.take(f"{path}.hs6"), ledger.take(f"{path}.tariff_line")
    if tariff_line == hs6:
        ledger.drop(f"{path}.tariff_line", "a 6-digit CodeTS reads back as the HS6 alone")
    line: dict[str, str | None] = {
        "CodeTS": tariff_line or hs6,
        "OriginCountry": alpha3(ledger.take(f"{path}.origin_country")),
        "TradeCurr": ledger.take(f"{path}.value_currency"),
    }
    number = ledger.values.get(f"{path}.line_number")
    for spec in LINE_LEAVES:
        value = ledger.take(f"{path}.{spec.field}")
        kept = f"{_EXTENSIONS}DecList[GNo={number}]/{spec.element}"
        if spec.fallback is not None and value == spec.fallback and kept in ledger.values:
            line[spec.element] = ledger.take(kept)  # the code the reader could not map
        else:
            line[spec.element] = None if value is None else spec.codec.write(value)
    return {name: text for name, text in line.items() if text is not None}


def _place_extension(
    ledger: RenderLedger, path: str, name: str, section: _Section | None, head: _Section
) -> None:
    if section is None:
        ledger.drop(path, "names a section, goods line or container this declaration lacks")
    elif name in section.elements:
        ledger.drop(path, f"{name} is written from the canonical field that maps to it")
    elif name in MAPPED.get(section.tag, ()) and _read_back(name, ledger.values[path], head):
        ledger.drop(path, f"{name} would be read back as a canonical field the declaration lacks")
    else:
        section.elements[name] = ledger.take(path)


def _read_back(name: str, value: str, head: _Section) -> bool:
    """Whether parsing would read element `name`, written with `value`, into a canonical field."""
    if name == "TransMode":
        return value not in CN_TRANSACTION_TERMS.national_only
    if name in _READ_ONLY_WITHOUT:
        return _READ_ONLY_WITHOUT[name] not in head.elements
    if name in ("DespPortCode", "DistinatePort"):
        return read_port(value).locode is not None
    if name in ("PreEntryId", "IEDate"):
        return value != ""
    return True
