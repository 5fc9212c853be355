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
    MAPPED,
    NAMESPACE,
    PASSTHROUGH_SECTIONS,
    SCHEME_CUSTOMS,
    SCHEME_OVERSEAS,
    SCHEME_USCC,
)
from broker.formats.normalize import offset_minutes, plain
from broker.formats.paths import RenderLedger, unencodable_text
from broker.formats.xml.write import XML_REFUSED, XmlElement, group, leaf, to_xml_bytes
from broker.model import Declaration, DeclarationKind, MessageFunction

# `extensions.cn-swxml:<section>/<element>` with section DecHead, DecSign, DecFreeTxt,
# DecList[GNo=3] or DecContainers/Container[ContainerId=...].
_EXTENSION_PATH: Final = re.compile(
    rf"extensions\.{EXTENSION_PREFIX}(?P<section>[A-Za-z]+(?:\[GNo=[^\]]+\]"
    r"|/Container\[ContainerId=[^\]]+\])?)/(?P<name>\w+)"
)
# Customs codes name a party only when its social credit code is absent.
_READ_ONLY_WITHOUT: Final = {"TradeCode": "TradeCoScc", "AgentCode": "AgentCodeScc"}

C = TypeVar("C", bound=str)


@dataclass
class _Section:
    """Elements of one XML section being rendered, and the element names it may hold."""

    tag: str
    known: tuple[str, ...]
    elements: dict[str, str] = field(default_factory=dict)

    def xml(self) -> XmlElement | None:
        return group(
            self.tag, (leaf(n, self.elements[n]) for n in self.known if n in self.elements)
        )


def render_cn_swxml(declaration: Declaration) -> RenderResult:
    """China single window XML for `declaration`, with what it could not carry."""
    _refuse_inexpressible(declaration)
    ledger = RenderLedger(declaration, FORMAT_ID)
    head = _Section("DecHead", DEC_HEAD, _head(declaration, ledger))
    lines = [
        _Section("DecList", DEC_LIST, _line(i, ledger)) for i in range(len(declaration.goods_items))
    ]
    boxes = [
        _Section("Container", CONTAINER, {"ContainerId": number})
        for number in ledger.take("transport.containers") or ()
    ]
    passthrough = [_Section(name, known) for name, known in PASSTHROUGH_SECTIONS.items()]
    sections = {
        "DecHead": head,
        **{f"DecList[GNo={line.elements['GNo']}]": line for line in lines},
        **{f"DecContainers/Container[ContainerId={b.elements['ContainerId']}]": b for b in boxes},
        **{section.tag: section for section in passthrough},
    }
    for path in ledger.values:
        found = _EXTENSION_PATH.fullmatch(path)
        if found and not ledger.decided(path):
            _place_extension(ledger, path, found["name"], sections.get(found["section"]), head)
    children = (
        head.xml(),
        group("DecLists", (line.xml() for line in lines)),
        group("DecContainers", (box.xml() for box in boxes)),
        *(section.xml() for section in passthrough),
    )
    root = XmlElement("DecMessage", children=tuple(c for c in children if c is not None))
    return RenderResult(to_xml_bytes(root, namespace=NAMESPACE), ledger.report())


def _refuse_inexpressible(declaration: Declaration) -> None:
    problems = unencodable_text(declaration, XML_REFUSED)
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
        if item.quantity_unit not in CN_UNITS.to_canonical.values():
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
    gross, packages = ledger.take("total_gross_mass_kg"), ledger.take("total_package_count")
    head: dict[str, str | None] = {
        "PreEntryId": ledger.take("functional_reference"),
        "EntryId": ledger.take("declaration_number"),
        "IEFlag": "I" if importing else "E",
        "CustomMaster": ledger.take("declaring_office"),
        "IEPort": ledger.take(office),
        "IEDate": _china_time(ledger),
        "TrafMode": _code(ledger, "transport.mode", CN_TRANSPORT_MODES, "TrafMode"),
        "TrafName": ledger.take("transport.means_identity"),
        "DespPortCode": ledger.take("exit_place"),
        "DistinatePort": ledger.take("entry_place"),
        "TransMode": _code(ledger, "incoterm", CN_TRANSACTION_TERMS, "TransMode"),
        "TradeMode": _trade_mode(declaration, ledger),
        "PackNo": None if packages is None else str(packages),
        "GrossWet": None if gross is None else plain(gross),
    }
    domestic, overseas = ("importer", "exporter") if importing else ("exporter", "importer")
    head |= _party(ledger, domestic, {SCHEME_USCC: "TradeCoScc", SCHEME_CUSTOMS: "TradeCode"})
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
    value = ledger.take(f"{path}.value")
    if tariff_line == hs6:
        ledger.drop(f"{path}.tariff_line", "a 6-digit CodeTS reads back as the HS6 alone")
    line = {
        "GNo": str(ledger.take(f"{path}.line_number")),
        "CodeTS": tariff_line or hs6,
        "GQty": plain(ledger.take(f"{path}.quantity")),
        "GUnit": CN_UNITS.national(ledger.take(f"{path}.quantity_unit")),
        "OriginCountry": alpha3(ledger.take(f"{path}.origin_country")),
        "DeclTotal": None if value is None else plain(value),
        "TradeCurr": ledger.take(f"{path}.value_currency"),
    }
    line["GName"] = _goods_name(ledger, path, line["GNo"])
    return {name: text for name, text in line.items() if text is not None}


def _goods_name(ledger: RenderLedger, path: str, number: str) -> str:
    """GName: the description without the GModel that parsing appended to it."""
    description: str = ledger.take(f"{path}.description")
    model_path = f"extensions.{EXTENSION_PREFIX}DecList[GNo={number}]/GModel"
    model = ledger.values.get(model_path)
    if not model:
        return description
    if description.endswith(f" {model}") and len(description) > len(model) + 1:
        return description[: -len(model) - 1]
    ledger.drop(model_path, "GModel no longer matches the end of the description")
    return description


def _place_extension(
    ledger: RenderLedger, path: str, name: str, section: _Section | None, head: _Section
) -> None:
    if section is None:
        ledger.drop(path, "names a section, goods line or container this declaration lacks")
    elif name not in section.known:
        ledger.drop(path, f"{name} is not an element of {section.tag}")
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
    return True
