"""What crosses the thread boundary between the scan cycle and the OPC UA server.

Plain frozen values only: the scan thread hands them over and never sees them
again, so no lock is needed around their content.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from asyncua import ua

from controller.fieldbus.signals import Quality
from controller.opcua.uatyped import status_code

Value = float | int | bool | str | Sequence[float] | Sequence[str] | None
"""A point's value; arrays are per-layer temperatures or alarm lines and ids."""


@dataclass(frozen=True, slots=True)
class Reading:
    """One value for the address space: ``timestamp`` is the poll time (epoch s)."""

    value: Value
    quality: Quality
    timestamp: float


@dataclass(frozen=True, slots=True)
class SetpointWrite:
    """A utility write the server accepted (range, type and role already checked)."""

    name: str  # SupplyTempSetpoint | HeatDemand | InjectionEnabled
    value: float | bool
    user: str
    time: float  # epoch s, when the server accepted it


# Why these codes: a SCADA client must never mistake a stale or failed value for a
# good one. UNCERTAIN is a value the field bus still vouches for (last usable);
# BAD means there is no value, and OPC UA then carries a null value (Part 4, 7.7.1).
STATUS_OF_QUALITY: dict[Quality, ua.StatusCode] = {
    Quality.GOOD: status_code(ua.StatusCodes.Good),
    Quality.UNCERTAIN: status_code(ua.StatusCodes.UncertainLastUsableValue),
    Quality.BAD: status_code(ua.StatusCodes.BadNoCommunication),
}

SETPOINT_NAMES = ("SupplyTempSetpoint", "HeatDemand", "InjectionEnabled")
