"""MID heat meter on the district-heating connection.

An EN 1434 calculator of its own: volume from an ultrasonic flow sensor in the
return (with a small bias, as every real meter has), a matched temperature pair
(with a pair error) and temperature-dependent density and enthalpy. Its integer
energy register rolls over like a real one. The simulator's own heat is integrated
separately with the physics' constant heat capacity, so meter and truth differ by
realistic amounts that the accounting must explain.
"""

from __future__ import annotations

from simulator.physics.water import density, heat_coefficient
from simulator.plantconfig import HeatMeterConfig


class HeatMeter:
    def __init__(
        self,
        cfg: HeatMeterConfig,
        energy_start_kwh: float = 1_234_567.0,
        t_supply: float = 40.0,
        t_return: float = 40.0,
    ) -> None:
        self.cfg = cfg
        self.energy_kwh = energy_start_kwh
        self.volume_m3 = 25_000.0
        self.flow_m3h = 0.0
        self.power_kw = 0.0
        self.t_supply = t_supply + cfg.temp_pair_bias_k / 2
        self.t_return = t_return - cfg.temp_pair_bias_k / 2
        self.error_code = 0

    def step(self, dt: float, m_kg_s: float, t_supply: float, t_return: float) -> None:
        cfg = self.cfg
        a = min(1.0, dt / 5.0)  # the pair's own response time
        self.t_supply += (t_supply + cfg.temp_pair_bias_k / 2 - self.t_supply) * a
        self.t_return += (t_return - cfg.temp_pair_bias_k / 2 - self.t_return) * a
        t_flow = self.t_return if cfg.flow_in_return else self.t_supply
        v = m_kg_s / density(t_flow) * (1.0 + cfg.flow_bias_pct / 100.0)  # m3/s
        self.flow_m3h = v * 3600.0
        self.volume_m3 += v * dt
        dtemp = self.t_supply - self.t_return
        if v > 0.0 and dtemp > 0.0:
            k = heat_coefficient(self.t_supply, self.t_return, cfg.flow_in_return)
            self.power_kw = v * 3600.0 * k * dtemp
            self.energy_kwh += self.power_kw * dt / 3600.0
            self.error_code = 0
        else:
            self.power_kw = 0.0
            # EN 1434 meters do not count reversed temperature difference; they flag it.
            self.error_code = 16 if (v > 0.0 and dtemp < -0.5) else 0
