"""Coolant distribution unit: racks heat a technology-cooling loop (TCS) that hands
its heat to facility water through a counterflow plate exchanger.

The TCS loop is one lumped mass at its return (hot) temperature, so a loss of
facility-water flow shows up as rack coolant heating at the rate the thermal mass
allows, which is what the IT cares about.
"""

from __future__ import annotations

from simulator.physics import CP_WATER
from simulator.physics.hx import eff_counterflow, solve_ua
from simulator.plantconfig import CduDesign, ItConfig


class Cdu:
    __slots__ = (
        "_eps_cf",
        "_eps_for",
        "c_tcs",
        "cap",
        "heat_kw",
        "it_kw",
        "liquid",
        "m_fws",
        "name",
        "q_hx",
        "rack_kw",
        "racks",
        "t_fws_in",
        "t_fws_out",
        "t_tcs_ret",
        "t_tcs_sup",
        "ua",
    )

    def __init__(
        self,
        name: str,
        racks: int,
        it: ItConfig,
        design: CduDesign,
        design_fws_flow_kg_s: float,
        t_fws: float,
        utilisation: float,
    ) -> None:
        self.name = name
        self.racks = racks
        self.rack_kw = it.rack_power_kw
        self.liquid = it.liquid_fraction
        q_design = racks * it.rack_power_kw * it.liquid_fraction
        self.c_tcs = q_design / design.tcs_delta_t_k
        c_f = design_fws_flow_kg_s * CP_WATER
        eps = (
            design.tcs_delta_t_k
            * self.c_tcs
            / (min(self.c_tcs, c_f) * (design.approach_k + design.tcs_delta_t_k))
        )
        self.ua = solve_ua(eff_counterflow, eps, self.c_tcs, c_f)
        self.cap = design.tcs_volume_m3 * 1000.0 * CP_WATER
        q0 = q_design * utilisation
        eps0 = eff_counterflow(self.ua, self.c_tcs, c_f)
        self.t_tcs_ret = t_fws + q0 / (eps0 * min(self.c_tcs, c_f))
        self.t_tcs_sup = self.t_tcs_ret - q0 / self.c_tcs
        self.t_fws_in = t_fws
        self.t_fws_out = t_fws + q0 / c_f
        self.q_hx = q0
        self.it_kw = q0 / self.liquid
        self.heat_kw = q0
        self.m_fws = design_fws_flow_kg_s
        self._eps_for = -1.0  # facility-water capacity rate the cached effectiveness is for
        self._eps_cf = 0.0

    def step(self, dt: float, utilisation: float, t_fws_in: float, m_fws: float) -> float:
        """Advance the TCS loop; return the heat handed to facility water (kW)."""
        self.it_kw = self.racks * self.rack_kw * utilisation
        q_it = self.it_kw * self.liquid
        self.heat_kw = q_it
        self.m_fws = m_fws
        self.t_fws_in = t_fws_in
        c_f = m_fws * CP_WATER
        if c_f > 1e-6:
            if c_f != self._eps_for:  # flow changes rarely: skip the exponentials
                self._eps_for = c_f
                self._eps_cf = eff_counterflow(self.ua, self.c_tcs, c_f)
            eps = self._eps_cf
            q = eps * min(self.c_tcs, c_f) * (self.t_tcs_ret - t_fws_in)
            self.t_fws_out = t_fws_in + q / c_f
        else:
            q = 0.0
            self.t_fws_out = t_fws_in
        self.q_hx = q
        self.t_tcs_sup = self.t_tcs_ret - q / self.c_tcs
        self.t_tcs_ret += (q_it - q) * dt / self.cap
        return q
