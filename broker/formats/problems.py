"""Collect every problem of one document, then raise them together with their locations.

An adapter maps a document field by field into canonical values, logging a `Problem` for each
value it cannot read (with the document location and the original text) instead of stopping at
the first. It then lets the model check the result; the model's complaints are given the document
location of the field they concern, and those about fields already reported are dropped, so the
user sees each mistake once, all mistakes in one go.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from broker.codes import UnknownCodeError
from broker.errors import FormatError, Problem
from broker.model import Declaration, validate_declaration

T = TypeVar("T")


class ProblemLog:
    """Problems found in one document, and where each canonical field came from."""

    def __init__(self, format_id: str, source: str) -> None:
        self.format_id = format_id
        self.source = source
        self.problems: list[Problem] = []
        self._failed: set[str] = set()
        self._locations: dict[str, str] = {}

    def add(
        self,
        reason: str,
        *,
        location: str,
        field: str = "",
        value: str | None = None,
        code: str = "invalid_value",
    ) -> None:
        self.problems.append(Problem(reason, self.source, location, field, _shown(value), code))
        if field:
            self._failed.add(field)

    def locate(self, field: str, location: str) -> None:
        """Remember that canonical `field` was read from `location`, for the model's problems."""
        self._locations[field] = location

    def read(
        self, text: str, convert: Callable[[str], T], *, field: str, location: str
    ) -> T | None:
        """`convert(text)`, or None with a problem logged when it raises `ValueError`."""
        self.locate(field, location)
        try:
            return convert(text)
        except UnknownCodeError as exc:
            self.add(str(exc), location=location, field=field, value=text, code="unknown_code")
        except ValueError as exc:
            self.add(str(exc), location=location, field=field, value=text)
        return None

    def fail(self, message: str) -> FormatError:
        return FormatError.collect(f"{self.source or 'input'}: {message}", self.problems)

    def declaration(self, data: Mapping[str, Any], *, root: str) -> Declaration:
        """Validate `data`; raise every mapping and model problem together, or return the model."""
        declaration = None
        try:
            declaration = validate_declaration(data, source=self.source)
        except FormatError as exc:
            for problem in exc.problems:
                if not self.reported(problem.field):
                    location = self.location_of(problem.field, root)
                    self.problems.append(_as_missing(replace(problem, location=location)))
        if self.problems or declaration is None:
            raise self.fail(f"not a valid {self.format_id} declaration")
        return declaration

    def reported(self, field: str) -> bool:
        """Whether a problem was already logged for `field` or a field containing it."""
        return any(field == failed or field.startswith(failed + ".") for failed in self._failed)

    def location_of(self, field: str, root: str) -> str:
        """Where `field` was (or would have been) read; `root` if nothing closer is known."""
        parts = field.split(".")
        while parts:
            location = self._locations.get(".".join(parts))
            if location:
                return location
            parts.pop()
        return root


def _as_missing(problem: Problem) -> Problem:
    """The model's complaint about an absent value, said plainly.

    Adapters hand the model None for an element that is absent or empty, so pydantic says
    "Input should be a valid string" (or, for a key never set, quotes the whole input back).
    """
    absent = problem.code == "missing" or (
        problem.value is None and (problem.code.endswith("_type") or problem.code == "enum")
    )
    if not absent:
        return problem
    return replace(
        problem, reason="is missing (absent or empty in the document)", value=None, code="missing"
    )


def _shown(value: str | None) -> str | None:
    return None if value is None else value[:200]
