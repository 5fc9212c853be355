"""Rate-limit repeated Kafka client log lines.

During an outage aiokafka logs the same complaint (connection refused, coordinator unknown,
metadata failed) hundreds of times a second. The filter lets the first line of each kind through,
then at most one per `window_s`, adding how many like it were suppressed since. "Of a kind" means
same logger, level and message template (the arguments, e.g. the host or the error text, vary).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

CLIENT_LOGGER = "aiokafka"


@dataclass
class _Seen:
    last_emitted: float
    suppressed: int = 0


class RepeatFilter(logging.Filter):
    def __init__(self, window_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self._clock = clock
        self._seen: dict[tuple[str, int, str], _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        seen = self._seen.get(key)
        if seen is None:
            if len(self._seen) > 1000:  # templates are few; never grow without bound
                self._seen.clear()
            self._seen[key] = _Seen(now)
            return True
        if now - seen.last_emitted < self.window_s:
            seen.suppressed += 1
            return False
        if seen.suppressed:
            record.msg = (
                f"{record.msg} [{seen.suppressed} similar suppressed in {self.window_s:.0f}s]"
            )
        seen.last_emitted, seen.suppressed = now, 0
        return True


_installed: RepeatFilter | None = None


def install_client_log_rate_limit(window_s: float = 10.0) -> RepeatFilter:
    """Attach one shared `RepeatFilter` to aiokafka's loggers (idempotent).

    Logger filters are not inherited, so it goes on every `aiokafka.*` logger that exists; they
    are created when aiokafka's modules are imported, which the transport has done already.
    """
    global _installed  # one filter per process, shared by every client
    if _installed is None:
        _installed = RepeatFilter(window_s)
    names = [CLIENT_LOGGER] + [
        name for name in logging.Logger.manager.loggerDict if name.startswith(CLIENT_LOGGER + ".")
    ]
    for name in names:
        logger = logging.getLogger(name)
        if _installed not in logger.filters:
            logger.addFilter(_installed)
    return _installed
