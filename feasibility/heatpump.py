"""The heat pump's performance map, on arrays: the simulator's model, hour by hour.

``simulator.physics.heatpump.HeatPump.exchange`` finds saturation temperatures from
evaporator and condenser UA and applies a Carnot fraction. This is the same model,
evaluated for a whole year of operating points at once. It is deliberately one
function: when the simulator's heat pump changes (a manufacturer-style map, a
compressor type), this is the only place the study has to follow, and the
engine-against-simulator test shows at once if it did not.

Part-load behaviour falls out of the model: at lower load the exchangers work with
smaller temperature differences, so the lift between saturation temperatures, and
with it the COP, improves.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulator.physics import CP_WATER
from simulator.physics.heatpump import HeatPump
from simulator.plantconfig import HeatPumpConfig

KELVIN = 273.15
Array = NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class HpPoint:
    """Performance at each operating point (kW, °C)."""

    cop: Array
    q_cond: Array
    q_evap: Array
    w_el: Array


def _sizing(cfg: HeatPumpConfig) -> tuple[float, float, float, float]:
    """Clean UA of evaporator and condenser and the condenser flow range (kg/s), taken
    from the simulator's own unit so the two can never be sized differently."""
    unit = HeatPump(cfg, design_evap_flow_kg_s=1.0)
    return unit.ua_evap_clean, unit.ua_cond_clean, unit.m_cond_min, unit.m_cond_max


def hp_map(
    cfg: HeatPumpConfig,
    q_cond: Array,
    t_cond_in: Array,
    t_cond_out: Array,
    t_evap_in: Array,
    m_evap: Array | float,
) -> HpPoint:
    """Electricity and source heat for condenser duty ``q_cond`` at the given water temperatures.

    ``m_evap`` is the source-water flow through the evaporator (kg/s). The condenser
    flow is what holds the outlet at ``t_cond_out``, within the unit's flow range,
    exactly as the simulated unit's condenser pump does in steady state.
    """
    q = np.asarray(q_cond, dtype=float)
    ua_e, ua_c, m_min, m_max = _sizing(cfg)
    lift_w = np.maximum(t_cond_out - t_cond_in, 1.0)
    m_c = np.clip(q / (CP_WATER * lift_w), m_min, m_max)
    c_c = m_c * CP_WATER
    c_e = np.broadcast_to(np.asarray(m_evap, dtype=float) * CP_WATER, q.shape)
    eps_c = 1.0 - np.exp(-ua_c / c_c)
    eps_e = 1.0 - np.exp(-ua_e / np.maximum(c_e, 1e-6))
    t_cs = t_cond_in + q / (eps_c * c_c)
    cop = np.full(q.shape, 4.0)
    for _ in range(8):
        q_e = q * (1.0 - 1.0 / cop)
        t_es = t_evap_in - q_e / (eps_e * c_e)
        cop = cfg.eta_carnot * (t_cs + KELVIN) / np.maximum(t_cs - t_es, 1.0)
        cop = np.clip(cop, 1.01, cfg.cop_max)
    q_e = q * (1.0 - 1.0 / cop)
    # The refrigerant cannot evaporate below -10 °C: that bounds the heat taken.
    q_e_max = np.maximum(eps_e * c_e * (t_evap_in + 10.0), 0.0)
    bound = q_e > q_e_max
    q_e = np.where(bound, q_e_max, q_e)
    q_c = np.where(bound, q_e / (1.0 - 1.0 / cop), q)
    off = q <= 0.0
    zero = np.zeros(q.shape)
    return HpPoint(
        cop=np.where(off, 0.0, cop),
        q_cond=np.where(off, zero, q_c),
        q_evap=np.where(off, zero, q_e),
        w_el=np.where(off, zero, q_c - q_e),
    )
