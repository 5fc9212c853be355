"""China transaction terms (成交方式, TransMode) <-> Incoterms 2020.

China keeps five of the old trade terms as numbers. Codes 4 (C&I), 5 (market price) and 6
(垫仓) have no Incoterms 2020 equivalent: they are known but kept in `extensions`. Incoterms that
China does not list are written as the code its declaration filling rules group them under
(F terms as FOB, CPT with CFR, CIP and the D terms with CIF) and reported as an approximation.
"""

from __future__ import annotations

from typing import Final

from broker.codes.table import CodeTable, read_only
from broker.model import Incoterm

SOURCE: Final = (
    "GACC customs parameter table 成交方式代码 (docs/domain.md §2) and the Incoterms grouping of "
    "the GACC declaration filling specification (报关单填制规范); Incoterms 2020 (ICC)"
)
VERSION: Final = "GACC 2018 No. 67 era table; grouping of non-listed Incoterms is [check]"

CN_TRANSACTION_TERMS: Final = CodeTable[Incoterm](
    name="China transaction terms (成交方式代码)",
    source=SOURCE,
    version=VERSION,
    verified=False,
    to_canonical=read_only(
        {"1": Incoterm.CIF, "2": Incoterm.CFR, "3": Incoterm.FOB, "7": Incoterm.EXW}
    ),
    national_only=frozenset({"4", "5", "6"}),  # C&I, 市场价 market price, 垫仓
    nearest=read_only(
        {
            Incoterm.FCA: "3",
            Incoterm.FAS: "3",
            Incoterm.CPT: "2",
            Incoterm.CIP: "1",
            Incoterm.DAP: "1",
            Incoterm.DPU: "1",
            Incoterm.DDP: "1",
        }
    ),
)
