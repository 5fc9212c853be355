"""The layout of China's single window declaration XML: one table read by parser and renderer.

Names follow GACC Announcement 2018 No. 67 (the 2018 declaration message, `DecMessage`
version 3.1) as public client code fills it in: every `DecHead` element, every `DecList`
element, the containers, and the sub-groups real messages carry (`DecLicenseDocus`,
`DecRequestCerts`, `DecOtherPacks`, `DecCopLimits`, `DecCopPromises`, `DecUsers`,
`DecRoyaltyFee`, `DecFreeTxt`, `DecSign`, `EdocRealation`, `TrnHead`, `TrnList`,
`TrnContainers`, `TrnContaGoodsList`; `DecGoodsLimits` inside a `DecList`), often present and
empty.

`HEAD_LEAVES` and `LINE_LEAVES` map one element to one canonical field with one codec, and
both `cn_swxml.parse` and `cn_swxml.render` iterate them, so each of those mappings is written
once. The mappings that depend on the declaration (which party is domestic, which office is
IEPort, the supervision mode shared by all lines, party identifiers by scheme) are written out
in the parser and the renderer, next to each other in this order. Everything else travels in
`extensions` under its path, and comes back out when rendering `cn-swxml`:

    cn-swxml:DecHead/ManualNo             cn-swxml:DecList[GNo=3]/DutyMode
    cn-swxml:DecSign/OperType             cn-swxml:DecContainers/Container[ContainerId=X]/LclFlag
    cn-swxml:DecList[GNo=1]/DecGoodsLimits/DecGoodsLimit[2]/LicenceNo
    cn-swxml:DecLicenseDocus/LicenseDocu[2]/CertCode    cn-swxml:EdocRealation[1]/EdocID
    cn-swxml:DecMessage@version

An element never seen before is a warning (and kept the same way), never a refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from broker.codes.cn_units import CN_UNITS
from broker.formats.normalize import parse_count, parse_decimal, plain

FORMAT_ID: Final = "cn-swxml"
NAMESPACE: Final = "http://www.chinaport.gov.cn/dec"  # default namespace of real messages
EXTENSION_PREFIX: Final = f"{FORMAT_ID}:"
MESSAGE_VERSION: Final = "version"  # DecMessage attribute, kept as `cn-swxml:DecMessage@version`

# Known elements in the order the 2018 message writes them (the renderer's order).
DEC_HEAD: Final = (
    "SeqNo", "PreEntryId", "EntryId", "IEFlag", "Type", "CustomMaster", "IEPort", "ManualNo",
    "ContrNo", "IEDate", "DDate", "PDate", "TradeCodeScc", "TradeCoScc", "TradeCode",
    "TradeCiqCode", "TradeName", "OwnerCodeScc", "OwnerCode", "OwnerCiqCode", "OwnerName",
    "AgentCodeScc", "AgentCode", "DeclCiqCode", "AgentName", "OverseasConsignorCode",
    "OverseasConsignorCname", "OverseasConsignorEname", "OverseasConsignorAddr",
    "OverseasConsigneeCode", "OverseasConsigneeEname", "DomesticConsigneeEname", "TrafMode",
    "TrafName", "VoyageNo", "BillNo", "TradeMode", "CutMode", "PayWay", "PaymentMark", "InRatio",
    "LicenseNo", "ApprNo", "TradeCountry", "TradeAreaCode", "DespPortCode", "DistinatePort",
    "DistrictCode", "TransMode", "FeeMark", "FeeRate", "FeeCurr", "InsurMark", "InsurRate",
    "InsurCurr", "OtherMark", "OtherRate", "OtherCurr", "PackNo", "WrapType", "GrossWet",
    "NetWt", "NoteS", "MarkNo", "EntyPortCode", "GoodsPlace", "EntryType", "DeclTrnRel",
    "ChkSurety", "BillType", "PromiseItmes", "CorrelationNo", "CorrelationReasonFlag", "EdiId",
    "EdiRemark", "EdiRemark2", "InspOrgCode", "PurpOrgCode", "OrgCode", "VsaOrgCode", "DespDate",
    "CmplDschrgDt", "BLNo", "SpecDeclFlag", "OrigBoxFlag", "NoOtherPack", "DeclareName",
    "TypistNo", "InputerName", "PartenerID", "CopCode", "CopName", "CopCodeScc",
    "AgentLinkMan", "AgentLinkPhone", "AgentLinkMail", "OwnerLinkMan", "OwnerLinkPhone",
    "OwnerLinkMail", "DataSource", "Risk", "TgdNo", "TaxAaminMark", "CheckFlow",
)  # fmt: skip

DEC_LIST: Final = (
    "ClassMark", "GNo", "ContrItem", "CodeTS", "CiqCode", "CiqName", "GName", "GModel",
    "DeclGoodsEname", "GQty", "GUnit", "FirstQty", "FirstUnit", "SecondQty", "SecondUnit",
    "DeclPrice", "DeclTotal", "TradeCurr", "OriginCountry", "OrigPlaceCode",
    "DestinationCountry", "DistrictCode", "DestCode", "DutyMode", "ExgNo", "ExgVersion", "UseTo",
    "WorkUsd", "Factor", "Purpose", "GoodsAttr", "Stuff", "GoodsSpec", "GoodsModel",
    "GoodsBrand", "ProduceDate", "ProdBatchNo", "ProdValidDt", "ProdQgp", "NoDangFlag", "Uncode",
    "DangName", "DangPackType", "DangPackSpec", "MnufctrRegNo", "MnufctrRegName", "EngManEntCnm",
)  # fmt: skip
# Groups a DecList may hold besides its values (product licences with their VINs).
DEC_LIST_GROUPS: Final = ("DecGoodsLimits",)

CONTAINER: Final = (
    "ContainerId", "ContainerMd", "ContainerWt", "GoodsNo", "LclFlag", "GoodsContaWt",
)  # fmt: skip

# Sections whose values all travel in extensions, written in this element order.
PASSTHROUGH_SECTIONS: Final = {
    "DecFreeTxt": ("RelId", "RelManNo", "BonNo", "VoyNo", "DecBpNo", "CusFie", "DecNo"),
    "DecSign": (
        "OperType", "ICCode", "CopCode", "OperName", "ClientSeqNo", "Sign", "SignDate",
        "Certificate", "HostId", "BillSeqNo", "DomainId", "Note",
    ),
}  # fmt: skip

# Root sections in the order the renderer writes them; the repeated groups and transfer
# (转关) sections travel whole in extensions. A section not listed is a warning, kept the same.
SECTIONS: Final = (
    "DecHead", "DecLists", "DecContainers", "DecLicenseDocus", "DecRequestCerts",
    "DecOtherPacks", "DecCopLimits", "DecCopPromises", "DecUsers", "DecRoyaltyFee", "DecFreeTxt",
    "DecSign", "TrnHead", "TrnList", "TrnContainers", "TrnContaGoodsList",
    "EdocRealation",
)  # fmt: skip
MAPPED_SECTIONS: Final = ("DecHead", "DecLists", "DecContainers", *PASSTHROUGH_SECTIONS)

# An empty PreEntryId (before customs numbers the declaration) falls back to these, in order.
REFERENCE_FALLBACKS: Final = (("DecSign", "ClientSeqNo"), ("DecHead", "SeqNo"))
# An empty IEDate (before the goods move) falls back to these times, in order.
TIME_FALLBACKS: Final = (("DecHead", "DDate"), ("DecSign", "SignDate"), ("DecHead", "PDate"))
# Older spellings read as the 2018 name (the renderer writes the 2018 one).
ALIASES: Final = {"TradeCoScc": "TradeCodeScc"}


@dataclass(frozen=True, slots=True)
class Codec:
    """How one element's text becomes a canonical value and back."""

    read: Callable[[str], Any]
    write: Callable[[Any], str]


TEXT: Final = Codec(str, str)
DECIMAL: Final = Codec(parse_decimal, lambda value: plain(Decimal(value)))
COUNT: Final = Codec(parse_count, str)
UNIT: Final = Codec(CN_UNITS.canonical, CN_UNITS.national)


@dataclass(frozen=True, slots=True)
class Leaf:
    """One element <-> one canonical field (relative to the declaration or the goods item).

    `fallback` is the canonical value a code no table knows is read as, with a warning, the
    code itself kept in extensions and written back (a China unit with no Rec 20 twin is the
    Rec 20 "mutually defined" unit ZZ).
    """

    element: str
    field: str
    codec: Codec = TEXT
    fallback: str | None = None


HEAD_LEAVES: Final = (
    Leaf("EntryId", "declaration_number"),
    Leaf("CustomMaster", "declaring_office"),
    Leaf("TrafName", "transport.means_identity"),
    Leaf("PackNo", "total_package_count", COUNT),
    Leaf("GrossWet", "total_gross_mass_kg", DECIMAL),
)
LINE_LEAVES: Final = (
    Leaf("GNo", "line_number", COUNT),
    Leaf("GName", "description"),
    Leaf("GModel", "specification"),
    Leaf("GQty", "quantity", DECIMAL),
    Leaf("GUnit", "quantity_unit", UNIT, fallback="ZZ"),
    Leaf("DeclTotal", "value", DECIMAL),
)

# Elements parsing reads into canonical fields, by section. An extension naming one is written
# only where parsing would not read it back (TradeCode beside TradeCodeScc, TransMode 4 C&I,
# an empty PreEntryId or IEDate, a China port code that is not a UN/LOCODE).
MAPPED: Final = {
    "DecHead": frozenset(
        {
            "PreEntryId", "IEFlag", "IEPort", "IEDate", "TradeCodeScc", "TradeCoScc",
            "TradeCode", "TradeName", "AgentCodeScc", "AgentCode", "AgentName",
            "OverseasConsignorCode", "OverseasConsignorEname", "OverseasConsignorAddr",
            "OverseasConsigneeCode", "OverseasConsigneeEname", "TrafMode", "TradeMode",
            "DespPortCode", "DistinatePort", "TransMode",
            *(leaf.element for leaf in HEAD_LEAVES),
        }
    ),
    "DecList": frozenset(
        {"CodeTS", "TradeCurr", "OriginCountry", *(leaf.element for leaf in LINE_LEAVES)}
    ),
    "Container": frozenset({"ContainerId"}),
}  # fmt: skip

# Identifier schemes the domestic and declarant code elements stand for.
SCHEME_USCC: Final = "CN-USCC"  # 18-character unified social credit code (*Scc elements)
SCHEME_CUSTOMS: Final = "CN-CUSTOMS"  # 10-digit customs registration code
SCHEME_OVERSEAS: Final = "AEO"  # Overseas*Code: AEO code of a mutual-recognition partner [check]

CAPABILITIES: Final = frozenset(
    {
        "functional_reference", "declaration_number", "kind", "function", "issue_time",
        "issue_time_offset_minutes", "declaring_office", "exit_office", "exit_place",
        "entry_office", "entry_place", "transport.mode", "transport.means_identity",
        "transport.containers",
        *(f"{party}.{field}" for party in ("exporter", "importer")
          for field in ("name", "identifier", "identifier_scheme")),
        "exporter.street", "declarant.name", "declarant.identifier",
        "declarant.identifier_scheme",
        *(f"goods_items.*.{field}" for field in (
            "line_number", "hs6", "tariff_line", "description", "specification",
            "origin_country", "quantity", "quantity_unit", "value", "value_currency",
            "procedure_code")),
        "total_gross_mass_kg", "total_package_count", "incoterm", "extensions",
    }
)  # fmt: skip
