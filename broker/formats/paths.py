"""Canonical field paths: what a declaration fills, what a format carries, what would be lost.

A concrete path names one filled leaf (`goods_items.3.net_mass_kg`, `extensions.cn-swxml:DecHead/
ManualNo`); its pattern (`goods_items.*.net_mass_kg`, `extensions`) is what an adapter lists in
`capabilities`. Lists of scalars (itinerary, containers, seals) are one leaf each.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator, Mapping, Sized
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Final
from uuid import UUID

from pydantic import BaseModel

from broker.errors import Problem
from broker.formats.base import Loss, LossReport, loss_report, pattern_of
from broker.model import Declaration


def canonical_field_patterns() -> tuple[str, ...]:
    """Every leaf field pattern of the canonical model, in model order (read from the model)."""
    return tuple(_patterns(Declaration, ""))


def _patterns(model: type[BaseModel], prefix: str) -> Iterator[str]:
    for name, info in model.model_fields.items():
        inner = _model_inside(info.annotation)
        if inner is None:
            yield f"{prefix}{name}"
        else:
            nested, repeated = inner
            yield from _patterns(nested, f"{prefix}{name}.*." if repeated else f"{prefix}{name}.")


def _model_inside(annotation: Any) -> tuple[type[BaseModel], bool] | None:
    """The model type a field holds (`Party | None`, `tuple[GoodsItem, ...]`), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        found = _model_inside(args[0])
        return (found[0], True) if found else None
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _model_inside(arg)
            if found:
                return found
    return None


def field_values(declaration: Declaration) -> dict[str, Any]:
    """Concrete path -> value of every filled leaf (None, empty lists and maps are not filled)."""
    return flatten(declaration.model_dump())


def flatten(data: Mapping[str, Any]) -> dict[str, Any]:
    """Concrete path -> value of the filled leaves of declaration-shaped data (model or dict)."""
    values: dict[str, Any] = {}
    _collect(data, "", values)
    return values


# Leaves `model_dump` gives, told apart by concrete type first: isinstance against the
# `Sized`/`Mapping` ABCs costs a Python-level call each, and this runs for every value of every
# render. Anything else still goes through the ABCs.
_SCALARS: Final = (Decimal, int, float, datetime, date, time, UUID)


def _collect(data: Mapping[str, Any], prefix: str, into: dict[str, Any]) -> None:
    for key, value in data.items():
        if value is None:
            continue
        if isinstance(value, str):
            if value:
                into[f"{prefix}{key}"] = value
        elif isinstance(value, _SCALARS):
            into[f"{prefix}{key}"] = value
        elif isinstance(value, (dict, list, tuple, Sized)):
            if len(value):
                _collect_container(value, f"{prefix}{key}", into)
        else:
            into[f"{prefix}{key}"] = value


def _collect_container(value: Any, path: str, into: dict[str, Any]) -> None:
    if path == "extensions":
        into.update({f"extensions.{name}": text for name, text in value.items()})
    elif isinstance(value, dict | Mapping):
        _collect(value, f"{path}.", into)
    elif isinstance(value, list | tuple) and isinstance(value[0], dict | Mapping):
        for index, item in enumerate(value):
            _collect(item, f"{path}.{index}.", into)
    else:
        into[path] = tuple(value) if isinstance(value, list) else value


def restrict(declaration: Declaration, capabilities: frozenset[str]) -> dict[str, Any]:
    """The filled leaves of `declaration` that a format with `capabilities` can carry."""
    return {
        path: value
        for path, value in field_values(declaration).items()
        if pattern_of(path) in capabilities
    }


def unencodable_text(values: Mapping[str, Any], refused: re.Pattern[str]) -> list[Problem]:
    """A `Problem` for every text (or extension key) holding a character `refused` matches.

    `values` are a declaration's `field_values`; `refused` matches single characters. Rendering
    refuses such text instead of dropping or replacing the character: XML 1.0 cannot hold most
    control characters, and no UTF-8 encoder can write a lone surrogate.
    """
    texts = [path[11:] for path in values if path.startswith("extensions.")]
    for value in values.values():
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, tuple):
            texts.extend(item for item in value if isinstance(item, str))
    # One search over everything first: almost every declaration has nothing to refuse.
    if not refused.search("\n".join(texts)):
        return []
    problems = []
    for path, value in values.items():
        texts = [path.removeprefix("extensions.")] if path.startswith("extensions.") else []
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, tuple):
            texts.extend(item for item in value if isinstance(item, str))
        for text in texts:
            found = refused.search(text)
            if found:
                problems.append(
                    Problem(
                        reason=f"character U+{ord(found.group()):04X} cannot be written",
                        field=path,
                        value=text,
                        code="unencodable_text",
                    )
                )
                break
    return problems


class RenderLedger:
    """Which filled fields a render wrote, so that everything else is reported as lost.

    A renderer takes each value it writes through `take`; `approximate` notes a value written in
    a coarser form (FCA as China's FOB). `report()` then lists every filled field nobody took,
    with the reason given by `drop` or a default one, so no field can be lost silently.
    """

    def __init__(self, declaration: Declaration, format_id: str) -> None:
        self.format_id = format_id
        self.values = field_values(declaration)
        self._taken: set[str] = set()
        self._reasons: dict[str, str] = {}
        self._approximated: list[Loss] = []

    def take(self, path: str) -> Any:
        """The value at `path` (None if not filled), recorded as carried."""
        self._taken.add(path)
        return self.values.get(path)

    def drop(self, path: str, reason: str) -> None:
        """Record why the value at `path` is not written (only reported if it is filled)."""
        self._taken.discard(path)
        self._reasons[path] = reason

    def approximate(self, path: str, reason: str) -> None:
        self._approximated.append(Loss(path, reason))

    def decided(self, path: str) -> bool:
        """Whether `path` was already taken or dropped."""
        return path in self._taken or path in self._reasons

    def report(self) -> LossReport:
        dropped = [
            Loss(path, self._reasons.get(path, f"{self.format_id} has no place for it"))
            for path in self.values
            if path not in self._taken
        ]
        return loss_report(self.format_id, [*dropped, *self._approximated])
