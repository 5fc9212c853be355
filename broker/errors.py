"""One root error, one family per layer.

Every error the broker raises on purpose derives from `BrokerError`. A family says which layer
failed; `retriable` says whether the same call may succeed later (the runtime retries those and
dead-letters the rest, without matching on message strings). Third-party exceptions are wrapped at
the boundary with `raise ... from exc`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class Problem:
    """One precise complaint about an input: where, which field, why, and what was there."""

    reason: str
    source: str = ""  # file name or topic/partition/offset
    location: str = ""  # "line 12", "segment 7 (LIN)", "/DecMessage/DecHead/IEDate"
    field: str = ""  # canonical or national field path
    value: str | None = None  # the original offending value, truncated for display
    code: str = ""  # machine-readable reason code

    def __str__(self) -> str:
        where = ":".join(part for part in (self.source, self.location) if part)
        parts = [where] if where else []
        if self.field:
            parts.append(self.field)
        parts.append(self.reason)
        text = ": ".join(parts)
        if self.value is not None:
            shown = self.value if len(self.value) <= 80 else self.value[:77] + "..."
            text += f" (got {shown!r})"
        return text


class BrokerError(Exception):
    """Root of every error raised by the broker on purpose."""

    retriable: ClassVar[bool] = False

    def __init__(self, message: str, problems: Iterable[Problem] = ()) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(message)

    def __str__(self) -> str:
        head = super().__str__()
        if not self.problems:
            return head
        return "\n".join([head, *(f"  - {p}" for p in self.problems)])


class ConfigError(BrokerError, ValueError):
    """Configuration or command-line settings are invalid (every problem listed at once)."""


class FormatError(BrokerError, ValueError):
    """A national document cannot be parsed or rendered (every problem listed at once)."""

    @classmethod
    def collect(cls, message: str, problems: Sequence[Problem]) -> FormatError:
        return cls(f"{message}: {len(problems)} problem(s)", problems)


class CodecError(BrokerError, ValueError):
    """Avro bytes or framing are invalid, or a schema is unknown."""


class SignatureError(BrokerError):
    """A message failed verification; `code` is the stable reason code."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        super().__init__(f"{code}: {message}")


class TransportError(BrokerError):
    """Kafka could not be reached or refused a request."""

    retriable: ClassVar[bool] = True


class ProducerFencedError(TransportError):
    """A newer producer registered the same transactional id: this one must stop, its open
    transaction is aborted. Not retriable with this producer (whoever owns the id goes on)."""

    retriable: ClassVar[bool] = False


class RebalancedError(TransportError):
    """The consumer group rebalanced under this member, so its offsets were not committed: the
    partitions may belong to another member now. Re-read from the committed offsets."""

    retriable: ClassVar[bool] = True


class LauncherError(BrokerError):
    """The local Apache Kafka launcher could not do what was asked (with the fix, if known)."""
