"""National documents in real shape, as the corridor's national systems file them (pure: bytes).

The demo sends part of each national node's traffic as the document its own national system
would write, not one rendered from the canonical model, in the shape the public samples of
`tests/data/real/` show (their sidecars name the sources; nothing here reads them):

- `cn_export`: China's single window DecMessage 3.1 as the client sends it before acceptance:
  every DecHead element present, most empty; PreEntryId, EntryId, IEDate and SeqNo empty (the
  reference is DecSign/ClientSeqNo, the time DecSign/SignDate); DespPortCode a China port code
  (CHN000), DistinatePort the place of destination;
- `cusdec_export`: a UN/EDIFACT CUSDEC D.01B (UNOW) whose goods items are opened by CST, as
  published implementation guides write them (`CST+1+08011910:108:ZZZ`), with the header
  `CST++A:117:ZZZ` they carry;
- `wco_export`: a WCO Data Model 3.6 `Declaration` in its `MetaData` envelope (default
  namespaces, `DateTimeString formatCode="304"`, TSP classification, GovernmentProcedure
  current/previous codes), as national systems built on the data model send it.

Each takes a reference, the issue time and a number that varies quantities and values, and
returns the bytes with the goods lines it wrote (`NationalDocument`), so a test can read the
document back and compare. Names and places stay in their own scripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

CN_SWXML = "cn-swxml"
CUSDEC = "cusdec"
ACDD_XML = "acdd-xml"


@dataclass(frozen=True)
class Goods:
    """One kind of goods a flow carries: the national line and how it is counted."""

    tariff_line: str
    description: str
    unit: str  # the document's own unit code (China's 035, or UN/ECE Rec 20 KGM)
    base_quantity: int
    unit_price: Decimal
    specification: str = ""


@dataclass(frozen=True)
class Line:
    """A goods line as written into a document."""

    number: int
    goods: Goods
    quantity: Decimal
    value: Decimal


@dataclass(frozen=True)
class NationalDocument:
    fmt: str
    data: bytes
    reference: str
    lines: tuple[Line, ...]


def goods_lines(catalogue: Sequence[Goods], number: int, lines: int) -> tuple[Line, ...]:
    """`lines` goods lines cycling through `catalogue`; quantities (so values) vary with
    `number`, values to the cent."""
    out = []
    for index in range(lines):
        goods = catalogue[(number + index) % len(catalogue)]
        quantity = Decimal(goods.base_quantity + (number * 7 + index * 3) % 40)
        value = (quantity * goods.unit_price).quantize(Decimal("0.01"))
        out.append(Line(index + 1, goods, quantity, value))
    return tuple(out)


def _plain(value: Decimal) -> str:
    return format(value, "f")


# ---------------------------------------------------------------------------- China
CN_TIME = ZoneInfo("Asia/Shanghai")

# China's exports along the corridor: laptops, green tea, motorcycles, power supplies (China
# units 001 台, 035 千克, 007 个; 003 辆 is avoided: it has no Rec 20 twin).
CHINA_GOODS: tuple[Goods, ...] = (
    Goods("8471300000", "笔记本电脑", "001", 30, Decimal("3200"), "0|0|14英寸|16GB|联想牌|E14"),
    Goods("0902109000", "绿茶", "035", 500, Decimal("25"), "绿茶|每包250克"),
    Goods("8711209000", "两轮摩托车", "007", 12, Decimal("6850.50"), "0|0|150cc|宗申牌"),
    Goods("8504403090", "开关电源", "007", 200, Decimal("48.75"), "0|0|220V|50W"),
)


@dataclass(frozen=True)
class ChinaSender:
    """A customs district's client: the trader, its agent and the district's codes."""

    customs: str  # CustomMaster, 4-digit customs code
    exit_port: str  # IEPort
    trader: str  # TradeName / OwnerName
    trader_scc: str  # unified social credit code, 18 characters
    agent: str
    agent_scc: str
    inputer: str
    district: str  # DistrictCode, 5 digits


CHONGQING = ChinaSender(
    "8001", "8615", "重庆渝新欧国际贸易有限公司", "91500000MA5U7XK21P",
    "重庆西部陆海报关有限公司", "91500000MA5U8L2Q4X", "王小明", "50118",
)  # fmt: skip

# The other districts of the corridor meeting (docs/domain.md §1), illustrative registrations.
CHINA_SENDERS: dict[str, ChinaSender] = {
    "CN-CQ": CHONGQING,
    "CN-ZJ": ChinaSender("6701", "6701", "湛江港务集团贸易有限公司", "91440800MA4W2RZ31K",
                         "湛江南方报关行有限公司", "91440800MA4W3PQ52B", "陈海燕", "44089"),
    "CN-NN": ChinaSender("7201", "7206", "广西北部湾国际港务贸易有限公司", "91450700MA5KD1JX2C",
                         "广西东盟通报关有限公司", "91450100MA5L8W7T6D", "黄建国", "45079"),
    "CN-URC": ChinaSender("9401", "9402", "新疆霍尔果斯陆港贸易有限公司", "91654004MA77Q3F58E",
                          "新疆丝路报关有限公司", "91650100MA78R2K19F", "阿依古丽", "65400"),
    "CN-XA": ChinaSender("9001", "9013", "西安国际港务区长安号贸易有限公司", "91610138MA6U2L9B3G",
                         "陕西长安报关有限公司", "91610100MA6W4H2C7H", "李卫东", "61019"),
}  # fmt: skip

# China's transport mode table (运输方式代码): 2 waterway, 3 rail, 4 road.
CN_MODES = {"MARITIME": "2", "RAIL": "3", "ROAD": "4"}

_DEC_HEAD = (
    "AgentCode", "AgentName", "ApprNo", "BillNo", "ContrNo", "CopCode", "CopName",
    "CustomMaster", "CutMode", "DataSource", "DeclTrnRel", "DistinatePort", "DistrictCode",
    "EdiId", "EntryId", "EntryType", "FeeCurr", "FeeMark", "FeeRate", "GrossWet", "IEDate",
    "IEFlag", "IEPort", "InputerName", "InRatio", "InsurCurr", "InsurMark", "InsurRate",
    "LicenseNo", "ManualNo", "NetWt", "NoteS", "OtherCurr", "OtherMark", "OtherRate",
    "OwnerCode", "OwnerName", "PackNo", "PartenerID", "PayWay", "PaymentMark", "PDate",
    "PreEntryId", "Risk", "SeqNo", "TgdNo", "TradeCode", "TradeCountry", "TradeMode",
    "TradeName", "TrafMode", "TrafName", "TransMode", "Type", "TypistNo", "WrapType",
    "ChkSurety", "BillType", "AgentCodeScc", "CopCodeScc", "OwnerCodeScc", "TradeCodeScc",
    "PromiseItmes", "TradeAreaCode", "DespPortCode", "EntyPortCode", "OverseasConsigneeEname",
    "OverseasConsigneeCode", "OverseasConsignorEname", "OverseasConsignorAddr", "AgentLinkMan",
    "AgentLinkPhone", "OwnerLinkMan",
)  # fmt: skip
_DEC_LIST = (
    "ClassMark", "CodeTS", "ContrItem", "DeclPrice", "DeclTotal", "DutyMode", "ExgNo",
    "ExgVersion", "Factor", "FirstQty", "FirstUnit", "GUnit", "GModel", "GName", "GNo", "GQty",
    "OriginCountry", "SecondUnit", "SecondQty", "TradeCurr", "UseTo", "WorkUsd",
    "DestinationCountry",
)  # fmt: skip


def _elements(names: Sequence[str], values: dict[str, str], indent: str) -> list[str]:
    """Every element in `names`, in order; those without a value self-closed (as the client
    writes the whole form)."""
    out = []
    for name in names:
        text = values.get(name, "")
        out.append(f"{indent}<{name}>{escape(text)}</{name}>" if text else f"{indent}<{name}/>")
    return out


def cn_export(
    sender: ChinaSender,
    reference: str,
    issued: datetime,
    number: int,
    lines: int,
    *,
    destination: str,  # DistinatePort: the UN/LOCODE of the place of destination
    trade_country: str,  # ISO alpha-3
    consignee: str,
    mode: str,  # TransportMode name
    means: str,
    goods: Sequence[Goods] = CHINA_GOODS,
) -> NationalDocument:
    """An export DecMessage before acceptance: PreEntryId, EntryId, IEDate, SeqNo empty."""
    local = issued.astimezone(CN_TIME)
    written = goods_lines(goods, number, lines)
    net = sum((line.quantity for line in written if line.goods.unit == "035"), Decimal(0))
    head = {
        "AgentCode": sender.agent_scc[8:18], "AgentName": sender.agent,
        "BillNo": f"BL{reference}", "ContrNo": f"CT-{reference}",
        "CopCode": sender.agent_scc[8:18], "CopName": sender.agent,
        "CustomMaster": sender.customs, "CutMode": "101", "DeclTrnRel": "0",
        "DistinatePort": destination, "DistrictCode": sender.district, "EdiId": "1",
        "EntryType": "M", "GrossWet": _plain(Decimal(100 + number % 50) * 10 + net),
        "IEFlag": "E", "IEPort": sender.exit_port, "InputerName": sender.inputer,
        "NetWt": _plain(net) if net else "", "OwnerName": sender.trader,
        "PackNo": str(10 + number % 30), "TradeCode": sender.trader_scc[8:18],
        "TradeCountry": trade_country, "TradeMode": "0110", "TradeName": sender.trader,
        "TrafMode": CN_MODES[mode], "TrafName": means, "TransMode": "3",
        "TypistNo": "8930000012345", "WrapType": "22",
        "AgentCodeScc": sender.agent_scc, "OwnerCodeScc": sender.trader_scc,
        "TradeCodeScc": sender.trader_scc, "PromiseItmes": "000",
        "TradeAreaCode": trade_country, "DespPortCode": "CHN000",
        "OverseasConsigneeEname": consignee,
    }  # fmt: skip
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<DecMessage version="3.1" xmlns="http://www.chinaport.gov.cn/dec">',
        "  <DecHead>",
        *_elements(_DEC_HEAD, head, "    "),
        "  </DecHead>",
        "  <DecLists>",
    ]
    for line in written:
        item = {
            "CodeTS": line.goods.tariff_line, "DeclPrice": _plain(line.goods.unit_price),
            "DeclTotal": _plain(line.value), "DutyMode": "1",
            "FirstQty": _plain(line.quantity), "FirstUnit": line.goods.unit,
            "GUnit": line.goods.unit, "GModel": line.goods.specification,
            "GName": line.goods.description, "GNo": str(line.number),
            "GQty": _plain(line.quantity), "OriginCountry": "CHN", "TradeCurr": "CNY",
            "DestinationCountry": trade_country,
        }  # fmt: skip
        parts += ["    <DecList>", *_elements(_DEC_LIST, item, "      "), "    </DecList>"]
    parts += [
        "  </DecLists>",
        "  <DecContainers/>",
        "  <DecLicenseDocus/>",
        "  <DecFreeTxt>",
        *_elements(("BonNo", "CusFie", "DecBpNo", "DecNo", "RelId", "RelManNo", "VoyNo"), {},
                   "    "),
        "  </DecFreeTxt>",
        "  <DecSign>",
        *_elements(
            ("ClientSeqNo", "CopCode", "ICCode", "OperType", "OperName", "Sign", "SignDate",
             "HostId", "Certificate"),
            {"ClientSeqNo": reference, "CopCode": sender.agent_scc[8:18],
             "ICCode": "8930000012345", "OperType": "G", "OperName": sender.inputer,
             "SignDate": local.strftime("%Y%m%d%H%M%S") + "00"},
            "    ",
        ),
        "  </DecSign>",
        "</DecMessage>",
        "",
    ]  # fmt: skip
    return NationalDocument(CN_SWXML, "\n".join(parts).encode("utf-8"), reference, written)


# ---------------------------------------------------------------------------- CUSDEC
VN_TIME = ZoneInfo("Asia/Ho_Chi_Minh")

# Vietnam's road exports: cashew kernels, coffee, rice, rubber (8-digit AHTN lines).
VIETNAM_GOODS: tuple[Goods, ...] = (
    Goods("08013200", "Hạt điều nhân đã bóc vỏ (cashew kernels)", "KGM", 900, Decimal("182500")),
    Goods("09011110", "Cà phê Robusta nhân xô (green coffee)", "KGM", 1200, Decimal("97400")),
    Goods("10063099", "Gạo trắng hạt dài 5% tấm (white rice)", "KGM", 5000, Decimal("14250")),
    Goods("40012220", "Cao su thiên nhiên SVR 10 (natural rubber)", "KGM", 2000, Decimal("41300")),
)


@dataclass(frozen=True)
class CusdecParties:
    exporter: str
    exporter_id: str  # VN-MST tax code
    exporter_street: str
    exporter_city: str
    importer: str
    importer_id: str
    importer_country: str
    declarant: str
    declarant_id: str


LANG_SON_TO_PHNOM_PENH = CusdecParties(
    "Công ty TNHH Thương mại Lạng Sơn", "4900123456", "Số 12 Lê Lợi, phường Vĩnh Trại",
    "Lạng Sơn", "ក្រុមហ៊ុន អង្ករកម្ពុជា នាំចេញ", "K001-901234567", "KH",
    "Đại lý Hải quan Hữu Nghị", "4900765432",
)  # fmt: skip


def _edi(text: str) -> str:
    """Text as an EDIFACT data element: the service characters released with `?`."""
    for char in "?+:'":
        text = text.replace(char, "?" + char)
    return text


def cusdec_export(
    parties: CusdecParties,
    reference: str,
    issued: datetime,
    number: int,
    lines: int,
    *,
    office: str,  # declaring and exit office (LOC+22, LOC+42)
    loading: str,  # UN/LOCODE (LOC+9)
    discharge: str | None,  # UN/LOCODE (LOC+11), if the place is known
    means: str,
    currency: str = "VND",
    goods: Sequence[Goods] = VIETNAM_GOODS,
) -> NationalDocument:
    """A CUSDEC export whose goods items are opened by CST (no LIN)."""
    local = issued.astimezone(VN_TIME)
    offset = local.strftime("%z")  # +0700
    written = goods_lines(goods, number, lines)
    control = f"{number % 100000:05d}"
    body = [
        f"UNH+M{control}+CUSDEC:D:01B:UN",
        f"BGM+830+{_edi(reference)}+9",
        f"DTM+137:{local.strftime('%Y%m%d%H%M%S')}?{offset}:208",
        f"LOC+22+{office}",
        f"LOC+42+{office}",
        f"LOC+9+{loading}",
        *([f"LOC+11+{discharge}"] if discharge else []),
        "LOC+35+VN",
        f"LOC+36+{parties.importer_country}",
        "CST++A:117:ZZZ",
        f"TDT+11++3+++++{_edi(means)}::::VN",
        f"NAD+EX+{parties.exporter_id}:VN-MST++{_edi(parties.exporter)}"
        f"+{_edi(parties.exporter_street)}+{_edi(parties.exporter_city)}+++VN",
        f"NAD+IM+{parties.importer_id}:{parties.importer_country}-TIN++{_edi(parties.importer)}"
        f"+++++{parties.importer_country}",
        f"NAD+DT+{parties.declarant_id}:VN-MST++{_edi(parties.declarant)}+++++VN",
        "UNS+D",
    ]
    for line in written:
        body += [
            f"CST+{line.number}+{line.goods.tariff_line}:108:ZZZ",
            f"FTX+AAA+++{_edi(line.goods.description)}",
            "LOC+27+VN",
            f"QTY+47:{_plain(line.quantity)}:{line.goods.unit}",
            f"MOA+38:{_plain(line.value)}:{currency}",
        ]
    body += ["UNS+S", f"CNT+5:{len(written)}"]
    body.append(f"UNT+{len(body) + 1}+M{control}")
    interchange = [
        "UNA:+.? ",  # the segment terminator follows (joined below)
        f"UNB+UNOW:3+VNCUS+ILSTC+{local.strftime('%y%m%d:%H%M')}+VN{control}",
        *body,
        f"UNZ+1+VN{control}",
    ]
    data = "'\r\n".join(interchange) + "'\r\n"
    return NationalDocument(CUSDEC, data.encode("utf-8"), reference, written)


# ---------------------------------------------------------------------------- WCO Data Model
THAI_FRUIT: tuple[Goods, ...] = (
    Goods("08106000", "ทุเรียนสด (หมอนทอง) Fresh durian", "KGM", 8000, Decimal("142.50")),
    Goods("08109010", "มังคุดสด Fresh mangosteen", "KGM", 3000, Decimal("88.25")),
    Goods("08104000", "ลำไยสด Fresh longan", "KGM", 5000, Decimal("46.80")),
)

# What the other ACDD administrations' flows carry (8-digit AHTN lines), by exporting country.
ASEAN_GOODS: dict[str, tuple[Goods, ...]] = {
    "LA": (Goods("09011190", "ກາເຟອາຣາບິກາ Arabica coffee beans", "KGM", 6000, Decimal("52000")),
           Goods("44072990", "ໄມ້ແປຮູບ Sawn timber", "KGM", 9000, Decimal("11500"))),
    "MY": (Goods("40151900", "Sarung tangan getah (rubber gloves)", "KGM", 4000, Decimal("9.85")),
           Goods("15119037", "Minyak sawit bertapis (refined palm oil)", "KGM", 20000,
                 Decimal("4.12"))),
    "MM": (Goods("07133100", "ပဲတီစိမ်း Green gram (mung beans)", "KGM", 10000, Decimal("1.05")),
           Goods("10063030", "ဆန် Rice, milled", "KGM", 15000, Decimal("0.62"))),
    "KH": (Goods("10063040", "អង្ករក្រអូប Fragrant jasmine rice", "KGM", 18000,
                 Decimal("0.88")),
           Goods("08013200", "គ្រាប់ស្វាយចន្ទី Cashew kernels", "KGM", 2000, Decimal("6.40"))),
    "BN": (Goods("03038900", "Ikan beku (frozen fish)", "KGM", 7000, Decimal("3.75")),),
    "SG": (Goods("27101943", "Lubricating oil base stock", "KGM", 12000, Decimal("1.95")),
           Goods("38249999", "Chemical preparations, n.e.s.", "KGM", 3000, Decimal("7.30"))),
}  # fmt: skip


@dataclass(frozen=True)
class WcoParties:
    exporter: str
    exporter_id: str
    exporter_street: str
    exporter_city: str
    exporter_postcode: str
    consignee: str
    consignee_street: str
    consignee_city: str
    consignee_country: str
    declarant_id: str
    country: str = "TH"  # the declaring administration's country
    zone: str = "Asia/Bangkok"
    agency: str = "Thai Customs"


DURIAN_TO_KUNMING = WcoParties(
    "บริษัท ทุเรียนไทย ส่งออก จำกัด", "0105560001234", "88 ถนนท่าแฉลบ", "จันทบุรี", "22000",
    "云南瑞丽果业进口有限公司", "昆明市官渡区螺蛳湾国际商贸城", "昆明", "CN", "0105558777777",
)  # fmt: skip

# UN/ECE Rec 19 transport modes, as the WCO Data Model codes them.
WCO_MODES = {"MARITIME": "1", "RAIL": "2", "ROAD": "3"}


def _format_304(moment: datetime) -> str:
    """WCO DateTimeString formatCode 304: CCYYMMDDHHMMSS then +hh, or +hhmm off the hour."""
    zone = moment.strftime("%z")
    return moment.strftime("%Y%m%d%H%M%S") + (zone[:3] if zone.endswith("00") else zone)


def wco_export(
    parties: WcoParties,
    reference: str,
    issued: datetime,
    number: int,
    lines: int,
    *,
    office: str,
    exit_office: str,
    loading: str | None,
    discharge: str | None,
    mode: str,
    means: str,
    currency: str = "THB",
    goods: Sequence[Goods] = THAI_FRUIT,
    terms_place: str = "Bangkok",
) -> NationalDocument:
    """A WCO DM 3.6 export `Declaration` (TypeCode EXA) in a `MetaData` envelope."""
    local = issued.astimezone(ZoneInfo(parties.zone))
    stamp = _format_304(local)
    country = parties.country
    written = goods_lines(goods, number, lines)
    packages = 20 + number % 30
    items = []
    for line in written:
        items += [
            "      <GovernmentAgencyGoodsItem>",
            f"        <SequenceNumeric>{line.number}</SequenceNumeric>",
            f'        <StatisticalValueAmount currencyID="{currency}">{_plain(line.value)}'
            "</StatisticalValueAmount>",
            "        <Commodity>",
            f"          <Description>{escape(line.goods.description)}</Description>",
            "          <Classification>",
            f"            <ID>{line.goods.tariff_line}</ID>",
            "            <IdentificationTypeCode>TSP</IdentificationTypeCode>",
            "          </Classification>",
            "          <GoodsMeasure>",
            f'            <NetNetWeightMeasure unitCode="KGM">{_plain(line.quantity)}'
            "</NetNetWeightMeasure>",
            f'            <TariffQuantity unitCode="{line.goods.unit}">{_plain(line.quantity)}'
            "</TariffQuantity>",
            "          </GoodsMeasure>",
            "        </Commodity>",
            "        <GovernmentProcedure>",
            "          <CurrentCode>10</CurrentCode>",
            "          <PreviousCode>00</PreviousCode>",
            "        </GovernmentProcedure>",
            "        <Origin>",
            f"          <CountryCode>{country}</CountryCode>",
            "        </Origin>",
            "      </GovernmentAgencyGoodsItem>",
        ]
    text = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<MetaData xmlns="urn:wco:datamodel:WCO:DocumentMetaData-DMS:2">',
        "  <WCODataModelVersionCode>3.6</WCODataModelVersionCode>",
        "  <WCOTypeName>DEC</WCOTypeName>",
        f"  <ResponsibleCountryCode>{country}</ResponsibleCountryCode>",
        f"  <ResponsibleAgencyName>{escape(parties.agency)}</ResponsibleAgencyName>",
        '  <Declaration xmlns="urn:wco:datamodel:WCO:DEC-DMS:2" '
        'xmlns:ds="urn:wco:datamodel:WCO:Declaration_DS:DMS:2">',
        "    <FunctionCode>9</FunctionCode>",
        f"    <FunctionalReferenceID>{escape(reference)}</FunctionalReferenceID>",
        "    <TypeCode>EXA</TypeCode>",
        "    <IssueDateTime>",
        f'      <ds:DateTimeString formatCode="304">{stamp}</ds:DateTimeString>',
        "    </IssueDateTime>",
        f"    <GoodsItemQuantity>{len(written)}</GoodsItemQuantity>",
        f"    <TotalPackageQuantity>{packages}</TotalPackageQuantity>",
        "    <Declarant>",
        f"      <ID>{parties.declarant_id}</ID>",
        "    </Declarant>",
        "    <DeclarationOffice>",
        f"      <ID>{office}</ID>",
        "    </DeclarationOffice>",
        "    <ExitOffice>",
        f"      <ID>{exit_office}</ID>",
        "    </ExitOffice>",
        "    <Exporter>",
        f"      <Name>{escape(parties.exporter)}</Name>",
        f'      <ID schemeID="{country}-TIN">{parties.exporter_id}</ID>',
        "      <Address>",
        f"        <CityName>{escape(parties.exporter_city)}</CityName>",
        f"        <CountryCode>{country}</CountryCode>",
        f"        <Line>{escape(parties.exporter_street)}</Line>",
        f"        <PostcodeID>{parties.exporter_postcode}</PostcodeID>",
        "      </Address>",
        "    </Exporter>",
        "    <BorderTransportMeans>",
        f"      <ID>{escape(means)}</ID>",
        f"      <ModeCode>{WCO_MODES[mode]}</ModeCode>",
        f"      <RegistrationNationalityCode>{country}</RegistrationNationalityCode>",
        "    </BorderTransportMeans>",
        "    <GoodsShipment>",
        "      <Consignee>",
        f"        <Name>{escape(parties.consignee)}</Name>",
        "        <Address>",
        f"          <CityName>{escape(parties.consignee_city)}</CityName>",
        f"          <CountryCode>{parties.consignee_country}</CountryCode>",
        f"          <Line>{escape(parties.consignee_street)}</Line>",
        "        </Address>",
        "      </Consignee>",
        *_consignment(loading, discharge),
        "      <TradeTerms>",
        "        <ConditionCode>FCA</ConditionCode>",
        f"        <LocationName>{escape(terms_place)}</LocationName>",
        "      </TradeTerms>",
        *items,
        "    </GoodsShipment>",
        "  </Declaration>",
        "</MetaData>",
        "",
    ]
    return NationalDocument(ACDD_XML, "\n".join(text).encode("utf-8"), reference, written)


def _consignment(loading: str | None, discharge: str | None) -> list[str]:
    places = [
        f"        <{tag}>\n          <ID>{code}</ID>\n        </{tag}>"
        for tag, code in (("LoadingLocation", loading), ("UnloadingLocation", discharge))
        if code
    ]
    return ["      <Consignment>", *places, "      </Consignment>"] if places else []
