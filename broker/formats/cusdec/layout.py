"""How the canonical declaration sits in UN/EDIFACT CUSDEC segments, qualifier by qualifier.

One table for both directions: the reader builds its lookups from these constants and the
renderer writes from them. Qualifier codes come from the UNTDID code lists (1001, 1153, 3035,
3227, 5025, 6069, 6313, 2379, 1131, 8051); the ones not confirmed by a published source are
marked [check]. The segment layout is the same in the directories D.96B to D.16A that matter
here (the UNECE CUSDEC message in D.96B, D.97A, D.01B and D.16A; South Africa's SARS CUSDEC MIG
and EDI user manual as a published national implementation guide). Written layout:

    UNB UNH BGM+830|929|950+<LRN>+9|4|5|1  DTM+137:<local time+offset>:208
    LOC+22 declaring office, +42 exit office, +41 entry office, +9 loading, +11 discharge,
        +35 dispatch country, +49 transit countries, +36 destination country
    MEA+AAE+AAD+KGM:<total gross>  EQD+CN+<container>  SEL+<seal>
    RFF+AAE:<declaration number>  RFF+UCN:<UCR>  TDT+11++<Rec 19>+++++<means>::::<nationality>
    NAD+EX|IM|DT|CA  TOD+6++<Incoterm>  LOC+1+:::<named place>  CUX+2:<invoice currency>:4
    MOA+39:<invoice amount>  MOA+79:<total value>:<currency>
    UNS+D  then per goods item:
    LIN+<n>  CST++<procedure>:117:ZZZ  PIA+5+<HS6>:HS  PIA+1+<national line>:HS
    FTX+AAA+++<description>  FTX+PRD+++<specification>  LOC+27+<origin>  QTY+47:<qty>:<Rec 20>
    MEA+AAE+AAL+KGM:<net>  MEA+AAE+AAB+KGM:<gross>  MOA+38:<value>:<currency>
    PAC+<packages>++<Rec 21>  DOC+864:::<agreement>+<certificate>
    UNS+S  CNT+5:<goods items>  CNT+11:<packages>  UNT  UNZ
    then every kept segment (see below) at the end of its part.

Read besides (tolerant reader): goods items opened by `CST` as implementation guides write
them (SARS: `CST+1+940161009:108:ZZZ+100`), commodity codes in `PIA`, `GIR` or `CST` (code
list 108 tariff schedule, or a bare number as in CUSCAR's `CST++630411000`), every `NAD`
role with a fallback (CZ consignor for the exporter, CN consignee for the importer, AE
declarant's representative for the declarant), `TDT` stages 11 (at border), else 20 (main
carriage), 12, 13; `DTM` formats 102, 203, 204 (local time of the declaring office's country,
with a warning), 205, 208, 303, 304 (UTC/GMT zone); several messages per interchange. Any
other segment or qualifier is kept whole in `extensions` (`cusdec:LOC#1`, `cusdec:item[3]/TAX#1`)
with a warning, and written back when rendering CUSDEC.
"""

from __future__ import annotations

from typing import Final

from broker.model import DeclarationKind

FORMAT_ID: Final = "cusdec"
EXTENSION_PREFIX: Final = f"{FORMAT_ID}:"
MESSAGE_TYPE: Final = ("CUSDEC", "D", "96B", "UN")
# Directory releases whose CUSDEC segments this layout has been checked against; another
# D release is read the same way with a warning.
CHECKED_RELEASES: Final = ("96B", "97A", "98B", "99B", "00B", "01B", "03B", "07B", "12A", "16A")

# BGM C002/1001 document name code (UNTDID 1001).
DOCUMENT_CODES: Final = {
    DeclarationKind.EXPORT: "830",  # goods declaration for exportation
    DeclarationKind.IMPORT: "929",  # goods declaration for importation
    DeclarationKind.TRANSIT: "950",  # goods declaration for customs transit
}

# Header parts the reader knows (UNS+D starts the goods items, UNS+S the summary).
DETAIL_SECTION: Final = "D"
SUMMARY_SECTION: Final = "S"

# LOC 3227 qualifiers of header places: canonical field -> qualifier.
OFFICE_LOCATIONS: Final = {
    "declaring_office": "22",  # customs clearance location [check]
    "exit_office": "42",  # consignment exit customs office [check]
    "entry_office": "41",  # consignment entry customs office [check]
    "exit_place": "9",  # place of loading
    "entry_place": "11",  # place of discharge
}
DISPATCH_COUNTRY: Final = "35"  # exportation country (docs/domain.md: LOC+35)
TRANSIT_COUNTRY: Final = "49"  # transit country [check]
DESTINATION_COUNTRY: Final = "36"  # country of ultimate destination (docs/domain.md: LOC+36)
TERMS_PLACE: Final = "1"  # place of terms of delivery
ORIGIN_COUNTRY: Final = "27"  # country of origin (goods item)

# RFF 1153 qualifiers.
REFERENCES: Final = {"declaration_number": "AAE", "consignment_ucr": "UCN"}  # UCN [check]

# NAD 3035 party qualifiers (written), and the ones read when the first is absent.
PARTIES: Final = {
    "exporter": "EX",
    "importer": "IM",
    "declarant": "DT",
    "carrier": "CA",
}  # DT [check]
PARTY_FALLBACKS: Final = {
    "CZ": "exporter",  # consignor
    "CN": "importer",  # consignee
    "AE": "declarant",  # declarant's agent/representative
}
# The scheme given to a party identifier with no code list.
NO_SCHEME: Final = "UNSPECIFIED"

# MEA 6311 purpose AAE (measurement) + 6313 dimension; masses in kg.
MEASURE_PURPOSE: Final = "AAE"
TOTAL_GROSS: Final = "AAD"  # consignment gross weight
TOTAL_GROSS_DIMENSIONS: Final = (TOTAL_GROSS, "G")  # read also: G gross weight [check]
ITEM_NET: Final = "AAL"  # net weight [check]
ITEM_GROSS: Final = "AAB"  # goods item gross weight [check]
ITEM_GROSS_DIMENSIONS: Final = (ITEM_GROSS, "G")  # read also: G gross weight [check]

# MOA 5025 qualifiers.
INVOICE_AMOUNT: Final = "39"  # invoice total amount (docs/domain.md: MOA+39)
TOTAL_VALUE: Final = "79"  # total line items amount [check]
ITEM_VALUE: Final = "38"  # invoice item amount [check]

DATE_QUALIFIER: Final = "137"  # document/message date/time
ISSUE_DATE_FALLBACKS: Final = ("182", "3")  # issue date, invoice date [check]
WRITTEN_DATE_FORMAT: Final = "208"  # CCYYMMDDHHMMSSZHHMM (directories D.12A+ name it) [check]

TRANSPORT_STAGE: Final = "11"  # TDT 8051: at border
# Stages read when there is no TDT+11, best first: main carriage, pre-carriage, on-carriage.
TRANSPORT_STAGE_FALLBACKS: Final = ("20", "12", "13", "10", "1")
TERMS_FUNCTION: Final = "6"  # TOD 4055: delivery condition [check]
INVOICE_CURRENCY: Final = ("2", "4")  # CUX 6347 reference currency, 6343 invoicing currency
QUANTITY_QUALIFIER: Final = "47"  # QTY 6063 invoiced quantity [check]
DESCRIPTION_TEXT: Final = "AAA"  # FTX 4451 goods description
SPECIFICATION_TEXT: Final = "PRD"  # FTX 4451 product information [check]
HS_SUBHEADING: Final = "5"  # PIA 4347 product identification
NATIONAL_LINE: Final = "1"  # PIA 4347 additional identification
PROCEDURE_LIST: Final = ("117", "ZZZ")  # CST customs procedure code list, mutually defined (SARS)
TARIFF_LISTS: Final = ("108",)  # CST 1131 tariff schedule (SARS MIG: CST+1+940161009:108:ZZZ)
COMMODITY_TYPES: Final = ("HS",)  # PIA / GIR item type: Harmonized System
MEASURE_PURPOSES: Final = ("AAE", "WT")  # MEA 6311 measurement; WT weight (later directories)
PREFERENCE_DOCUMENT: Final = "864"  # DOC 1001 preference certificate of origin
ITEM_COUNT: Final = "5"  # CNT 6069 number of customs item detail lines
PACKAGE_COUNT: Final = "11"  # CNT 6069 total number of packages
CONTAINER_EQUIPMENT: Final = "CN"  # EQD 8053 container

# UN/EDIFACT element lengths the directory repeats components for: names 5 x 35, street 4 x 35,
# free text 5 x 512. Longer text continues in further components rather than being cut.
NAME_CHUNK: Final = 35
TEXT_CHUNK: Final = 512

CAPABILITIES: Final = frozenset(
    {
        "functional_reference", "declaration_number", "kind", "function", "issue_time",
        "issue_time_offset_minutes", "declaring_office", "exit_office", "exit_place",
        "entry_office", "entry_place", "itinerary", "transport.mode", "transport.means_identity",
        "transport.nationality", "transport.containers", "transport.seals",
        *(f"{role}.{field}" for role in PARTIES for field in (
            "name", "identifier", "identifier_scheme", "street", "city", "postcode", "country")),
        *(f"goods_items.*.{field}" for field in (
            "line_number", "hs6", "tariff_line", "description", "specification",
            "origin_country", "quantity",
            "quantity_unit", "net_mass_kg", "gross_mass_kg", "value", "value_currency",
            "procedure_code", "preference.agreement", "preference.certificate_number",
            "package_count", "package_kind")),
        "total_gross_mass_kg", "total_package_count", "total_value", "total_value_currency",
        "invoice_amount", "invoice_currency", "incoterm", "incoterm_place", "consignment_ucr",
        "extensions",
    }
)  # fmt: skip
