"""Dry-cooler bank on a glycol circuit, behind a plate exchanger from facility water.

Rated like a datasheet: capacity at a design ambient with design fluid in/out and
air temperature rise. The coils run an ethylene-glycol mixture (``glycol``) so they
cannot freeze; a plate exchanger hands the facility water's heat to that circuit,
whose pump runs while water flows. The circuit holds no heat (its few hundred litres
are small beside the loops'), so the two exchangers in series have a closed form:

    q = K_h (T_w - T_air) / (1 + K_h (1/K_c - 1/C_g))

with K_h = eps_h * C_min of the plate exchanger, K_c = units * eps_c * C_min of the
coils, C_g the glycol capacity rate. Air flow follows fan speed with a natural-
draught floor, and its MASS flow follows air density (fans move volume): cold air
cools better per fan speed. Air-side UA scales with air mass flow to the power 0.6.

Frost: water in the plate exchanger freezes if the glycol entering it is below
``frost_limit`` while water flows; the seconds spent so are counted (``frost_s``)
for the tests and the bench, and the glycol temperature is a sensor point so the
controller can keep the fans off it.
"""

from __future__ import annotations

from simulator.physics import CP_WATER
from simulator.physics.glycol import Glycol, air_density, ethylene_glycol
from simulator.physics.hx import eff_counterflow, eff_crossflow, solve_ua
from simulator.plantconfig import DryCoolerConfig


class DryCoolers:
    def __init__(self, cfg: DryCoolerConfig) -> None:
        self.cfg = cfg
        self.glycol: Glycol = ethylene_glycol(cfg.glycol_mass_fraction)
        dt_design = cfg.design_water_in - cfg.design_water_out
        c_w = cfg.capacity_kw / dt_design  # glycol through one coil at design, kW/K
        c_a = cfg.capacity_kw / cfg.design_air_rise_k
        eps = cfg.capacity_kw / (min(c_w, c_a) * (cfg.design_water_in - cfg.design_ambient))
        self.ua_design = solve_ua(eff_crossflow, eps, c_w, c_a)
        self.c_air_design = c_a
        self.rho_air_design = air_density(cfg.design_ambient)
        # Glycol circuit pump: the design flow of all coils; plate exchanger sized for
        # the design approach at equal capacity rates (Cr = 1: NTU = eps / (1 - eps)).
        self.c_glycol = cfg.units * c_w
        self.glycol_flow_m3h = self.c_glycol / (self.glycol.cp * self.glycol.density) * 3600.0
        self.ua_hx = self.c_glycol * dt_design / cfg.hx_approach_k
        self.fan = 1.0  # actual speed 0..1
        self.fan_cmd = 1.0
        self.q = 0.0
        self.t_in = 35.0
        self.t_out = 35.0
        self.t_glycol = 35.0  # glycol leaving the coils = entering the plate exchanger
        self.m_water = 0.0
        self.fan_power = 0.0
        self.frost_s = 0.0
        self.min_glycol_flowing = float("inf")
        # Effectiveness terms change only with fan speed, air and water flow: cached.
        self._kc_key = (-1.0, -1e9)
        self._k_c = 0.0
        self._kh_key = -1.0
        self._k_h = 0.0
        self._rho_key = -1e9
        self._rho = 1.0

    def step(self, dt: float, m_water: float, t_in: float, t_amb: float) -> float:
        """Heat rejected (kW, negative if the air is warmer than the water)."""
        cfg = self.cfg
        rate = dt / cfg.fan_ramp_s
        d = self.fan_cmd - self.fan
        self.fan += max(-rate, min(rate, d))
        if t_amb != self._rho_key:
            self._rho_key = t_amb
            self._rho = air_density(t_amb) / self.rho_air_design
        density = self._rho
        self.fan_power = cfg.units * cfg.fan_power_kw * self.fan**3 * density
        self.t_in = t_in
        self.m_water = m_water
        if m_water <= 1e-6:
            # No water through the plate exchanger: the glycol pump stops, the circuit
            # settles at the air temperature.
            self.q = 0.0
            self.t_out = t_in
            self.t_glycol = t_amb
            return 0.0
        c_g = self.c_glycol
        key = (self.fan, density)
        if key != self._kc_key:
            self._kc_key = key
            air = max(self.fan, cfg.natural_fraction) * density
            c_a = self.c_air_design * air
            c_g_unit = c_g / cfg.units
            eps_c = eff_crossflow(self.ua_design * air**0.6, c_g_unit, c_a)
            self._k_c = cfg.units * eps_c * min(c_g_unit, c_a)
        k_c = self._k_c
        c_w = m_water * CP_WATER
        if c_w != self._kh_key:
            self._kh_key = c_w
            self._k_h = eff_counterflow(self.ua_hx, c_w, c_g) * min(c_w, c_g)
        k_h = self._k_h
        q = k_h * (t_in - t_amb) / (1.0 + k_h * (1.0 / k_c - 1.0 / c_g))
        self.q = q
        self.t_out = t_in - q / c_w
        self.t_glycol = t_amb + q / k_c - q / c_g
        self.min_glycol_flowing = min(self.min_glycol_flowing, self.t_glycol)
        if self.t_glycol < cfg.frost_limit:
            self.frost_s += dt
        return q
