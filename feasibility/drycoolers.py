"""Dry-cooler bank on arrays: the fan speed (and power) each hour's rejected heat needs.

The ratings, UA values and the glycol circuit come from the simulator's own
``DryCoolers`` (built once), and the heat rejected is the same closed form of plate
exchanger and coils in series, with air mass flow following air density, evaluated
over a grid of fan speeds for every hour at once. The facility-water loop strokes
the bypass valve before it starts the fans (controller/core/fwsloop.py), so an hour
whose heat the coils reject by natural draught costs no fan power.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from simulator.physics import CP_WATER
from simulator.physics.drycooler import DryCoolers
from simulator.physics.glycol import KELVIN
from simulator.plantconfig import DryCoolerConfig

Array = NDArray[np.float64]
_GRID = np.linspace(0.0, 1.0, 51)


def eff_crossflow(ua: Array, c1: Array, c2: Array) -> Array:
    """Cross-flow, both fluids unmixed (simulator.physics.hx.eff_crossflow on arrays)."""
    c_min = np.minimum(c1, c2)
    c_max = np.maximum(c1, c2)
    ntu = ua / np.maximum(c_min, 1e-9)
    cr = c_min / np.maximum(c_max, 1e-9)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = 1.0 - np.exp((ntu**0.22 / cr) * (np.exp(-cr * ntu**0.78) - 1.0))
    return np.where(cr < 1e-6, 1.0 - np.exp(-ntu), e)


def eff_counterflow(ua: float, c1: Array, c2: float) -> Array:
    """Counter-flow (simulator.physics.hx.eff_counterflow on arrays)."""
    c_min = np.minimum(c1, c2)
    c_max = np.maximum(c1, c2)
    ntu = ua / np.maximum(c_min, 1e-9)
    cr = c_min / np.maximum(c_max, 1e-9)
    e = np.exp(-ntu * (1.0 - cr))
    with np.errstate(divide="ignore", invalid="ignore"):
        eps = np.where(cr > 0.999, ntu / (1.0 + ntu), (1.0 - e) / (1.0 - cr * e))
    return np.where(c_min <= 0.0, 0.0, eps)


def density_ratio(cfg: DryCoolerConfig, t_amb: Array) -> Array:
    """Air density over its design value: ideal gas at one pressure, so the inverse
    ratio of absolute temperatures (simulator.physics.glycol.air_density)."""
    return (cfg.design_ambient + KELVIN) / (t_amb + KELVIN)


def capacity_kw(
    cfg: DryCoolerConfig, fan: Array, m_water: Array, t_in: Array, t_amb: Array
) -> Array:
    """Heat the bank rejects at fan speed ``fan`` (0..1) with all the water through it.

    Plate exchanger and coils in series (simulator.physics.drycooler.DryCoolers.step):
    q = K_h (T_w - T_air) / (1 + K_h (1/K_c - 1/C_g)).
    """
    dc = DryCoolers(cfg)
    density = density_ratio(cfg, t_amb)
    air = np.maximum(fan, cfg.natural_fraction) * density
    c_g = dc.c_glycol
    c_g_unit = c_g / cfg.units
    c_a = dc.c_air_design * air
    k_c = cfg.units * eff_crossflow(dc.ua_design * air**0.6, np.full_like(c_a, c_g_unit), c_a)
    k_c = k_c * np.minimum(c_g_unit, c_a)
    c_w = m_water * CP_WATER
    k_h = eff_counterflow(dc.ua_hx, c_w, c_g) * np.minimum(c_w, c_g)
    return k_h * (t_in - t_amb) / (1.0 + k_h * (1.0 / k_c - 1.0 / c_g))


def fan_power_kw(
    cfg: DryCoolerConfig, q_reject: Array, m_water: float, t_in: Array, t_amb: Array
) -> tuple[Array, Array]:
    """Fan power to reject ``q_reject`` each hour, and the heat it could not reject.

    The speed is the lowest on the grid (interpolated) whose capacity meets the load;
    above the full-speed capacity the fans run flat out and the rest is short.
    """
    q = np.asarray(q_reject, dtype=float)
    cap = capacity_kw(
        cfg, _GRID[None, :], np.full((q.size, 1), m_water), t_in[:, None], t_amb[:, None]
    )
    full = cap[:, -1]
    need = np.minimum(q, full)
    # Capacity rises with fan speed; find the first grid point that is enough.
    idx = np.argmax(cap >= need[:, None] - 1e-9, axis=1)
    hi = np.clip(idx, 1, _GRID.size - 1)
    lo = hi - 1
    rows = np.arange(q.size)
    c_lo, c_hi = cap[rows, lo], cap[rows, hi]
    frac = np.clip((need - c_lo) / np.maximum(c_hi - c_lo, 1e-9), 0.0, 1.0)
    speed = np.where(idx == 0, 0.0, _GRID[lo] + frac * (_GRID[hi] - _GRID[lo]))
    speed = np.where(q <= 0.0, 0.0, speed)
    # Fans move volume: their power follows air density (the simulator's fan power).
    density = density_ratio(cfg, np.asarray(t_amb, dtype=float))
    power = cfg.units * cfg.fan_power_kw * speed**3 * density
    return power, np.maximum(q - full, 0.0)
