"""Hostile or faulty traffic: counted for the metrics, logged once per cause.

Why: a port scanner, a client sending rubbish or a Modbus device that stops
answering produced one traceback or hex dump per event (140 asyncua error lines
from one attack, 209 pymodbus lines in 35 s from one silent device). An
operator's log buried under repeats hides the one line that matters, and writing
it costs the scan cycle. Each incident is counted by (subsystem, cause) for
``/metrics``; the first of each (subsystem, source, cause) is logged as one
line, and a repeat is logged again at most every ``RELOG_S`` with the number
suppressed meanwhile.

``LibraryLogFilter`` does the same for what asyncua and pymodbus log on their own
(warnings and errors): the cause is the message's first line with numbers
removed; the first record of a cause passes as the library wrote it (a traceback
once is useful), except pymodbus's dump of the last frames, and the repeats are
only counted.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping

import structlog

log = structlog.get_logger("controller.incidents")

RELOG_S = 600.0
MAX_KEYS = 2048
"""Distinct (subsystem, source, cause) remembered for the once-only log: an
attacker cycling source addresses must not grow memory without end. Beyond it,
incidents are still counted but new keys are not logged."""
_MAX_CAUSE_CHARS = 100
_NUMBERS = re.compile(r"0x[0-9a-fA-F]+|\d+(\.\d+)?")


class Incidents:
    """Thread-safe counters plus the once-per-cause log."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._counts: dict[tuple[str, str], int] = {}
        self._remote: dict[str, dict[str, int]] = {}
        self._logged: dict[tuple[str, str, str], tuple[float, int]] = {}
        self._overflow_logged = False

    def record(
        self, subsystem: str, cause: str, source: str = "", *, emit: bool = True, **detail: object
    ) -> int | None:
        """Count one incident. If it is the first of its kind (or the first for
        ``RELOG_S``), log it (unless ``emit`` is False) and return the number
        suppressed since the last time; otherwise return None."""
        cause = cause[:_MAX_CAUSE_CHARS]
        now = self._clock()
        with self._lock:
            key = (subsystem, cause)
            self._counts[key] = self._counts.get(key, 0) + 1
            lkey = (subsystem, source, cause)
            seen = self._logged.get(lkey)
            if seen is None and len(self._logged) >= MAX_KEYS:
                overflow, self._overflow_logged = not self._overflow_logged, True
                if overflow:
                    log.warning("incidents.too_many_sources", subsystem=subsystem, limit=MAX_KEYS)
                return None
            if seen is not None and now - seen[0] < RELOG_S:
                self._logged[lkey] = (seen[0], seen[1] + 1)
                return None
            suppressed = seen[1] if seen is not None else 0
            self._logged[lkey] = (now, 0)
        if not emit:
            return suppressed
        log.warning(
            "incident",
            subsystem=subsystem,
            cause=cause,
            source=source or None,
            suppressed_since_last=suppressed,
            **detail,
        )
        return suppressed

    def counts(self) -> dict[tuple[str, str], int]:
        """(subsystem, cause) -> count, including what child processes reported."""
        with self._lock:
            out = dict(self._counts)
            for subsystem, counts in self._remote.items():
                for cause, n in counts.items():
                    out[(subsystem, cause)] = out.get((subsystem, cause), 0) + n
        return out

    def local(self, subsystem: str) -> dict[str, int]:
        """This process's counts of one subsystem (what a child process reports)."""
        with self._lock:
            return {c: n for (s, c), n in self._counts.items() if s == subsystem}

    def absorb(self, subsystem: str, counts: Mapping[str, int]) -> None:
        """A child process's running totals for ``subsystem`` (replace, not add)."""
        with self._lock:
            self._remote[subsystem] = dict(counts)

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()
            self._remote.clear()
            self._logged.clear()
            self._overflow_logged = False


INCIDENTS = Incidents()


def library_cause(record: logging.LogRecord) -> str:
    """The message's first line, numbers and addresses replaced: one cause per kind."""
    try:
        text = record.getMessage()
    except Exception:  # a library's broken format string is a cause too
        text = str(record.msg)
    first = text.strip().splitlines()[0] if text.strip() else record.levelname
    if record.exc_info and record.exc_info[1] is not None:
        first = f"{first}: {type(record.exc_info[1]).__name__}"
    return _NUMBERS.sub("#", first)


class LibraryLogFilter(logging.Filter):
    """On a library's logger: count its warnings and errors, pass the first per cause."""

    def __init__(self, subsystem: str, incidents: Incidents = INCIDENTS) -> None:
        super().__init__()
        self.subsystem = subsystem
        self.incidents = incidents

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        suppressed = self.incidents.record(self.subsystem, library_cause(record), emit=False)
        if suppressed is None:
            return False
        try:
            text = record.getMessage()
        except Exception:
            return True
        first = text.split("\n", 1)[0]  # pymodbus appends a dump of the last frames
        if first != text or suppressed:
            more = f" ({suppressed} more since the last report)" if suppressed else ""
            record.msg, record.args = first + more, None
        return True


def quiet_library_loggers(
    prefixes: Iterable[tuple[str, str]] = (("asyncua", "opcua"), ("pymodbus", "modbus")),
) -> None:
    """Put a ``LibraryLogFilter`` on every logger of the libraries created so far.

    Filters on a logger apply to records logged on that exact logger, so each
    module logger gets its own; call again after importing more of a library.
    """
    names = list(logging.root.manager.loggerDict)
    for prefix, subsystem in prefixes:
        for name in [prefix, *(n for n in names if n.startswith(prefix + "."))]:
            logger = logging.getLogger(name)
            if not any(isinstance(f, LibraryLogFilter) for f in logger.filters):
                logger.addFilter(LibraryLogFilter(subsystem))
