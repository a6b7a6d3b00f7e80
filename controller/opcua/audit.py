"""Loggers of the OPC UA server: audit records (who changed or tried to change what)
and operational messages.

The audit logger is built at each use, not once: ``controller.logs`` lets the
daemon reconfigure logging at run time, and a logger bound at start-up would keep
writing through the old configuration.
"""

from __future__ import annotations

import structlog
from structlog.typing import FilteringBoundLogger

from controller.logs import audit_logger

log: FilteringBoundLogger = structlog.get_logger("controller.opcua")


def audit() -> FilteringBoundLogger:
    return audit_logger(component="opcua")
