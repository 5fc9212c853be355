"""Element names of the China single window declaration XML, and what maps where.

Names follow GACC Announcement 2018 No. 67 as used by public implementations (DOMAIN.md §2; the
casing is [check]). Every known element either maps to a canonical field (see `cn_swxml.parse`
and `cn_swxml.render`) or travels in `extensions` under a stable key:

    cn-swxml:DecHead/ManualNo             cn-swxml:DecList[GNo=3]/GModel
    cn-swxml:DecSign/OperType             cn-swxml:DecContainers/Container[ContainerId=X]/LclFlag

An element not listed here is reported as unknown rather than dropped or guessed.
"""

from __future__ import annotations

from typing import Final

FORMAT_ID: Final = "cn-swxml"
NAMESPACE: Final = "http://www.chinaport.gov.cn/dec"  # default namespace of real messages [check]
EXTENSION_PREFIX: Final = f"{FORMAT_ID}:"

# Known elements in the order real messages write them; those in MAPPED are read into
# canonical fields (see `cn_swxml.parse`), every other one travels in extensions.
DEC_HEAD: Final = (
    "SeqNo", "PreEntryId", "EntryId", "IEFlag", "Type", "CustomMaster", "IEPort", "ManualNo",
    "ContrNo", "IEDate", "DDate", "TradeCoScc", "TradeCode", "TradeCiqCode", "TradeName",
    "OwnerCodeScc", "OwnerCode", "OwnerCiqCode", "OwnerName", "AgentCodeScc", "AgentCode",
    "DeclCiqCode", "AgentName", "OverseasConsignorCode", "OverseasConsignorCname",
    "OverseasConsignorEname", "OverseasConsignorAddr", "OverseasConsigneeCode",
    "OverseasConsigneeEname", "DomesticConsigneeEname", "TrafMode", "TrafName", "VoyageNo",
    "BillNo", "TradeMode", "CutMode", "LicenseNo", "ApprNo", "TradeCountry", "TradeAreaCode",
    "DespPortCode", "DistinatePort", "TransMode", "FeeMark", "FeeRate", "FeeCurr", "InsurMark",
    "InsurRate", "InsurCurr", "OtherMark", "OtherRate", "OtherCurr", "PackNo", "WrapType",
    "GrossWet", "NetWt", "NoteS", "MarkNo", "EntyPortCode", "GoodsPlace", "EntryType",
    "DeclTrnRel", "ChkSurety", "BillType", "PromiseItmes", "CorrelationNo",
    "CorrelationReasonFlag", "EdiId", "EdiRemark", "EdiRemark2", "InspOrgCode", "PurpOrgCode",
    "OrgCode", "VsaOrgCode", "DespDate", "CmplDschrgDt", "BLNo", "SpecDeclFlag", "OrigBoxFlag",
    "NoOtherPack", "DeclareName", "TypistNo", "InputerName", "PartenerID", "CopCode", "CopName",
    "CopCodeScc", "TaxAaminMark", "CheckFlow",
)  # fmt: skip

DEC_LIST: Final = (
    "GNo", "ContrItem", "CodeTS", "CiqCode", "CiqName", "GName", "GModel", "DeclGoodsEname",
    "GQty", "GUnit", "FirstQty", "FirstUnit", "SecondQty", "SecondUnit", "DeclPrice",
    "DeclTotal", "TradeCurr", "OriginCountry", "OrigPlaceCode", "DestinationCountry",
    "DistrictCode", "DestCode", "DutyMode", "ExgNo", "ExgVersion", "UseTo", "WorkUsd", "Factor",
    "ClassMark", "Purpose", "GoodsAttr", "Stuff", "GoodsSpec", "GoodsModel", "GoodsBrand",
    "ProduceDate", "ProdBatchNo", "ProdValidDt", "ProdQgp", "NoDangFlag", "Uncode", "DangName",
    "DangPackType", "DangPackSpec", "MnufctrRegNo", "MnufctrRegName", "EngManEntCnm",
)  # fmt: skip

# Elements parsing reads into canonical fields, by section. An extension naming one is written
# only where parsing would not read it back (TradeCode beside TradeCoScc, TransMode 4 C&I).
MAPPED: Final = {
    "DecHead": frozenset(
        {
            "PreEntryId", "EntryId", "IEFlag", "CustomMaster", "IEPort", "IEDate", "TradeCoScc",
            "TradeCode", "TradeName", "AgentCodeScc", "AgentCode", "AgentName",
            "OverseasConsignorCode", "OverseasConsignorEname", "OverseasConsignorAddr",
            "OverseasConsigneeCode", "OverseasConsigneeEname", "TrafMode", "TrafName",
            "TradeMode", "DespPortCode", "DistinatePort", "TransMode", "PackNo", "GrossWet",
        }
    ),
    "DecList": frozenset(
        {"GNo", "CodeTS", "GName", "GQty", "GUnit", "DeclTotal", "TradeCurr", "OriginCountry"}
    ),
    "Container": frozenset({"ContainerId"}),
}  # fmt: skip

CONTAINER: Final = ("ContainerId", "ContainerMd", "GoodsNo", "LclFlag", "GoodsContaWt")

# Sections whose leaves all travel in extensions.
PASSTHROUGH_SECTIONS: Final = {
    "DecSign": (
        "OperType", "ICCode", "CopCode", "OperName", "ClientSeqNo", "Sign", "SignDate",
        "Certificate", "HostId", "BillSeqNo", "DomainId", "Note",
    ),
    "DecFreeTxt": ("RelId", "RelManNo", "BonNo", "VoyNo", "DecBpNo", "CusFie", "DecNo"),
}  # fmt: skip

SECTIONS: Final = ("DecHead", "DecLists", "DecContainers", *PASSTHROUGH_SECTIONS)

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
            "line_number", "hs6", "tariff_line", "description", "origin_country", "quantity",
            "quantity_unit", "value", "value_currency", "procedure_code")),
        "total_gross_mass_kg", "total_package_count", "incoterm", "extensions",
    }
)  # fmt: skip
