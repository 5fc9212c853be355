"""Realistic corridor traffic for the demo and the end-to-end benchmark (pure: models only).

Scenarios, each from the node whose national system would file it:
- CN-CQ: China-Laos-Thailand railway transit, Chongqing -> Vientiane -> Bangkok (to LA-VTE, TH-BKK)
- CN-CQ: "ASEAN Express" road freight Chongqing -> Hanoi via Pingxiang (to VN-HAN)
- VN-HAN: Vietnamese export by road to Chongqing via Huu Nghi / Pingxiang (to CN-CQ)
- TH-BKK: Thai durian export by rail Bangkok -> Vientiane -> Kunming (to LA-VTE, CN-CQ)
plus amendments (message function CHANGE) and cancellations of earlier Chongqing references
(the Thai declarations go to China too, whose single-window format carries originals only),
and one flow per other administration of the corridor meeting (`MEETING_FLOWS`): Zhanjiang and
Qinzhou sea freight to Singapore and Malaysia, Urumqi and Xi'an rail to Kazakhstan, Nanning road
to Vietnam, Myanmar road to Kunming (issued at Yangon's +06:30), Cambodian and Bruneian sea
freight to Qinzhou, and ASEAN Single Window exchanges between ASEAN members. Each flow's issue
time is the sender's local time, its offset from the IANA zone (zoneinfo), never a constant.

Part of it goes in as the national documents the nodes' own systems write, in real shape
(`broker.demo.national`): every other Chongqing railway transit and every other round of the
Chinese districts' flows as pre-acceptance single-window XML, every other round of Vietnam's
flow as CUSDEC with CST-opened items, every other Thai durian export and every other round of
the other ACDD administrations' flows as WCO Data Model declarations. The rest is rendered
from the canonical model, as before.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from broker.codes.countries import alpha3
from broker.demo import national
from broker.demo.national import NationalDocument
from broker.model import (
    Declaration,
    DeclarationKind,
    GoodsItem,
    MessageFunction,
    Party,
    Transport,
    TransportMode,
)
from broker.model.samples import sample_declaration

_NAMESPACE = uuid.UUID("5b0f8e3c-4c1e-4d5e-9f3a-7a1d2c3b4e5f")


@dataclass(frozen=True)
class Planned:
    """One declaration to file: a canonical model (rendered in the node's format when sent),
    or a national document as the node's own national system writes it."""

    sender: str  # node id
    declaration: Declaration | None
    scenario: str
    document: NationalDocument | None = None


def _vietnamese_importer() -> Party:
    return Party(
        name="Công ty TNHH Thương mại Xuất nhập khẩu Hà Nội",
        identifier="0101234567",
        identifier_scheme="VN-MST",
        street="Số 8 Phạm Hùng, Mỹ Đình",
        city="Hà Nội",
        country="VN",
    )


def _thai_exporter() -> Party:
    return Party(
        name="บริษัท ทุเรียนไทย ส่งออก จำกัด",
        identifier="0105560001234",
        identifier_scheme="TH-TIN",
        city="จันทบุรี",
        country="TH",
    )


def _renumbered(
    base: Declaration, reference: str, issued: datetime, **changes: object
) -> Declaration:
    data = base.model_dump()
    data.update(
        message_id=uuid.uuid5(_NAMESPACE, f"{reference}:{changes.get('function', 'ORIGINAL')}"),
        functional_reference=reference,
        issue_time=issued,
        issue_time_offset_minutes=base.issue_time_offset_minutes,
        extensions={},
    )
    data.update(changes)
    return Declaration.model_validate(data)


def rail_transit(reference: str, issued: datetime, lines: int) -> Declaration:
    # China files it as an export (China's format knows only I/E); Laos sees it in transit.
    base = sample_declaration(lines=lines, reference=reference)
    return _renumbered(base, reference, issued, kind=DeclarationKind.EXPORT)


def road_to_hanoi(reference: str, issued: datetime, lines: int) -> Declaration:
    base = sample_declaration(lines=lines, reference=reference)
    return _renumbered(
        base, reference, issued,
        kind=DeclarationKind.EXPORT,
        itinerary=("CN", "VN"),
        exit_place="CNPIN",
        exit_office="7206",
        entry_place="VNHAN",
        entry_office="VN01PK",
        importer=_vietnamese_importer(),
        transport=Transport(mode=TransportMode.ROAD, means_identity="渝A·D7Q35", nationality="CN"),
        incoterm_place="重庆",
    )  # fmt: skip


def durian_to_kunming(reference: str, issued: datetime, lines: int) -> Declaration:
    base = sample_declaration(lines=lines, reference=reference)
    items = tuple(
        GoodsItem.model_validate(
            {**item.model_dump(), "hs6": "081060", "tariff_line": "08106000",
             "description": "ทุเรียนสด (หมอนทอง) Fresh durian", "origin_country": "TH",
             "value_currency": "THB", "procedure_code": "1000", "preference": None}
        )
        for item in base.goods_items
    )  # fmt: skip
    total = sum((i.value for i in items if i.value is not None), Decimal(0))
    return _renumbered(
        base, reference, issued,
        kind=DeclarationKind.EXPORT,
        itinerary=("TH", "LA", "CN"),
        declaring_office="TH010",
        exit_place="THBKK",
        exit_office="TH010",
        entry_place="CNKMG",
        entry_office="8601",
        exporter=_thai_exporter(),
        importer=base.exporter,
        goods_items=items,
        total_value=total, total_value_currency="THB",
        invoice_amount=total, invoice_currency="THB",
        incoterm_place="Bangkok",
    )  # fmt: skip


def amended(original: Declaration, issued: datetime) -> Declaration:
    first = original.goods_items[0]
    changed = first.model_copy(update={"quantity": first.quantity + 1})
    return _renumbered(
        original, original.functional_reference, issued,
        function=MessageFunction.CHANGE,
        goods_items=(changed, *original.goods_items[1:]),
        total_value=None, total_value_currency=None,
    )  # fmt: skip


def cancelled(original: Declaration, issued: datetime) -> Declaration:
    return _renumbered(
        original, original.functional_reference, issued, function=MessageFunction.CANCELLATION
    )


@dataclass(frozen=True)
class Flow:
    """One administration's regular flow: sender node, where the goods go, how, in which zone."""

    sender: str
    prefix: str  # reference prefix
    scenario: str
    mode: TransportMode
    itinerary: tuple[str, ...]
    exit_place: str | None
    entry_place: str | None
    zone: str
    currency: str
    exporter: str
    importer: str
    means: str


# UN/LOCODEs as in broker/codes/locodes.py; unconfirmed ones (Qinzhou, Zhanjiang) are flagged
# there and in docs/domain.md; places without a confirmed code are left out (None).
MEETING_FLOWS: tuple[Flow, ...] = (
    Flow("CN-ZJ", "ZJ", "sea CN(Zhanjiang)-SG", TransportMode.MARITIME, ("CN", "SG"),
         "CNZHA", "SGSIN", "Asia/Shanghai", "CNY", "湛江港务集团贸易有限公司",
         "Lion City Trading Pte Ltd", "BEIBU GULF 7"),
    Flow("CN-ZJ", "ZJ", "sea CN(Zhanjiang)-MY", TransportMode.MARITIME, ("CN", "MY"),
         "CNZHA", "MYPKG", "Asia/Shanghai", "CNY", "湛江港务集团贸易有限公司",
         "Syarikat Perdagangan Klang Sdn Bhd", "ZHANJIANG EXPRESS"),
    Flow("CN-NN", "NN", "sea CN(Qinzhou)-MY", TransportMode.MARITIME, ("CN", "MY"),
         "CNQZH", "MYPKG", "Asia/Shanghai", "CNY", "广西北部湾国际港务贸易有限公司",
         "Syarikat Perdagangan Klang Sdn Bhd", "QINZHOU STAR"),
    Flow("CN-NN", "NN", "road CN(Nanning)-VN", TransportMode.ROAD, ("CN", "VN"),
         "CNPIN", "VNHAN", "Asia/Shanghai", "CNY", "广西南宁东盟物流有限公司",
         "Công ty TNHH Thương mại Lạng Sơn", "桂A·K2281"),
    Flow("CN-URC", "UR", "rail CN(Urumqi)-KZ", TransportMode.RAIL, ("CN", "KZ"),
         None, "KZALA", "Asia/Shanghai", "CNY", "新疆霍尔果斯陆港贸易有限公司",
         "ТОО Алматы Транзит Логистик", "X9021"),
    Flow("CN-XA", "XA", "rail CN(Xi'an)-KZ", TransportMode.RAIL, ("CN", "KZ"),
         None, "KZALA", "Asia/Shanghai", "CNY", "西安国际港务区长安号贸易有限公司",
         "ТОО Алматы Транзит Логистик", "X8157"),
    Flow("MM-RGN", "MM", "road MM-CN(Kunming)", TransportMode.ROAD, ("MM", "CN"),
         None, "CNKMG", "Asia/Yangon", "USD", "မြန်မာ ပို့ကုန် ကုမ္ပဏီ လီမိတက်",
         "云南瑞丽边境贸易有限公司", "YGN-4B/2291"),
    Flow("KH-PNH", "KH", "sea KH-CN(Qinzhou)", TransportMode.MARITIME, ("KH", "CN"),
         None, "CNQZH", "Asia/Phnom_Penh", "USD", "ក្រុមហ៊ុន អង្ករកម្ពុជា នាំចេញ",
         "广西北部湾粮油进口有限公司", "SIHANOUK 3"),
    Flow("BN-BWN", "BN", "sea BN-CN(Qinzhou)", TransportMode.MARITIME, ("BN", "CN"),
         None, "CNQZH", "Asia/Brunei", "BND", "Muara Export Sdn Bhd",
         "广西北部湾海产品进口有限公司", "MUARA 5"),
    Flow("SG-SIN", "SG", "sea SG-CN(Zhanjiang)", TransportMode.MARITIME, ("SG", "CN"),
         "SGSIN", "CNZHA", "Asia/Singapore", "SGD", "Lion City Trading Pte Ltd",
         "湛江港务集团贸易有限公司", "PACIFIC 12"),
    Flow("KZ-ALA", "KZ", "rail KZ-CN(Urumqi, Xi'an)", TransportMode.RAIL, ("KZ", "CN"),
         "KZALA", None, "Asia/Almaty", "KZT", "ТОО Казахстан Зерно Экспорт",
         "新疆霍尔果斯陆港贸易有限公司", "X2107"),
    Flow("LA-VTE", "LA", "road LA-TH (ASW)", TransportMode.ROAD, ("LA", "TH"),
         "LAVTE", "THBKK", "Asia/Vientiane", "LAK", "ບໍລິສັດ ກາເຟລາວ ສົ່ງອອກ",
         "บริษัท กาแฟไทย นำเข้า จำกัด", "ກທ 1234"),
    Flow("MY-KUL", "MY", "road MY-SG (ASW)", TransportMode.ROAD, ("MY", "SG"),
         None, "SGSIN", "Asia/Kuala_Lumpur", "MYR", "Syarikat Perdagangan Klang Sdn Bhd",
         "Lion City Trading Pte Ltd", "WXY 8812"),
    Flow("VN-HAN", "VN", "road VN-KH (ASW)", TransportMode.ROAD, ("VN", "KH"),
         "VNHAN", None, "Asia/Ho_Chi_Minh", "VND", "Công ty TNHH Thương mại Lạng Sơn",
         "ក្រុមហ៊ុន អង្ករកម្ពុជា នាំចេញ", "29C-12345"),
)  # fmt: skip


def _trader(name: str, country: str, reference: str, role: str) -> Party:
    """An illustrative trader (not a real registration) with the items ACDD makes mandatory."""
    digest = uuid.uuid5(_NAMESPACE, f"{name}:{role}").hex[:10].upper()
    return Party(
        name=name,
        identifier=f"{country}{digest}",
        identifier_scheme=f"{country}-TIN",
        street=f"Trade Park {int(digest[:4], 16) % 90 + 1}",
        city=None,
        country=country,
    )


def flow_declaration(flow: Flow, reference: str, issued: datetime, lines: int) -> Declaration:
    zone = ZoneInfo(flow.zone)
    local = issued.astimezone(zone)
    offset = local.utcoffset()
    base = sample_declaration(lines=lines, reference=reference)
    origin, destination = flow.itinerary[0], flow.itinerary[-1]
    items = tuple(
        GoodsItem.model_validate(
            {**item.model_dump(), "value_currency": flow.currency, "preference": None,
             "origin_country": origin}
        )
        for item in base.goods_items
    )  # fmt: skip
    total = sum((i.value for i in items if i.value is not None), Decimal(0))
    return _renumbered(
        base, reference, local,
        kind=DeclarationKind.EXPORT,
        issue_time_offset_minutes=int(offset.total_seconds() // 60) if offset else 0,
        itinerary=flow.itinerary,
        exit_place=flow.exit_place,
        entry_place=flow.entry_place,
        exit_office=None,
        entry_office=None,
        exporter=_trader(flow.exporter, origin, reference, "E"),
        importer=_trader(flow.importer, destination, reference, "I"),
        declarant=_trader(flow.exporter, origin, reference, "D"),
        transport=Transport(mode=flow.mode, means_identity=flow.means, nationality=origin),
        goods_items=items,
        total_value=total, total_value_currency=flow.currency,
        invoice_amount=total, invoice_currency=flow.currency,
        incoterm_place=None,
        consignment_ucr=None,
    )  # fmt: skip


def national_flow_document(
    flow: Flow, reference: str, issued: datetime, number: int, lines: int
) -> NationalDocument | None:
    """The flow's declaration as its sender's national system writes it, where the demo has
    that system's real shape (China's single window, Vietnam's CUSDEC, a WCO Data Model
    declaration for the ACDD administrations); else None (Kazakhstan's canonical JSON)."""
    if flow.sender in national.CHINA_SENDERS and flow.entry_place:
        sender = replace(national.CHINA_SENDERS[flow.sender], trader=flow.exporter)
        return national.cn_export(
            sender, reference, issued, number, lines,
            destination=flow.entry_place, trade_country=alpha3(flow.itinerary[-1]),
            consignee=flow.importer, mode=flow.mode.name, means=flow.means,
        )  # fmt: skip
    if flow.sender == "VN-HAN":
        parties = replace(
            national.LANG_SON_TO_PHNOM_PENH,
            importer=flow.importer, importer_country=flow.itinerary[-1],
        )  # fmt: skip
        return national.cusdec_export(
            parties, reference, issued, number, lines, office="VN01PK",
            loading=flow.exit_place or "VNHAN", discharge=flow.entry_place, means=flow.means,
            currency=flow.currency,
        )  # fmt: skip
    if flow.sender in ACDD_SENDERS:
        agency, office, city = ACDD_SENDERS[flow.sender]
        origin, destination = flow.itinerary[0], flow.itinerary[-1]
        exporter = _trader(flow.exporter, origin, reference, "E")
        importer = _trader(flow.importer, destination, reference, "I")
        wco_parties = national.WcoParties(
            flow.exporter, exporter.identifier or "", exporter.street or "", city, "",
            flow.importer, importer.street or "", "", destination,
            _trader(flow.exporter, origin, reference, "D").identifier or "",
            country=origin, zone=flow.zone, agency=agency,
        )  # fmt: skip
        return national.wco_export(
            wco_parties, reference, issued, number, lines, office=office, exit_office=office,
            loading=flow.exit_place, discharge=flow.entry_place, mode=flow.mode.name,
            means=flow.means, currency=flow.currency, goods=national.ASEAN_GOODS[origin],
            terms_place=city,
        )  # fmt: skip
    return None


# The ACDD administrations of the meeting flows: agency, declaring office (illustrative), city.
ACDD_SENDERS: dict[str, tuple[str, str, str]] = {
    "BN-BWN": ("Royal Customs and Excise Department", "BN0101", "Muara"),
    "KH-PNH": ("General Department of Customs and Excise", "KH0201", "ក្រុងព្រះសីហនុ"),
    "LA-VTE": ("Lao Customs Department", "LA0101", "ນະຄອນຫຼວງວຽງຈັນ"),
    "MY-KUL": ("Royal Malaysian Customs Department", "MY0101", "Kuala Lumpur"),
    "MM-RGN": ("Myanmar Customs Department", "MM0101", "ရန်ကုန်"),
    "SG-SIN": ("Singapore Customs", "SG0101", "Singapore"),
}


def meeting_traffic(run: str, rounds: int, now: datetime, lines: int = 3) -> Iterator[Planned]:
    """`rounds` declarations of every flow in `MEETING_FLOWS`; in every other round (the first
    included) the senders with a national shape file theirs as national documents."""
    for number in range(rounds):
        for index, flow in enumerate(MEETING_FLOWS):
            reference = f"{flow.prefix}{run}{number:03d}{index:02d}"
            document = (
                national_flow_document(flow, reference, now, number, lines)
                if number % 2 == 0
                else None
            )
            if document is not None:
                yield Planned(flow.sender, None, f"{flow.scenario} ({document.fmt})", document)
            else:
                declaration = flow_declaration(flow, reference, now, lines)
                yield Planned(flow.sender, declaration, flow.scenario)


def corridor_traffic(run: str, count: int, now: datetime, lines: int = 5) -> Iterator[Planned]:
    """`count` declarations cycling through the scenarios; every 10th amends, every 25th cancels.

    `run` prefixes every reference (and so every message id): each run's traffic is new.
    """
    recent: list[Planned] = []  # originals from Chongqing, which later amends or cancels some
    for number in range(count):
        issued = now
        if number % 25 == 24 and recent:
            base = recent[-3] if len(recent) >= 3 else recent[-1]
            assert base.declaration is not None
            planned = Planned(base.sender, cancelled(base.declaration, issued), "cancellation")
        elif number % 10 == 9 and recent:
            base = recent[-1]
            assert base.declaration is not None
            planned = Planned(base.sender, amended(base.declaration, issued), "amendment")
        else:
            reference = f"{run}{number:05d}"
            scenario = number % 4
            if scenario == 1:  # as Chongqing's single-window client files it
                document = national.cn_export(
                    national.CHONGQING, f"CQ{reference}", issued, number, lines,
                    destination="THBKK", trade_country="THA",
                    consignee="บริษัท สยาม อิเล็กทรอนิกส์ นำเข้า จำกัด", mode="RAIL",
                    means="X8205",
                )  # fmt: skip
                planned = Planned("CN-CQ", None, "rail transit CN-LA-TH (cn-swxml)", document)
            elif scenario == 0:
                planned = Planned(
                    "CN-CQ", rail_transit(f"CQ{reference}", issued, lines), "rail transit CN-LA-TH"
                )
            elif scenario == 2:
                planned = Planned(
                    "CN-CQ", road_to_hanoi(f"CQ{reference}", issued, lines), "road CN-VN"
                )
            elif number % 8 == 3:  # as the Thai customs system writes it
                document = national.wco_export(
                    national.DURIAN_TO_KUNMING, f"BK{reference}", issued, number, lines,
                    office="TH010", exit_office="TH010", loading="THBKK", discharge="CNKMG",
                    mode="RAIL", means="TH-FRT-3012",
                )  # fmt: skip
                planned = Planned("TH-BKK", None, "rail TH-LA-CN (acdd-xml WCO)", document)
            else:
                planned = Planned(
                    "TH-BKK", durian_to_kunming(f"BK{reference}", issued, lines), "rail TH-LA-CN"
                )
            if planned.sender == "CN-CQ" and planned.declaration is not None:
                recent.append(planned)
        yield planned
