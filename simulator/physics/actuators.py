"""Valve and pumps: the actuators whose travel time and failure the controller must live with."""

from __future__ import annotations

from simulator.physics import RHO_WATER
from simulator.plantconfig import PumpGroupConfig


class Valve:
    """A motorised valve moving at a fixed stroke rate toward its command (0..100 %)."""

    def __init__(self, stroke_s: float, position: float = 100.0) -> None:
        self.rate = 100.0 / stroke_s  # %/s
        self.cmd = position
        self.pos = position
        self.travel = 0.0  # accumulated |movement| in %

    def step(self, dt: float) -> None:
        d = self.cmd - self.pos
        lim = self.rate * dt
        move = max(-lim, min(lim, d))
        self.pos += move
        self.travel += abs(move)


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

    def step(self, dt: float) -> float:
        speeds = []
        for p in self.pumps:
            p.step(dt)
            speeds.append(p.speed)
        speeds.sort(reverse=True)
        s = speeds[0]
        if len(speeds) > 1 and speeds[1] > 0.2:
            s += (self.cfg.second_pump_gain - 1.0) * speeds[1]
        self.flow = self.m_nominal * s
        self.power = self.cfg.power_kw * sum(x**3 for x in speeds)
        return self.flow
