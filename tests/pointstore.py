"""A static PlantPoints for transport tests: values a test sets, writes it can inspect.

Transport tests must not depend on the physics: they check that what a store holds
is what a Modbus client reads and that a client write reaches the store, and a
static store makes every expected value known in advance.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from controller.config.registermap import DataType, Point, RegisterMap
from simulator.pointio import CommsFault, PointWriteError


def representable_midpoint(point: Point) -> float:
    """The middle of the point's range, rounded to a value its type carries exactly."""
    if point.type is DataType.BOOL:
        return 1.0 if point.writable else 0.0
    lo, hi = point.range if point.range is not None else (0.0, 100.0)
    mid = (lo + hi) / 2
    if point.type is DataType.FLOAT32:
        return float(round(mid))
    raw = round((mid - point.offset) / point.scale)
    return raw * point.scale + point.offset


class PointStore:
    """Dict-backed PlantPoints: every point of every device, initialised to midpoints."""

    def __init__(self, regmap: RegisterMap) -> None:
        self.regmap = regmap
        self.values: dict[str, dict[str, float | None]] = {
            dev: {p.name: representable_midpoint(p) for p in regmap.points_of(dev)}
            for dev in regmap.devices
        }
        self.calls: list[tuple[str, str, float]] = []  # every write_point call, even refused
        self.writes: list[tuple[str, str, float]] = []  # the writes the store accepted
        self.faults: dict[str, CommsFault] = {}
        self.on_write: Callable[[str, str, float], float] | None = None
        """Optional hook: returns the value the device actually takes (e.g. clamped)."""

    def set(self, device: str, point: str, value: float | None) -> None:
        self.regmap.point(device, point)  # KeyError for a typo in a test
        self.values[device][point] = value

    def point_values(self) -> Mapping[str, Mapping[str, float | None]]:
        return self.values

    def write_point(self, device: str, point: str, value: float) -> None:
        self.calls.append((device, point, value))
        try:
            p = self.regmap.point(device, point)
        except KeyError:
            raise PointWriteError(f"{device}.{point}: no such point") from None
        if not p.writable:
            raise PointWriteError(f"{device}.{point}: read-only")
        if p.range is not None and not p.range[0] <= value <= p.range[1]:
            raise PointWriteError(f"{device}.{point}: {value} outside {p.range}")
        self.writes.append((device, point, value))
        self.values[device][point] = self.on_write(device, point, value) if self.on_write else value

    def comms_fault(self, device: str) -> CommsFault | None:
        return self.faults.get(device)
