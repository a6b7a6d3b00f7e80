"""The heat pump's performance map, on arrays: the simulator's map, hour by hour.

The simulated unit (``simulator.physics.heatpump.HeatPump``) takes its capacity and
COP from ``simulator.physics.hpmap``: a manufacturer-style map on LEAVING water
temperatures with the compressor's part-load curve. This module evaluates that same
pure function for a whole year of operating points at once; it holds no physics of
its own, so when the map changes the study follows, and the engine-against-simulator
test shows at once if it did not.

Given the heat asked of the condenser, the part-load ratio is that heat over the
full-load capacity at the leaving temperatures, and the evaporator's leaving
temperature follows from the heat taken; the two are solved together by a few
fixed-point passes (the simulator's ``solve_capacity`` does the same from a load).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from simulator.physics import CP_WATER, hpmap
from simulator.physics.heatpump import map_params
from simulator.plantconfig import HeatPumpConfig

Array = NDArray[np.float64]
EVAP_WATER_MIN = -5.0
"""Water cannot leave the evaporator colder: the low-pressure cut-out acts first
(the same bound as the simulated unit's)."""


@dataclass(frozen=True, slots=True)
class HpPoint:
    """Performance at each operating point (kW, °C)."""

    cop: Array
    q_cond: Array
    q_evap: Array
    w_el: Array


def hp_map(
    cfg: HeatPumpConfig,
    q_cond: Array,
    t_cond_in: Array,
    t_cond_out: Array,
    t_evap_in: Array,
    m_evap: Array | float,
) -> HpPoint:
    """Electricity and source heat for condenser duty ``q_cond`` at the given water temperatures.

    ``t_cond_out`` is the condenser's leaving water (the unit holds it with its own
    condenser pump, so ``t_cond_in`` does not enter the map); ``m_evap`` is the
    source-water flow through the evaporator (kg/s). A duty above the full-load
    capacity at those temperatures is cut to it.
    """
    del t_cond_in  # the map works on leaving temperatures
    p = map_params(cfg)
    q_ask = np.asarray(q_cond, dtype=float)
    t_co = np.broadcast_to(np.asarray(t_cond_out, dtype=float), q_ask.shape)
    t_ei = np.broadcast_to(np.asarray(t_evap_in, dtype=float), q_ask.shape)
    c_e = np.maximum(np.broadcast_to(np.asarray(m_evap, dtype=float) * CP_WATER, q_ask.shape), 1e-6)
    cop = np.full(q_ask.shape, 4.0)
    q = q_ask
    for _ in range(12):
        t_el = t_ei - q * (1.0 - 1.0 / cop) / c_e
        cap = hpmap.full_load_capacity(t_el, t_co, p)
        q = np.minimum(q_ask, cap)
        plr = np.clip(q / np.maximum(cap, 1e-9), 0.0, 1.0)
        cop = hpmap.cop(t_el, t_co, plr, p)
    q_e = q * (1.0 - 1.0 / cop)
    q_e_max = np.maximum(c_e * (t_ei - EVAP_WATER_MIN), 0.0)
    bound = q_e > q_e_max
    q_e = np.where(bound, q_e_max, q_e)
    q_c = np.where(bound, q_e / (1.0 - 1.0 / cop), q)
    off = q_ask <= 0.0
    zero = np.zeros(q_ask.shape)
    return HpPoint(
        cop=np.where(off, 0.0, cop),
        q_cond=np.where(off, zero, q_c),
        q_evap=np.where(off, zero, q_e),
        w_el=np.where(off, zero, q_c - q_e),
    )
