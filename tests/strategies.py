"""Hypothesis strategies for valid canonical models, shared by the model, codec and format tests.

Every strategy yields values the model accepts: text in the corridor's scripts (Chinese, Thai,
Lao, Burmese, Vietnamese, Kazakh Cyrillic), decimals up to the limits of their Avro types, UTC
offsets such as Myanmar's +06:30, totals that add up. Format adapters can narrow them (a format
without a field: `declarations().map(lambda d: d.model_copy(update=...))`).
"""

from __future__ import annotations

import string
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from broker.model import (
    Declaration,
    DeclarationKind,
    GoodsItem,
    Incoterm,
    MessageFunction,
    Party,
    PreferenceAgreement,
    PreferenceClaim,
    Receipt,
    ReceiptError,
    ReceiptStatus,
    Transport,
    TransportMode,
)
from broker.model.types import (
    MAX_UTC_OFFSET_MINUTES,
    MONEY_PRECISION,
    MONEY_SCALE,
    QUANTITY_PRECISION,
    QUANTITY_SCALE,
    country_codes,
    currency_codes,
)

CORRIDOR_WORDS = (
    "重庆",
    "中老铁路",
    "笔记本电脑",
    "ประเทศไทย",
    "กรุงเทพมหานคร",
    "ລາວ",
    "ນະຄອນຫຼວງວຽງຈັນ",
    "မြန်မာ",
    "ရန်ကုန်",
    "Tiếng Việt",
    "Hải Phòng",
    "Қазақстан",
    "Kuala Lumpur",
)
"""Real words in each script of the corridor (Burmese and Thai use combining marks)."""

# Blocks: CJK unified ideographs, Thai, Lao, Myanmar, Vietnamese letters with diacritics.
_SCRIPT_BLOCKS = ((0x4E00, 0x9FFF), (0x0E01, 0x0E5B), (0x0E81, 0x0EDF), (0x1000, 0x109F))
_VIETNAMESE = "ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"

MAX_QUANTITY = Decimal(10 ** (QUANTITY_PRECISION - QUANTITY_SCALE)) - Decimal(1).scaleb(
    -QUANTITY_SCALE
)
MAX_MONEY = Decimal(10 ** (MONEY_PRECISION - MONEY_SCALE)) - Decimal(1).scaleb(-MONEY_SCALE)
CORRIDOR_OFFSETS = (480, 420, 390, 300, 0)
"""China/Malaysia/Singapore/Brunei +08:00, Indochina +07:00, Myanmar +06:30, Kazakhstan +05:00."""


def _script_characters() -> st.SearchStrategy[str]:
    blocks = [st.characters(min_codepoint=lo, max_codepoint=hi) for lo, hi in _SCRIPT_BLOCKS]
    return st.one_of(
        *blocks,
        st.sampled_from(_VIETNAMESE + string.ascii_letters + string.digits + " -,./"),
    )


def corridor_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Non-empty text in the corridor's scripts: real words, generated runs, or any Unicode."""
    return st.one_of(
        st.sampled_from(CORRIDOR_WORDS),
        st.text(_script_characters(), min_size=1, max_size=max_size),
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=max_size),
    )


def references(max_size: int = 35) -> st.SearchStrategy[str]:
    """Reference numbers and codes (LRN, office code, certificate number, seal)."""
    return st.text(string.ascii_uppercase + string.digits + "-/", min_size=1, max_size=max_size)


def countries() -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(country_codes()))


def currencies() -> st.SearchStrategy[str]:
    return st.sampled_from(sorted(currency_codes()))


def locodes() -> st.SearchStrategy[str]:
    return st.builds(
        lambda country, place: country + place,
        countries(),
        st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZ23456789", min_size=3, max_size=3),
    )


def utc_offsets() -> st.SearchStrategy[int]:
    """Minutes east of UTC: the corridor's own, or any allowed."""
    return st.one_of(
        st.sampled_from(CORRIDOR_OFFSETS),
        st.integers(-MAX_UTC_OFFSET_MINUTES, MAX_UTC_OFFSET_MINUTES),
    )


def issue_times() -> st.SearchStrategy[datetime]:
    """Aware UTC instants with microseconds, 1970-2200."""
    return st.datetimes(
        min_value=datetime(1970, 1, 2, tzinfo=UTC).replace(tzinfo=None),
        max_value=datetime(2200, 1, 1, tzinfo=UTC).replace(tzinfo=None),
        timezones=st.just(UTC),
    )


def quantities(max_value: Decimal = MAX_QUANTITY) -> st.SearchStrategy[Decimal]:
    return st.decimals(
        min_value=Decimal(1).scaleb(-QUANTITY_SCALE), max_value=max_value, places=QUANTITY_SCALE
    )


def masses(min_value: Decimal = Decimal(0)) -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=min_value, max_value=MAX_QUANTITY, places=QUANTITY_SCALE)


def money() -> st.SearchStrategy[Decimal]:
    return st.decimals(min_value=Decimal(0), max_value=MAX_MONEY, places=MONEY_SCALE)


def hs6_codes() -> st.SearchStrategy[str]:
    chapters = [f"{n:02d}" for n in range(1, 98) if n != 77]
    return st.builds(
        str.__add__, st.sampled_from(chapters), st.text(string.digits, min_size=4, max_size=4)
    )


def parties() -> st.SearchStrategy[Party]:
    identified = st.tuples(references(18), st.sampled_from(["CN-USCC", "TH-TIN", "LA-TIN", "AEO"]))
    return st.builds(
        lambda name, ident, street, city, postcode, country: Party(
            name=name,
            identifier=ident[0] if ident else None,
            identifier_scheme=ident[1] if ident else None,
            street=street,
            city=city,
            postcode=postcode,
            country=country,
        ),
        corridor_text(),
        st.none() | identified,
        st.none() | corridor_text(),
        st.none() | corridor_text(20),
        st.none() | st.text(string.digits, min_size=1, max_size=10),
        st.none() | countries(),
    )


def transports() -> st.SearchStrategy[Transport]:
    return st.builds(
        Transport,
        mode=st.sampled_from(TransportMode),
        means_identity=st.none() | references(),
        nationality=st.none() | countries(),
        containers=st.lists(st.from_regex(r"[A-Z]{4}[0-9]{7}", fullmatch=True), max_size=3).map(
            tuple
        ),
        seals=st.lists(references(), max_size=3).map(tuple),
    )


@st.composite
def goods_items(draw: st.DrawFn, line_number: int | None = None) -> GoodsItem:
    """A consistent goods line: gross mass not below net, value with its currency."""
    hs6 = draw(hs6_codes())
    net = draw(st.none() | masses())
    gross = draw(st.none() | masses(min_value=net if net is not None else Decimal(0)))
    value = draw(st.none() | money())
    return GoodsItem(
        line_number=line_number if line_number is not None else draw(st.integers(1, 99_999)),
        hs6=hs6,
        tariff_line=draw(st.none() | st.text(string.digits, max_size=7).map(hs6.__add__)),
        description=draw(corridor_text(80)),
        specification=draw(st.none() | corridor_text(60)),
        origin_country=draw(countries()),
        quantity=draw(quantities()),
        quantity_unit=draw(st.sampled_from(["KGM", "TNE", "LTR", "MTK", "H87", "C62", "SET"])),
        net_mass_kg=net,
        gross_mass_kg=gross,
        value=value,
        value_currency=draw(currencies()) if value is not None else None,
        procedure_code=draw(st.none() | st.sampled_from(["0110", "4019", "9610", "4000"])),
        preference=draw(
            st.none()
            | st.builds(
                PreferenceClaim,
                agreement=st.sampled_from(PreferenceAgreement),
                certificate_number=references(),
            )
        ),
        package_count=draw(st.none() | st.integers(0, 2**31 - 1)),
        package_kind=draw(st.none() | st.sampled_from(["CT", "PK", "PX", "BX", "VQ"])),
    )


def _total_if_representable(parts: list[Any], limit: Decimal | int) -> Any:
    """The sum of `parts` when every part is known and the sum fits its field, else None."""
    if not parts or None in parts:
        return None
    total = sum(parts)
    return total if total <= limit else None


@st.composite
def declarations(draw: st.DrawFn, max_items: int = 4) -> Declaration:
    """A valid declaration with up to `max_items` goods lines; totals, when given, add up."""
    function = draw(st.sampled_from(MessageFunction))
    min_items = 0 if function is MessageFunction.CANCELLATION else 1
    count = draw(st.integers(min_items, max_items))
    numbers = draw(st.lists(st.integers(1, 99_999), min_size=count, max_size=count, unique=True))
    items = tuple(draw(goods_items(line_number=number)) for number in numbers)
    currency = items[0].value_currency if items else None
    offset = draw(utc_offsets())
    with_totals = draw(st.booleans())
    total_value = (
        _total_if_representable(
            [item.value if item.value_currency == currency else None for item in items], MAX_MONEY
        )
        if with_totals
        else None
    )
    invoice = draw(st.none() | st.tuples(money(), currencies()))
    incoterm = draw(st.none() | st.sampled_from(Incoterm))
    return Declaration(
        message_id=draw(st.uuids()),
        functional_reference=draw(references(22)),
        declaration_number=draw(st.none() | st.text(string.digits, min_size=18, max_size=18)),
        kind=draw(st.sampled_from(DeclarationKind)),
        function=function,
        issue_time=draw(issue_times()).astimezone(timezone(timedelta(minutes=offset))),
        issue_time_offset_minutes=offset,
        declaring_office=draw(references(8)),
        exit_office=draw(st.none() | references(8)),
        exit_place=draw(st.none() | locodes()),
        entry_office=draw(st.none() | references(8)),
        entry_place=draw(st.none() | locodes()),
        itinerary=tuple(draw(st.lists(countries(), max_size=4))),
        transport=draw(transports()),
        exporter=draw(st.none() | parties()),
        importer=draw(st.none() | parties()),
        declarant=draw(st.none() | parties()),
        carrier=draw(st.none() | parties()),
        goods_items=items,
        total_gross_mass_kg=(
            _total_if_representable([i.gross_mass_kg for i in items], MAX_QUANTITY)
            if with_totals
            else None
        ),
        total_package_count=(
            _total_if_representable([i.package_count for i in items], 2**31 - 1)
            if with_totals
            else None
        ),
        total_value=total_value,
        total_value_currency=currency if total_value is not None else None,
        invoice_amount=invoice[0] if invoice else None,
        invoice_currency=invoice[1] if invoice else None,
        incoterm=incoterm,
        incoterm_place=draw(corridor_text(30)) if incoterm is not None else None,
        consignment_ucr=draw(st.none() | references()),
        extensions=draw(
            st.dictionaries(
                st.from_regex(r"[a-z][a-z0-9-]{0,8}:[A-Za-z][A-Za-z/]{0,20}", fullmatch=True),
                st.just("") | corridor_text(),
                max_size=3,
            )
        ),
    )


@st.composite
def receipts(draw: st.DrawFn) -> Receipt:
    status = draw(st.sampled_from(ReceiptStatus))
    errors = draw(
        st.lists(
            st.builds(
                ReceiptError,
                code=st.sampled_from(["12", "13", "14", "15", "26", "SIG-BAD"]),
                field=st.none() | st.sampled_from(["goods_items.0.hs6", "DecHead/IEDate"]),
                reason=corridor_text(),
                original_value=st.none() | corridor_text(),
            ),
            min_size=1 if status is ReceiptStatus.REJECTED else 0,
            max_size=3,
        )
    )
    return Receipt(
        message_id=draw(st.uuids()),
        referenced_message_id=draw(st.uuids()),
        received_sha256=draw(st.binary(min_size=32, max_size=32)),
        receiving_node=draw(references()),
        status=status,
        issue_time=draw(issue_times()),
        errors=tuple(errors),
    )
