"""China customs units of measure (numeric, e.g. 035 kg) <-> UN/ECE Recommendation 20.

China declares quantities with the GACC numeric unit codes (计量单位代码); the canonical model uses
Rec 20. Only the units confirmed by public implementations are listed; a unit outside this table
is an error naming it, so a missing entry shows up as a clear rejection, never as a wrong unit.
The quantity itself is not converted: 070 (tonne) becomes TNE with the same number.
"""

from __future__ import annotations

from typing import Final

from broker.codes.table import CodeTable, read_only

SOURCE: Final = (
    "GACC customs parameter table 计量单位代码 as used by public single-window implementations "
    "(docs/domain.md §2); Rec 20 codes from UN/ECE Recommendation 20 Rev. 17"
)
VERSION: Final = "GACC 2018 No. 67 era table; entries marked [check] are unconfirmed"

CN_UNITS: Final = CodeTable[str](
    name="China customs unit code (计量单位代码)",
    source=SOURCE,
    version=VERSION,
    verified=False,  # docs/domain.md: check against the official GACC table
    to_canonical=read_only(
        {
            "001": "SET",  # 台 set (machines)
            "003": "NAR",  # 辆 vehicle: Rec 20 has no vehicle unit, number of articles [check]
            "007": "H87",  # 个 piece
            "011": "C62",  # 件 item; [check] NAR (number of articles) is the other candidate
            "025": "PR",  # 双 pair [check]
            "030": "MTR",  # 米 metre [check]
            "032": "MTK",  # 平方米 square metre [check]
            "033": "MTQ",  # 立方米 cubic metre
            "035": "KGM",  # 千克 kilogram
            "036": "GRM",  # 克 gram
            "070": "TNE",  # 吨 tonne (metric ton)
            "095": "LTR",  # 升 litre
            "096": "MLT",  # 毫升 millilitre [check]
        }
    ),
)
