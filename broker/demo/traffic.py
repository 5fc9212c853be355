"""Realistic corridor traffic for the demo and the end-to-end benchmark (pure: models only).

Scenarios, each from the node whose national system would file it:
- CN-CQ: China-Laos-Thailand railway transit, Chongqing -> Vientiane -> Bangkok (to LA-VTE, TH-BKK)
- CN-CQ: "ASEAN Express" road freight Chongqing -> Hanoi via Pingxiang (to VN-HAN)
- VN-HAN: Vietnamese export by road to Chongqing via Huu Nghi / Pingxiang (to CN-CQ)
- TH-BKK: Thai durian export by rail Bangkok -> Vientiane -> Kunming (to LA-VTE, CN-CQ)
plus amendments (message function CHANGE) and cancellations of earlier Chongqing references
(the Thai declarations go to China too, whose single-window format carries originals only).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

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
    sender: str  # node id
    declaration: Declaration
    scenario: str


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


def corridor_traffic(run: str, count: int, now: datetime, lines: int = 5) -> Iterator[Planned]:
    """`count` declarations cycling through the scenarios; every 10th amends, every 25th cancels.

    `run` prefixes every reference (and so every message id): each run's traffic is new.
    """
    recent: list[Planned] = []  # originals from Chongqing, which later amends or cancels some
    for number in range(count):
        issued = now
        if number % 25 == 24 and recent:
            base = recent[-3] if len(recent) >= 3 else recent[-1]
            planned = Planned(base.sender, cancelled(base.declaration, issued), "cancellation")
        elif number % 10 == 9 and recent:
            base = recent[-1]
            planned = Planned(base.sender, amended(base.declaration, issued), "amendment")
        else:
            reference = f"{run}{number:05d}"
            scenario = number % 4
            if scenario in (0, 1):
                planned = Planned(
                    "CN-CQ", rail_transit(f"CQ{reference}", issued, lines), "rail transit CN-LA-TH"
                )
            elif scenario == 2:
                planned = Planned(
                    "CN-CQ", road_to_hanoi(f"CQ{reference}", issued, lines), "road CN-VN"
                )
            else:
                planned = Planned(
                    "TH-BKK", durian_to_kunming(f"BK{reference}", issued, lines), "rail TH-LA-CN"
                )
            if planned.sender == "CN-CQ":
                recent.append(planned)
        yield planned
