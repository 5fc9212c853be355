"""Crosswalk tables between national code lists and the canonical ones, each with its source.

One small module per table, each with `SOURCE` and `VERSION` constants; tables docs/domain.md marks
[check] say so (`verified=False`). A code missing from a table raises `UnknownCodeError` naming
the table; adapters collect it as a `Problem`, never pass an unknown code through.
"""

from broker.codes.table import CodeTable, UnknownCodeError

__all__ = ["CodeTable", "UnknownCodeError"]
