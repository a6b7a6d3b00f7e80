"""A value read from the field, with the quality and time a SCADA engineer expects.

Missing inputs are never silently zero: a value the controller cannot trust carries
Quality.BAD (or UNCERTAIN) and a reason, and everything downstream (control core,
OPC UA status codes, alarms) decides from the quality, not from the number.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum


class Quality(IntEnum):
    GOOD = 0
    UNCERTAIN = 1  # last usable value, not refreshed this cycle (within staleness limit)
    BAD = 2  # no value: comms lost, sentinel, implausible, or stale past the limit


@dataclass(frozen=True, slots=True)
class Sample:
    """One decoded point value.

    ``value`` is None only when there is nothing usable (never a made-up number).
    ``timestamp`` is the UTC epoch time of the poll that produced the value (the
    OPC UA source timestamp); ``age_cycles`` counts scan cycles since it was fresh.
    """

    value: float | None
    quality: Quality
    timestamp: float
    reason: str = ""
    age_cycles: int = 0

    @property
    def good(self) -> bool:
        return self.quality is Quality.GOOD and self.value is not None

    @property
    def usable(self) -> bool:
        """Good, or uncertain but still carrying a recent value."""
        return self.value is not None and self.quality is not Quality.BAD


BAD_NEVER_READ = Sample(None, Quality.BAD, 0.0, "never read")
