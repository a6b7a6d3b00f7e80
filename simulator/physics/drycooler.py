"""Dry-cooler bank: cross-flow finned coils whose capacity falls as ambient rises.

Rated like a datasheet: capacity at a design ambient with design water in/out and
air temperature rise. Air flow follows fan speed, with a natural-draught floor; the
air-side UA scales with air flow to the power 0.6.
"""

from __future__ import annotations

from simulator.physics import CP_WATER
from simulator.physics.hx import eff_crossflow, solve_ua
from simulator.plantconfig import DryCoolerConfig


class DryCoolers:
    def __init__(self, cfg: DryCoolerConfig) -> None:
        self.cfg = cfg
        c_w = cfg.capacity_kw / (cfg.design_water_in - cfg.design_water_out)
        c_a = cfg.capacity_kw / cfg.design_air_rise_k
        eps = cfg.capacity_kw / (min(c_w, c_a) * (cfg.design_water_in - cfg.design_ambient))
        self.ua_design = solve_ua(eff_crossflow, eps, c_w, c_a)
        self.c_air_design = c_a
        self.fan = 1.0  # actual speed 0..1
        self.fan_cmd = 1.0
        self.q = 0.0
        self.t_in = 35.0
        self.t_out = 35.0
        self.m_water = 0.0
        self.fan_power = 0.0

    def step(self, dt: float, m_water: float, t_in: float, t_amb: float) -> float:
        """Heat rejected (kW, negative if the air is warmer than the water)."""
        cfg = self.cfg
        rate = dt / cfg.fan_ramp_s
        d = self.fan_cmd - self.fan
        self.fan += max(-rate, min(rate, d))
        self.fan_power = cfg.units * cfg.fan_power_kw * self.fan**3
        self.t_in = t_in
        self.m_water = m_water
        if m_water <= 1e-6:
            self.q = 0.0
            self.t_out = t_in
            return 0.0
        air = max(self.fan, cfg.natural_fraction)
        c_w = m_water / cfg.units * CP_WATER
        c_a = self.c_air_design * air
        eps = eff_crossflow(self.ua_design * air**0.6, c_w, c_a)
        q = cfg.units * eps * min(c_w, c_a) * (t_in - t_amb)
        self.q = q
        self.t_out = t_in - q / (m_water * CP_WATER)
        return q
