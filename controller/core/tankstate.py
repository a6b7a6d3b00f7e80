"""State of charge of the stratified tank, from its temperature sensors.

State of charge is measured against what the network can use *now*: a layer counts
as full when it is at the DH supply setpoint and empty at the DH return temperature.
When the utility raises its setpoint the same tank holds less usable heat, and the
charge loop sees that at once. A failed sensor is replaced by its neighbours'
interpolation so one bad probe does not make the tank look empty.
"""

from __future__ import annotations

from typing import TypeGuard

RHO_CP_KWH_PER_M3K = 985.0 * 4.186 / 3600.0


def _all_read(readings: list[float | None]) -> TypeGuard[list[float]]:
    return None not in readings


class TankState:
    __slots__ = ("bad_sensors", "n", "soc", "stored_kwh", "temps", "volume")

    def __init__(self, volume_m3: float, sensors: int) -> None:
        self.volume = volume_m3
        self.n = sensors
        self.temps: list[float] = []
        self.soc: float | None = None
        self.stored_kwh: float | None = None
        self.bad_sensors = 0

    def update(self, readings: list[float | None], t_cold: float, t_hot: float) -> None:
        if _all_read(readings):
            self.bad_sensors = 0
            self._finish(readings, t_cold, t_hot)
            return
        good = [(i, v) for i, v in enumerate(readings) if v is not None]
        self.bad_sensors = len(readings) - len(good)
        if len(good) < max(2, len(readings) // 2):
            self.soc = None  # too few probes to say: the charge loop holds
            self.stored_kwh = None
            return
        temps: list[float] = []
        for i, v in enumerate(readings):
            if v is not None:
                temps.append(v)
                continue
            above = next(((j, t) for j, t in reversed(good) if j < i), None)
            below = next(((j, t) for j, t in good if j > i), None)
            if above and below:
                f = (i - above[0]) / (below[0] - above[0])
                temps.append(above[1] + (below[1] - above[1]) * f)
            else:
                nearest = above or below
                assert nearest is not None  # at least two probes read
                temps.append(nearest[1])
        self._finish(temps, t_cold, t_hot)

    def _finish(self, temps: list[float], t_cold: float, t_hot: float) -> None:
        self.temps = temps
        inv_span = 1.0 / max(t_hot - t_cold, 1.0)
        full = 0.0
        above = 0.0
        for t in temps:
            d = t - t_cold
            if d > 0.0:
                above += d
                f = d * inv_span
                full += f if f < 1.0 else 1.0
        self.soc = full / len(temps)
        self.stored_kwh = above * self.volume / len(temps) * RHO_CP_KWH_PER_M3K
