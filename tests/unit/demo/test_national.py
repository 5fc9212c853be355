"""The demo's national documents: real-shaped, read by their formats' readers as sent.

Each generator's document is read with no error, only the warnings its real shape calls for
(an empty PreEntryId/IEDate, a China port code, a kept CST, the items a WCO declaration was
not written to carry), and with the references, goods lines and Decimal values put in. The
demo's traffic holds such documents for every node with a national shape, and each routes to
partners whose formats can render it (what the receiving nodes do before acknowledging).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from broker.demo import national
from broker.demo.national import NationalDocument
from broker.demo.setup import demo_directory
from broker.demo.traffic import corridor_traffic, meeting_traffic
from broker.directory.load import load_corridor
from broker.formats import default_registry
from broker.model import Declaration, DeclarationKind, TransportMode
from broker.routing import route, with_known_itinerary

REGISTRY = default_registry()
ISSUED = datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC)


def china(number: int = 3, lines: int = 3) -> NationalDocument:
    return national.cn_export(
        national.CHONGQING, f"CQDEMO{number:05d}", ISSUED, number, lines,
        destination="THBKK", trade_country="THA", consignee="บริษัท ไทย นำเข้า จำกัด",
        mode="RAIL", means="X8205",
    )  # fmt: skip


def vietnam(number: int = 4, lines: int = 3) -> NationalDocument:
    return national.cusdec_export(
        national.LANG_SON_TO_PHNOM_PENH, f"VNDEMO{number:05d}", ISSUED, number, lines,
        office="VN01PK", loading="VNHAN", discharge="KHPNH", means="29C-12345",
    )  # fmt: skip


def thailand(number: int = 5, lines: int = 3) -> NationalDocument:
    return national.wco_export(
        national.DURIAN_TO_KUNMING, f"BKDEMO{number:05d}", ISSUED, number, lines,
        office="TH010", exit_office="TH010", loading="THBKK", discharge="CNKMG", mode="RAIL",
        means="TH-FRT-3012",
    )  # fmt: skip


def read(document: NationalDocument) -> tuple[Declaration, Counter[str]]:
    reading = REGISTRY.get(document.fmt).read(document.data, source="demo")
    assert len(reading.declarations) == 1
    assert all(w.location for w in reading.warnings)
    return reading.declarations[0], Counter(w.code for w in reading.warnings)


def assert_lines(declaration: Declaration, document: NationalDocument, currency: str) -> None:
    assert len(declaration.goods_items) == len(document.lines)
    for item, line in zip(declaration.goods_items, document.lines, strict=True):
        assert item.line_number == line.number
        assert item.tariff_line == line.goods.tariff_line
        assert item.hs6 == line.goods.tariff_line[:6]
        assert item.description == line.goods.description
        assert item.quantity == line.quantity
        assert item.value == line.value
        assert isinstance(item.value, Decimal)
        assert item.value_currency == currency


def test_china_pre_acceptance_xml_reads_with_the_reference_from_client_seq_no() -> None:
    document = china()
    text = document.data.decode("utf-8")
    for empty in ("<PreEntryId/>", "<EntryId/>", "<IEDate/>", "<SeqNo/>"):
        assert empty in text
    assert "<GName>笔记本电脑</GName>" in text or "<GName>绿茶</GName>" in text
    declaration, warnings = read(document)
    assert warnings == Counter({"reference_fallback": 1, "time_fallback": 1, "not_a_locode": 1})
    assert declaration.functional_reference == document.reference
    assert declaration.extensions["cn-swxml:DecSign/ClientSeqNo"] == document.reference
    assert declaration.declaration_number is None
    assert declaration.issue_time == ISSUED
    assert declaration.issue_time_offset_minutes == 480
    assert declaration.kind is DeclarationKind.EXPORT
    assert declaration.entry_place == "THBKK"
    assert declaration.transport.mode is TransportMode.RAIL
    assert declaration.exporter is not None
    assert declaration.exporter.name == "重庆渝新欧国际贸易有限公司"
    assert declaration.importer is not None
    assert declaration.importer.name == "บริษัท ไทย นำเข้า จำกัด"
    assert_lines(declaration, document, "CNY")
    assert {item.procedure_code for item in declaration.goods_items} == {"0110"}


def test_vietnam_cusdec_items_opened_by_cst() -> None:
    document = vietnam()
    segments = document.data.decode("utf-8").split("'\r\n")
    assert "LIN" not in {segment[:3] for segment in segments}
    assert sum(segment.startswith("CST+") for segment in segments) == len(document.lines) + 1
    assert "CST++A:117:ZZZ" in segments
    declaration, warnings = read(document)
    assert warnings == Counter({"kept_segment": 1})  # the header CST
    assert declaration.extensions["cusdec:CST#1"] == "CST++A:117:ZZZ"
    assert declaration.functional_reference == document.reference
    assert declaration.issue_time == ISSUED
    assert declaration.issue_time_offset_minutes == 420
    assert declaration.kind is DeclarationKind.EXPORT
    assert (declaration.exit_place, declaration.entry_place) == ("VNHAN", "KHPNH")
    assert declaration.exporter is not None
    assert declaration.exporter.name == "Công ty TNHH Thương mại Lạng Sơn"
    assert declaration.importer is not None
    assert declaration.importer.name == "ក្រុមហ៊ុន អង្ករកម្ពុជា នាំចេញ"
    assert declaration.importer.country == "KH"
    assert_lines(declaration, document, "VND")
    assert {item.quantity_unit for item in declaration.goods_items} == {"KGM"}


def test_thai_wco_data_model_declaration() -> None:
    document = thailand()
    assert b'<MetaData xmlns="urn:wco:datamodel:WCO:DocumentMetaData-DMS:2">' in document.data
    declaration, warnings = read(document)
    # Not written as an ACDD: the declarant's name and the permit number are not there, and
    # TypeCode / GoodsItemQuantity have no canonical field.
    assert warnings == Counter({"kept_element": 2, "guessed": 1, "mandatory_missing": 1})
    assert declaration.functional_reference == document.reference
    assert declaration.extensions["acdd-xml:wco-metadata/WCODataModelVersionCode"] == "3.6"
    assert declaration.issue_time == ISSUED
    assert declaration.issue_time_offset_minutes == 420
    assert declaration.kind is DeclarationKind.EXPORT
    assert (declaration.exit_place, declaration.entry_place) == ("THBKK", "CNKMG")
    assert declaration.transport.mode is TransportMode.RAIL
    assert declaration.exporter is not None
    assert declaration.exporter.name == "บริษัท ทุเรียนไทย ส่งออก จำกัด"
    assert declaration.importer is not None
    assert declaration.importer.name == "云南瑞丽果业进口有限公司"
    assert declaration.importer.country == "CN"
    assert_lines(declaration, document, "THB")
    for item, line in zip(declaration.goods_items, document.lines, strict=True):
        assert item.net_mass_kg == line.quantity
        assert item.procedure_code == "1000"
        assert item.origin_country == "TH"


@pytest.mark.parametrize("make", [china, vietnam, thailand], ids=["cn", "cusdec", "wco"])
def test_references_quantities_and_values_vary(make: object) -> None:
    assert callable(make)
    first, second = make(number=1, lines=4), make(number=2, lines=4)
    assert first.data != second.data
    assert first.reference != second.reference
    assert [line.quantity for line in first.lines] != [line.quantity for line in second.lines]
    assert len(first.lines) == 4


def test_the_demo_traffic_sends_national_documents_its_partners_can_take() -> None:
    corridor = load_corridor(demo_directory())
    formats = {member.node_id: member.format for member in corridor.members}
    planned = [
        *corridor_traffic("T1", 40, ISSUED, lines=3),
        *meeting_traffic("T1", 2, ISSUED, lines=3),
    ]
    documents = [plan for plan in planned if plan.document is not None]
    senders = {plan.sender: plan.document.fmt for plan in documents if plan.document}
    assert senders == {
        "CN-CQ": "cn-swxml", "CN-ZJ": "cn-swxml", "CN-NN": "cn-swxml", "CN-URC": "cn-swxml",
        "CN-XA": "cn-swxml", "VN-HAN": "cusdec", "TH-BKK": "acdd-xml", "BN-BWN": "acdd-xml",
        "KH-PNH": "acdd-xml", "LA-VTE": "acdd-xml", "MY-KUL": "acdd-xml", "MM-RGN": "acdd-xml",
        "SG-SIN": "acdd-xml",
    }  # fmt: skip
    # Only part of it: every such node also sends declarations rendered from the model.
    assert {p.sender for p in planned if p.declaration is not None} >= set(senders)
    for plan in documents:
        assert plan.document is not None
        assert formats[plan.sender] == plan.document.fmt  # the node's own format
        declaration = REGISTRY.get(plan.document.fmt).parse(plan.document.data)
        declaration = with_known_itinerary(
            declaration, plan.sender[:2], corridor.transit_routes_of(plan.sender)
        )
        recipients = route(declaration, plan.sender[:2], corridor.partners_of(plan.sender))
        assert recipients.recipients, plan.scenario
        assert not recipients.unserved_countries, plan.scenario
        for partner in recipients.recipients:
            fmt = formats[partner.node_id]
            REGISTRY.get(fmt).render(declaration, require_mandatory=False)
        # Read with only the warnings of its real shape, never an unknown element.
        reading = REGISTRY.get(plan.document.fmt).read(plan.document.data)
        assert {w.code for w in reading.warnings} <= EXPECTED_WARNINGS[plan.document.fmt]


EXPECTED_WARNINGS = {
    "cn-swxml": {"reference_fallback", "time_fallback", "not_a_locode"},
    "cusdec": {"kept_segment"},
    "acdd-xml": {"kept_element", "guessed", "mandatory_missing"},
}


def test_a_wco_declaration_from_yangon_keeps_its_half_hour_offset() -> None:
    parties = national.WcoParties(
        "မြန်မာ ပို့ကုန် ကုမ္ပဏီ လီမိတက်", "MM12345", "Trade Park 7", "ရန်ကုန်", "",
        "云南瑞丽边境贸易有限公司", "", "", "CN", "MM67890", country="MM", zone="Asia/Yangon",
        agency="Myanmar Customs Department",
    )  # fmt: skip
    document = national.wco_export(
        parties, "MMDEMO00001", ISSUED, 1, 2, office="MM0101", exit_office="MM0101",
        loading=None, discharge="CNKMG", mode="ROAD", means="YGN-4B/2291", currency="USD",
        goods=national.ASEAN_GOODS["MM"],
    )  # fmt: skip
    assert b'formatCode="304">20261201163005+0630<' in document.data
    declaration, warnings = read(document)
    assert set(warnings) <= EXPECTED_WARNINGS["acdd-xml"]
    assert declaration.issue_time == ISSUED
    assert declaration.issue_time_offset_minutes == 390
    assert declaration.exporter is not None
    assert declaration.exporter.name == "မြန်မာ ပို့ကုန် ကုမ္ပဏီ လီမိတက်"
    assert declaration.exporter.country == "MM"
    assert declaration.transport.mode is TransportMode.ROAD
    assert_lines(declaration, document, "USD")
    assert {item.origin_country for item in declaration.goods_items} == {"MM"}


def test_the_demo_package_does_not_read_the_test_corpus() -> None:
    package = Path(national.__file__).parent
    for source in package.glob("*.py"):
        text = source.read_text("utf-8")
        for use in ("from tests", "import tests", '"tests', "'tests", "data/real"):
            assert use not in text.replace("`tests/data/real/`", ""), (source.name, use)
