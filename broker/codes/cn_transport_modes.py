"""China transport mode (运输方式, TrafMode) <-> UN/ECE Recommendation 19.

The two lists share digits but not meanings: China 2 is waterway where Rec 19 2 is rail, China 3
is rail where Rec 19 3 is road. Rec 19 inland water and multimodal have no China code of their own
and are written as the nearest one (2 waterway, 9 other); the adapter reports that as a loss.
China's special-zone movement codes (0, 1, 7, 8, W, X, Y, Z ...) are not transport modes in the
Rec 19 sense and are not in this table, so a declaration using them is rejected with a clear error.
"""

from __future__ import annotations

from typing import Final

from broker.codes.table import CodeTable, read_only
from broker.model import TransportMode

SOURCE: Final = (
    "GACC customs parameter table 运输方式代码 as used by public single-window implementations "
    "(docs/domain.md §2); UN/ECE Recommendation 19 (Code for Modes of Transport)"
)
VERSION: Final = "GACC 2018 No. 67 era table; Rec 19 Rev. 2; H and 9 mappings are [check]"

CN_TRANSPORT_MODES: Final = CodeTable[TransportMode](
    name="China transport mode (运输方式代码)",
    source=SOURCE,
    version=VERSION,
    verified=False,
    to_canonical=read_only(
        {
            "2": TransportMode.MARITIME,  # 水路运输 waterway
            "3": TransportMode.RAIL,  # 铁路运输
            "4": TransportMode.ROAD,  # 公路运输
            "5": TransportMode.AIR,  # 航空运输
            "6": TransportMode.MAIL,  # 邮件运输
            "9": TransportMode.NOT_SPECIFIED,  # 其他运输 other [check]
            "G": TransportMode.FIXED_INSTALLATION,  # 固定设施运输 (pipelines, power lines)
            "H": TransportMode.NOT_APPLICABLE,  # 边境特殊海关作业区 [check]
        }
    ),
    # Movements into, out of and between China's special customs areas (bonded zones, bonded
    # warehouses, logistics centres/parks, bonded ports, export processing zones): no Rec 19
    # mode; read as NOT_SPECIFIED with the code kept [check].
    national_only=frozenset({"0", "1", "7", "8", "W", "X", "Y", "Z"}),
    nearest=read_only({TransportMode.INLAND_WATER: "2", TransportMode.MULTIMODAL: "9"}),
)
