"""Logging set-up: JSON lines for the daemon, readable text for a person at a terminal.

Why JSON lines: the gateway's log shipper (journald, Loki, Elastic) indexes fields,
so "every setpoint write by user X" is a query, not a grep. Why one output: asyncua
and pymodbus log through the standard library; routing their records through the
same formatter keeps one format, one stream and one lock, so lines from the OPC UA
thread and the scan loop never interleave mid-line.

Tracebacks never include frame locals: a local can hold a password, a private key
or a session token, and logs travel further than the gateway.

The control core never logs (it returns events); the shell logs them.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, FilteringBoundLogger, Processor

# Libraries that log every reconnect attempt or frame at INFO/DEBUG.
NOISY_LOGGERS = ("asyncua", "pymodbus", "aiosqlite", "asyncio")

AUDIT_LOGGER = "audit"

current: tuple[bool, int, str | None] | None = None
"""(json, level, log file or None for stdout) of the last ``configure_logging``: a
child process (the OPC UA server) configures itself the same way, so its lines
reach the same place in the same format."""


_LEAD_KEYS = ("timestamp", "level", "logger", "event")


def _lead_keys(_logger: Any, _name: str, event_dict: EventDict) -> EventDict:
    """Put timestamp, level, logger and event first: a person reading raw lines (or
    ``tail -f``) finds them at the start; the log shipper does not care.
    """
    ordered = {k: event_dict.pop(k) for k in _LEAD_KEYS if k in event_dict}
    ordered.update(event_dict)
    return ordered


def _level_number(level: str | int) -> int:
    if isinstance(level, int):
        return level
    number = logging.getLevelNamesMapping().get(level.upper())
    if number is None:
        raise ValueError(f"unknown log level {level!r}")
    return number


def configure_logging(
    json: bool | None = None, level: str | int = "INFO", stream: TextIO | None = None
) -> None:
    """Configure structlog and the standard library for the whole process.

    ``json=None`` picks by audience: console rendering when ``stream`` is a terminal,
    JSON lines otherwise (a service manager, a pipe, a file). Safe to call again:
    it replaces the previous configuration.
    """
    global current  # noqa: PLW0603 - one logging configuration per process
    out = stream if stream is not None else sys.stdout
    if json is None:
        json = not (hasattr(out, "isatty") and out.isatty())
    threshold = _level_number(level)
    name = getattr(out, "name", None)
    # A file's path, not <stdout> or <stderr>.
    path = name if isinstance(name, str) and not name.startswith("<") else None
    current = (json, threshold, os.path.abspath(path) if path is not None else None)

    # Applied to stdlib records (asyncua, pymodbus) before the shared renderer; our
    # own events get the same fields from the structlog chain below.
    pre_chain: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]
    renderer: Processor
    final: list[Processor] = [structlog.stdlib.ProcessorFormatter.remove_processors_meta]
    if json:
        final += [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.UnicodeDecoder(),
        ]
        renderer = structlog.processors.JSONRenderer()
        final.append(_lead_keys)
    else:
        colors = bool(hasattr(out, "isatty") and out.isatty())
        renderer = structlog.dev.ConsoleRenderer(
            colors=colors,
            exception_formatter=structlog.dev.RichTracebackFormatter(
                show_locals=False, color_system="truecolor" if colors else None
            ),
        )
    final.append(renderer)

    formatter = structlog.stdlib.ProcessorFormatter(foreign_pre_chain=pre_chain, processors=final)
    handler = logging.StreamHandler(out)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(threshold)
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(max(threshold, logging.WARNING))
    logging.captureWarnings(True)

    structlog.reset_defaults()
    structlog.configure(
        processors=[
            *pre_chain,
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        logger_factory=structlog.stdlib.LoggerFactory(),
        context_class=dict,
        # Not cached: a logger created before a reconfiguration must follow it.
        cache_logger_on_first_use=False,
    )


def audit_logger(**context: Any) -> FilteringBoundLogger:
    """Logger for audit records (setpoint writes, acknowledgements, shelving): every
    line carries ``audit: true`` so the log shipper can route them to retention.
    """
    log: FilteringBoundLogger = structlog.get_logger(AUDIT_LOGGER)
    return log.bind(audit=True, **context)
