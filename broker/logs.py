"""Structured logs: JSON lines for machines (a pipe, a file, a container), text for a person.

The fields of a line are fixed here, not by the caller: time, level, logger, message and, from
the record's `extra`, only `node`, `message_id`, `reason` and `source` (what the node code
passes). Any other extra (a payload, a key) is dropped, `bytes` arguments print as their length,
and PEM private key blocks are cut out of messages and tracebacks: a customs log is shipped to
places declaration contents and key material must never reach.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from broker.errors import ConfigError
from broker.signing.envelope import format_time

CONTEXT_FIELDS = ("node", "message_id", "reason", "source")
_PRIVATE_KEY_PEM = re.compile(
    r"-----BEGIN ([A-Z0-9 ]*PRIVATE KEY)-----.*?(?:-----END \1-----|\Z)", re.DOTALL
)
REDACTED = "[private key redacted]"


def redact(text: str) -> str:
    return _PRIVATE_KEY_PEM.sub(REDACTED, text)


def _scrub(value: object) -> object:
    if isinstance(value, bytes | bytearray | memoryview):
        return f"<{len(value)} bytes>"  # record values and keys are bytes: never print them
    return value


def safe_message(record: logging.LogRecord) -> str:
    """`record.getMessage()` with bytes arguments replaced by their length, keys redacted."""
    args: Any = record.args
    if isinstance(args, Mapping):
        args = {k: _scrub(v) for k, v in args.items()}
    elif isinstance(args, tuple):
        args = tuple(_scrub(a) for a in args)
    message = str(record.msg)
    if args:
        message = message % args
    return redact(message)


def _context(record: logging.LogRecord) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for name in CONTEXT_FIELDS:
        if name in record.__dict__:
            value = record.__dict__[name]
            # The node code passes "" when it has no message id yet (a record it cannot parse).
            found[name] = None if value in (None, "") else redact(str(_scrub(value)))
    return found


class JsonLinesFormatter(logging.Formatter):
    """One JSON object per line; UTF-8 text as is (Chinese, Thai, Lao names stay readable)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            # The one time form of the corridor (ce_time, dlq_time): RFC 3339 UTC, `...ffffffZ`.
            "time": format_time(datetime.fromtimestamp(record.created, UTC)),
            "level": record.levelname,
            "logger": record.name,
            "message": safe_message(record),
            **_context(record),
        }
        if record.exc_info:
            entry["error"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """`08:15:02 WARNING broker.node.receiver [LA-VTE] dead-lettered: ... source=...`."""

    def format(self, record: logging.LogRecord) -> str:
        context = _context(record)
        node = context.pop("node", None)
        when = datetime.fromtimestamp(record.created, UTC).strftime("%H:%M:%S")
        line = f"{when} {record.levelname:<7} {record.name}"
        if node:
            line += f" [{node}]"
        line += f" {safe_message(record)}"
        details = " ".join(f"{k}={v}" for k, v in context.items() if v)
        if details:
            line += f"  ({details})"
        if record.exc_info:
            line += "\n" + redact(self.formatException(record.exc_info))
        return line


class _CustomsHandler(logging.StreamHandler[TextIO]):
    """Marks the handler this module installed, so configuring again replaces it."""


class _StderrHandler(_CustomsHandler):
    """Writes to whatever `sys.stderr` is at the time of each record, as `logging.lastResort`
    does: a test runner or a console library that swaps stderr keeps getting the log."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # read from sys at each use instead of stored
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, value: TextIO) -> None:
        return  # StreamHandler.__init__ assigns it; the property ignores that


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


LEVEL_ENV = "CUSTOMS_LOG_LEVEL"


def configure_logging(
    stream: TextIO | None = None, level: int | str | None = None, *, json_lines: bool | None = None
) -> logging.Handler:
    """Send every log record to `stream` (default: stderr, whatever it is when a record comes):
    JSON lines unless it is a terminal. `level` defaults to `$CUSTOMS_LOG_LEVEL`, else INFO
    (DEBUG shows each delivered record's own line besides its batch's).

    Idempotent: a second call replaces the handler of the first. Returns the handler.
    """
    handler = _StderrHandler() if stream is None else _CustomsHandler(stream)
    use_json = not _is_terminal(handler.stream) if json_lines is None else json_lines
    handler.setFormatter(JsonLinesFormatter() if use_json else ConsoleFormatter())
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _CustomsHandler)]:
        root.removeHandler(old)
    root.addHandler(handler)
    if level is None:
        level = os.environ.get(LEVEL_ENV, "INFO").strip().upper()
        if level not in logging.getLevelNamesMapping():
            raise ConfigError(f"{LEVEL_ENV}={level!r} is not a log level (DEBUG, INFO, WARNING)")
    root.setLevel(level)
    return handler
