"""What a Modbus shell (or any other transport) needs from the simulated plant.

The plant exposes its devices as named points, exactly as the register map names
them (``device -> point -> engineering value``). A transport encodes them with the
register map; it never reaches into the physics.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Protocol


class CommsFault(StrEnum):
    SILENT = "silent"  # the device does not answer at all (cable pulled, device hung)
    EXCEPTION = "exception"  # the device answers every request with a Modbus exception


class PointWriteError(ValueError):
    """A client write the device refuses (unknown point, read-only, out of range)."""


class PlantPoints(Protocol):
    def point_values(self) -> Mapping[str, Mapping[str, float | None]]:
        """Current value of every readable point, by device then point name.

        None means the device reports "not available" (sent as the type's sentinel).
        Values may lie outside a point's plausible range (a failed sensor reads
        850 °C); transports must send them as they are, clamped only to what the
        data type can carry.
        """
        ...

    def write_point(self, device: str, point: str, value: float) -> None:
        """Apply a client write of an engineering value; raise PointWriteError to refuse."""
        ...

    def comms_fault(self, device: str) -> CommsFault | None:
        """The injected communication fault of a device right now, or None."""
        ...
