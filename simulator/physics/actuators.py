"""Valve and pumps: the actuators whose travel time and failure the controller must live with."""

from __future__ import annotations

import math

from simulator.physics import RHO_WATER
from simulator.plantconfig import PumpGroupConfig


class Valve:
    """A motorised valve: stroke rate, deadband, backlash and a flow characteristic.

    The actuator does not answer a command within ``deadband`` % of where it stands
    (a real positioner's dead zone, which a PI's small corrections fall into); the
    plug follows the stem only after ``backlash`` % of slack is taken up on each
    reversal (hysteresis); and the share of flow through the valve follows its
    characteristic: linear, or equal percentage with a rangeability R
    (flow = R^(x - 1), shut at 0).
    """

    def __init__(
        self,
        stroke_s: float,
        position: float = 100.0,
        *,
        deadband: float = 0.0,
        backlash: float = 0.0,
        characteristic: str = "linear",
        rangeability: float = 50.0,
    ) -> None:
        self.rate = 100.0 / stroke_s  # %/s
        self.deadband = deadband
        self.backlash = backlash
        self.equal_pct = characteristic == "equal_percentage"
        self.rangeability = rangeability
        self.cmd = position
        self.stem = position
        self.pos = position  # the plug: what sets the flow, and what is fed back
        self._target = position
        self.travel = 0.0  # accumulated |movement| of the plug in %

    def set_position(self, position: float) -> None:
        self.cmd = self.stem = self.pos = self._target = position

    @property
    def flow_fraction(self) -> float:
        x = self.pos * 0.01
        if not self.equal_pct or x <= 0.0:
            return x
        return self.rangeability ** (x - 1.0)

    def step(self, dt: float) -> None:
        if abs(self.cmd - self._target) > self.deadband:
            self._target = self.cmd
        d = self._target - self.stem
        lim = self.rate * dt
        self.stem += max(-lim, min(lim, d))
        # The plug lags the stem by up to the backlash, on either side.
        half = 0.5 * self.backlash
        old = self.pos
        if self.stem > self.pos + half:
            self.pos = self.stem - half
        elif self.stem < self.pos - half:
            self.pos = self.stem + half
        self.pos = min(100.0, max(0.0, self.pos))
        if self._target >= 100.0 and self.stem >= 100.0:
            self.pos = 100.0  # driven into its end stop
        elif self._target <= 0.0 and self.stem <= 0.0:
            self.pos = 0.0
        self.travel += abs(self.pos - old)


class Pump:
    """A variable-speed pump: spins toward its command, stops on a fault."""

    __slots__ = ("faulted", "name", "run_cmd", "speed", "speed_cmd", "spin_rate")

    def __init__(self, name: str, spin_s: float, running: bool, speed: float) -> None:
        self.name = name
        self.spin_rate = 1.0 / spin_s
        self.run_cmd = running
        self.speed_cmd = speed  # 0..1
        self.speed = speed if running else 0.0
        self.faulted = False

    def step(self, dt: float) -> None:
        target = self.speed_cmd if (self.run_cmd and not self.faulted) else 0.0
        lim = self.spin_rate * dt
        self.speed += max(-lim, min(lim, target - self.speed))

    @property
    def running(self) -> bool:
        return self.run_cmd and not self.faulted and self.speed > 0.05


class PumpGroup:
    """N+1 pumps in parallel on one loop; flow from the fastest running pump."""

    def __init__(self, cfg: PumpGroupConfig, names: list[str], duty_running: bool) -> None:
        self.cfg = cfg
        self.m_nominal = cfg.nominal_flow_m3h / 3.6 * RHO_WATER / 1000.0  # kg/s
        self.pumps = [
            Pump(n, cfg.spin_s, running=duty_running and i == 0, speed=1.0)
            for i, n in enumerate(names)
        ]
        self.flow = 0.0
        self.power = 0.0

    def min_speed_for_flow(self, dp_bar: float) -> float:
        """Speed (0..1) below which the pump cannot open its check valve against ``dp_bar``."""
        h0 = self.cfg.shutoff_head_bar
        return 0.0 if h0 is None or dp_bar <= 0.0 else math.sqrt(dp_bar / h0)

    def speed_for_flow(self, flow_kg_s: float, dp_bar: float) -> float:
        """The speed (0..1) that delivers ``flow_kg_s`` against ``dp_bar`` (inverse curve)."""
        x = flow_kg_s / self.m_nominal
        h0 = self.cfg.shutoff_head_bar
        if h0 is None or dp_bar <= 0.0:
            return x
        r = dp_bar / h0
        return math.sqrt(r + (1.0 - r) * x * x)

    def step(self, dt: float, dp_bar: float = 0.0) -> float:
        """Flow (kg/s) after ``dt``, against a static differential pressure ``dp_bar``.

        With a pump curve H = H0 n^2 - k Q^2 whose design point is the nominal flow at
        full speed against ``dp_bar``: Q = Q_nom * sqrt((H0 n^2 - dp) / (H0 - dp)), and
        nothing below n = sqrt(dp / H0).
        """
        speeds = []
        for p in self.pumps:
            p.step(dt)
            speeds.append(p.speed)
        speeds.sort(reverse=True)
        s = speeds[0]
        if len(speeds) > 1 and speeds[1] > 0.2:
            s += (self.cfg.second_pump_gain - 1.0) * speeds[1]
        h0 = self.cfg.shutoff_head_bar
        if h0 is None or dp_bar <= 0.0:
            self.flow = self.m_nominal * s
        else:
            head = h0 * s * s
            self.flow = self.m_nominal * math.sqrt(max(0.0, head - dp_bar) / (h0 - dp_bar))
        self.power = self.cfg.power_kw * sum(x**3 for x in speeds)
        return self.flow
