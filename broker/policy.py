"""Data-sharing policy: per partner, an allow-list of canonical fields; the rest is withheld.

Only optional fields can be withheld (a declaration without its goods or reference is no
declaration). Fields that exist only as a pair (an amount and its currency, an identifier and its
scheme) are withheld together. What was withheld is returned and written into the declaration's
`extensions` under `WITHHELD_KEY`, so the recipient knows the gap is deliberate, not a loss.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from broker.model import Declaration, GoodsItem, Party, validate_declaration

WITHHELD_KEY: Final = "ilstc:policy/withheld"

_PARTY_FIELDS = ("identifier", "street", "city", "postcode")
_PARTIES = ("exporter", "importer", "declarant", "carrier")
_TOP_LEVEL = (
    "declaration_number",
    "exit_office",
    "exit_place",
    "entry_office",
    "entry_place",
    "total_gross_mass_kg",
    "total_package_count",
    "total_value",
    "invoice_amount",
    "incoterm",
    "consignment_ucr",
    "extensions",
)
_GOODS_FIELDS = (
    "tariff_line",
    "net_mass_kg",
    "gross_mass_kg",
    "value",
    "procedure_code",
    "preference",
    "package_count",
    "package_kind",
)
# Withholding the first also withholds the second (the model requires them together).
_PAIRED = {
    "identifier": "identifier_scheme",
    "value": "value_currency",
    "total_value": "total_value_currency",
    "invoice_amount": "invoice_currency",
    "incoterm": "incoterm_place",
}

WITHHOLDABLE: Final[frozenset[str]] = frozenset(
    [*_TOP_LEVEL, *_PARTIES, *(f"{p}.{f}" for p in _PARTIES for f in _PARTY_FIELDS)]
    + [f"goods_items.{f}" for f in _GOODS_FIELDS]
)


@dataclass(frozen=True)
class PolicyResult:
    declaration: Declaration
    withheld: tuple[str, ...]  # canonical paths that had a value and were not shared


def _allowed(path: str, allow: frozenset[str]) -> bool:
    """Allowed when it or a parent is on the list; a party stays when any part of it is."""
    parts = path.split(".")
    if any(".".join(parts[:i]) in allow for i in range(1, len(parts) + 1)):
        return True
    return any(entry.startswith(path + ".") for entry in allow)


def _blank(container: dict[str, Any], name: str) -> bool:
    """Remove `name` (and its pair); True when something was actually there."""
    had = container.get(name) not in (None, {}, ())
    empty: Any = {} if name == "extensions" else None
    container[name] = empty
    if name in _PAIRED:
        container[_PAIRED[name]] = None
    return had


def apply_policy(declaration: Declaration, allow_fields: Iterable[str] | None) -> PolicyResult:
    """The declaration as this partner may see it, and the list of what was withheld."""
    if allow_fields is None:
        return PolicyResult(declaration, ())
    allow = frozenset(allow_fields)
    data = declaration.model_dump()
    withheld: list[str] = []
    for path in sorted(WITHHOLDABLE):
        if _allowed(path, allow):
            continue
        head, _, tail = path.partition(".")
        if not tail:
            if _blank(data, head):
                withheld.append(path)
        elif head == "goods_items":
            hit = [_blank(item, tail) for item in data["goods_items"]]
            if any(hit):
                withheld.append(path)
        elif isinstance(data.get(head), dict) and _blank(data[head], tail):
            withheld.append(path)
    if withheld:
        extensions = dict(data.get("extensions") or {})
        extensions[WITHHELD_KEY] = ",".join(withheld)
        data["extensions"] = extensions
    return PolicyResult(validate_declaration(data), tuple(withheld))


def unknown_fields(allow_fields: Iterable[str]) -> list[str]:
    """Allow-list entries that name no canonical field (a typo would silently withhold data)."""
    known = (
        set(Declaration.model_fields)
        | {f"goods_items.{f}" for f in GoodsItem.model_fields}
        | {f"{p}.{f}" for p in _PARTIES for f in Party.model_fields}
    )
    return [f for f in allow_fields if f not in known]
