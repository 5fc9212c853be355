"""Realistic sample data for tests, benchmarks and demos: a China-Laos-Thailand rail transit.

Goods leave Chongqing (CNCKG) by the China-Laos railway, cross into Laos at Mohan/Boten, run through
Vientiane (LAVTE) and on to Bangkok (THBKK). Everything is deterministic: the same arguments give
the same declaration, byte for byte once encoded. Company names, identifiers and customs office
codes are illustrative, not real registrations.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from decimal import Decimal
from typing import Final, NamedTuple
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from broker.model.declaration import (
    Declaration,
    DeclarationKind,
    GoodsItem,
    Incoterm,
    Party,
    PreferenceAgreement,
    PreferenceClaim,
    Transport,
    TransportMode,
)
from broker.model.receipt import Receipt, ReceiptError, ReceiptStatus

# Namespace for deterministic sample message ids (uuid5 of the functional reference).
_SAMPLE_NAMESPACE: Final = UUID("6f1c2a8e-3b7d-4c55-9a10-2f0e8d4b7c61")


class _Product(NamedTuple):
    tariff_line: str  # China CodeTS, 10 digits, begins with the HS6
    description: str
    unit: str  # UN/ECE Rec 20
    unit_price_cny: Decimal
    net_kg_per_unit: Decimal


_PRODUCTS: Final[tuple[_Product, ...]] = (
    _Product("8471300000", "笔记本电脑 14英寸 16GB内存", "H87", Decimal("3200.00"), Decimal("1.6")),
    _Product("8714100090", "摩托车零件 链条 428H", "KGM", Decimal("18.50"), Decimal("1")),
    _Product("4011100000", "小客车用橡胶轮胎 205/55R16", "H87", Decimal("310.00"), Decimal("8.9")),
    _Product("8507600090", "锂离子蓄电池 48V 100Ah", "H87", Decimal("2650.00"), Decimal("46.5")),
    _Product("8541430000", "光伏组件 单晶硅 550W", "H87", Decimal("720.00"), Decimal("27.2")),
    _Product("8415101000", "分体式空调 1.5匹 变频", "H87", Decimal("1580.00"), Decimal("38")),
    _Product("8517130000", "智能手机 5G 双卡", "H87", Decimal("1450.00"), Decimal("0.21")),
    _Product("6907210000", "陶瓷地砖 800×800毫米", "MTK", Decimal("42.00"), Decimal("20.5")),
    _Product("7306309000", "焊接钢管 外径48毫米", "KGM", Decimal("5.80"), Decimal("1")),
    _Product("8711600000", "电动自行车 48V 锂电", "H87", Decimal("1980.00"), Decimal("32")),
    _Product("3926909090", "塑料收纳箱 聚丙烯", "H87", Decimal("26.00"), Decimal("1.15")),
    _Product("0902109000", "绿茶 重庆永川秀芽 每包250克", "KGM", Decimal("160.00"), Decimal("1")),
)

_SHANGHAI: Final = ZoneInfo("Asia/Shanghai")
_BANGKOK: Final = ZoneInfo("Asia/Bangkok")


def iso6346(owner_and_serial: str) -> str:
    """Container number with its ISO 6346 check digit (`CSQU305438` -> `CSQU3054383`)."""
    values = []
    for char in owner_and_serial:
        if char.isdigit():
            values.append(int(char))
        else:  # letters count 10.. skipping multiples of 11
            value = ord(char) - ord("A") + 10
            values.append(value + (value - 1) // 10)
    check = sum(value << position for position, value in enumerate(values)) % 11 % 10
    return owner_and_serial + str(check)


def sample_parties() -> dict[str, Party]:
    """Exporter in Chongqing, consignee in Bangkok, declarant in Chongqing, Lao rail carrier."""
    return {
        "exporter": Party(
            name="重庆渝新欧国际贸易有限公司",
            identifier="91500000MA5U7XK21P",
            identifier_scheme="CN-USCC",
            street="沙坪坝区土主镇团结村中心站路1号",
            city="重庆",
            postcode="401332",
            country="CN",
        ),
        "importer": Party(
            name="บริษัท สยามคอนติเนนตัล เทรดดิ้ง จำกัด",
            identifier="0105561234567",
            identifier_scheme="TH-TIN",
            street="99/1 ถนนรัชดาภิเษก แขวงห้วยขวาง",
            city="กรุงเทพมหานคร",
            postcode="10310",
            country="TH",
        ),
        "declarant": Party(
            name="重庆西部陆海报关有限公司",
            identifier="5001980123",
            identifier_scheme="CN-CUSTOMS",
            city="重庆",
            country="CN",
        ),
        "carrier": Party(
            name="ບໍລິສັດ ທາງລົດໄຟ ລາວ-ຈີນ ຈຳກັດ",
            identifier="LCR-0001",
            identifier_scheme="LA-CARRIER",
            city="ນະຄອນຫຼວງວຽງຈັນ",
            country="LA",
        ),
    }


def sample_goods_item(line_number: int) -> GoodsItem:
    """Goods line `line_number` (from 1), cycling through a dozen typical corridor exports."""
    product = _PRODUCTS[(line_number - 1) % len(_PRODUCTS)]
    quantity = Decimal(10 * line_number + 5)
    net = product.net_kg_per_unit * quantity
    return GoodsItem(
        line_number=line_number,
        hs6=product.tariff_line[:6],
        tariff_line=product.tariff_line,
        description=product.description,
        origin_country="CN",
        quantity=quantity,
        quantity_unit=product.unit,
        net_mass_kg=net,
        gross_mass_kg=(net * Decimal("1.08")).quantize(Decimal("0.001")),
        value=product.unit_price_cny * quantity,
        value_currency="CNY",
        procedure_code="0110",
        preference=PreferenceClaim(
            agreement=PreferenceAgreement.ACFTA, certificate_number=f"E25500000{line_number:06d}"
        ),
        package_count=line_number % 7 + 1,
        package_kind="CT",
    )


def sample_declaration(lines: int = 20, *, reference: str = "CQ2025TH0915001") -> Declaration:
    """A transit declaration Chongqing -> Vientiane -> Bangkok by the China-Laos railway."""
    items = tuple(sample_goods_item(number) for number in range(1, lines + 1))
    parties = sample_parties()
    total_value = sum((item.value for item in items if item.value is not None), Decimal(0))
    return Declaration(
        message_id=uuid5(_SAMPLE_NAMESPACE, reference),
        functional_reference=reference,
        declaration_number="800020250000123456",
        kind=DeclarationKind.TRANSIT,
        issue_time=datetime(2025, 9, 15, 9, 30, 12, 250_000, tzinfo=_SHANGHAI),
        issue_time_offset_minutes=480,
        declaring_office="8001",
        exit_office="8615",
        exit_place="CNCKG",
        entry_office="TH010",
        entry_place="THBKK",
        itinerary=("CN", "LA", "TH"),
        transport=Transport(
            mode=TransportMode.RAIL,
            means_identity="X8205",
            nationality="CN",
            containers=(iso6346("CSQU305438"), iso6346("TGHU772101")),
            seals=("CN-CQ-0098812", "CN-CQ-0098813"),
        ),
        exporter=parties["exporter"],
        importer=parties["importer"],
        declarant=parties["declarant"],
        carrier=parties["carrier"],
        goods_items=items,
        total_gross_mass_kg=sum(
            (item.gross_mass_kg for item in items if item.gross_mass_kg is not None), Decimal(0)
        ),
        total_package_count=sum(item.package_count or 0 for item in items),
        total_value=total_value,
        total_value_currency="CNY",
        invoice_amount=total_value,
        invoice_currency="CNY",
        incoterm=Incoterm.FCA,
        incoterm_place="重庆团结村站",
        consignment_ucr="5CN500000MA5U7XK2-2025-0915",
        extensions={
            "cn-swxml:DecHead/ContrNo": "CQTH-2025-0915",
            "cn-swxml:DecHead/ManualNo": "",
        },
    )


def sample_receipt(declaration: Declaration, received: bytes, *, accepted: bool = True) -> Receipt:
    """The receipt Bangkok would send for `declaration` arriving as `received` bytes."""
    errors: tuple[ReceiptError, ...] = ()
    if not accepted:
        errors = (
            ReceiptError(
                code="12",
                field="goods_items.0.hs6",
                reason="commodity code not in the AHTN 2022 code list",
                original_value=declaration.goods_items[0].hs6 if declaration.goods_items else None,
            ),
        )
    return Receipt(
        message_id=uuid5(_SAMPLE_NAMESPACE, f"receipt:{declaration.message_id}"),
        referenced_message_id=declaration.message_id,
        received_sha256=hashlib.sha256(received).digest(),
        receiving_node="th-customs-bkk",
        status=ReceiptStatus.ACCEPTED if accepted else ReceiptStatus.REJECTED,
        issue_time=datetime(2025, 9, 15, 8, 31, 2, tzinfo=_BANGKOK),
        errors=errors,
    )
