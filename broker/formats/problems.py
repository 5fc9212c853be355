"""Collect every problem of one document, then raise them together with their locations.

An adapter maps a document field by field into canonical values, logging a `Problem` for each
value it cannot read (with the document location and the original text) instead of stopping at
the first. It then lets the model check the result; the model's complaints are given the document
location of the field they concern, and those about fields already reported are dropped, so the
user sees each mistake once, all mistakes in one go.

Problems come at two levels. An *error* means the document cannot be a declaration (broken
syntax, wrong control counts, no goods item, a value the model refuses). A *warning* means the
reader guessed, defaulted, or kept something only in `extensions` (an element never seen before,
an older code table, an empty reference replaced by another one): the declaration is still read,
and the warnings travel beside it in a `Reading`. Both lists are capped (`MAX_PROBLEMS`): past
the cap only a count is kept, so a hostile file cannot make a 50 MB error text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, TypeVar

from broker.codes import UnknownCodeError
from broker.errors import FormatError, Problem
from broker.model import Declaration, validate_declaration

T = TypeVar("T")

# Problems (and, separately, warnings) kept for one document; the rest are only counted.
MAX_PROBLEMS: Final = 100


@dataclass(frozen=True, slots=True)
class Reading:
    """What a tolerant reader made of one document: its declarations and the warnings on them.

    Most documents hold one declaration; a UN/EDIFACT interchange may hold several messages,
    each its own declaration, in interchange order.
    """

    declarations: tuple[Declaration, ...]
    warnings: tuple[Problem, ...] = ()

    def only(self, source: str = "") -> Declaration:
        """The one declaration of the document; `FormatError` if it holds several."""
        if len(self.declarations) == 1:
            return self.declarations[0]
        problem = Problem(
            f"the document holds {len(self.declarations)} declarations; read them one by one "
            "(`customs-broker convert` writes one output per message)",
            source,
            "the whole document",
            code="several_declarations",
        )
        raise DocumentRefusedError.collect(
            f"{source or 'input'}: expected one declaration", [problem]
        )


class DocumentRefusedError(FormatError):
    """A document that cannot be read as a declaration; `warnings` were found on the way."""

    warnings: tuple[Problem, ...] = ()

    @classmethod
    def refuse(
        cls, message: str, problems: list[Problem], warnings: list[Problem], dropped: int
    ) -> DocumentRefusedError:
        shown = capped(problems, dropped)
        error = cls(f"{message}: {len(problems) + dropped} problem(s)", shown)
        error.warnings = tuple(warnings)
        return error


def capped(problems: list[Problem], dropped: int) -> list[Problem]:
    """`problems`, and one more line saying how many were left out."""
    if not dropped:
        return problems
    more = Problem(
        f"and {dropped} more", problems[-1].source, f"after these {len(problems)}", code="truncated"
    )
    return [*problems, more]


class ProblemLog:
    """Problems found in one document, and where each canonical field came from."""

    def __init__(self, format_id: str, source: str, *, cap: int = MAX_PROBLEMS) -> None:
        self.format_id = format_id
        self.source = source
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.dropped_problems = 0
        self.dropped_warnings = 0
        self._cap = cap
        # Elements (or segments) a reader set aside unread, for the adapter's extensions.
        self.unread: list[Any] = []
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
        if field:
            self._failed.add(field)
        if len(self.problems) >= self._cap:
            self.dropped_problems += 1
            return
        self.problems.append(Problem(reason, self.source, location, field, _shown(value), code))

    def warn(
        self,
        reason: str,
        *,
        location: str,
        field: str = "",
        value: str | None = None,
        code: str = "guessed",
    ) -> None:
        """A warning: the document is still read, with this value guessed, defaulted or kept."""
        if len(self.warnings) >= self._cap:
            self.dropped_warnings += 1
            return
        self.warnings.append(Problem(reason, self.source, location, field, _shown(value), code))

    @property
    def failed(self) -> bool:
        return bool(self.problems or self.dropped_problems)

    def all_warnings(self) -> tuple[Problem, ...]:
        return tuple(capped(self.warnings, self.dropped_warnings))

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

    def fail(self, message: str) -> DocumentRefusedError:
        return DocumentRefusedError.refuse(
            f"{self.source or 'input'}: {message}",
            self.problems,
            list(self.all_warnings()),
            self.dropped_problems,
        )

    def declaration(self, data: Mapping[str, Any], *, root: str) -> Declaration:
        """Validate `data`; raise every mapping and model problem together, or return the model."""
        declaration = None
        try:
            declaration = validate_declaration(data, source=self.source)
        except FormatError as exc:
            for problem in exc.problems:
                if not self.reported(problem.field):
                    location = self.location_of(problem.field, root)
                    missing = _as_missing(replace(problem, location=location))
                    if len(self.problems) < self._cap:
                        self.problems.append(missing)
                    else:
                        self.dropped_problems += 1
        if self.failed or declaration is None:
            raise self.fail(f"not a valid {self.format_id} declaration")
        return declaration

    def reading(self, data: Mapping[str, Any], *, root: str) -> Reading:
        """`declaration(...)` with the warnings found on the way."""
        return Reading((self.declaration(data, root=root),), self.all_warnings())

    def reported(self, field: str) -> bool:
        """Whether a problem was already logged for `field` or a field containing it."""
        parts = field.split(".")
        return any(".".join(parts[:end]) in self._failed for end in range(1, len(parts) + 1))

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
