"""Heat-pump performance map: capacity and COP as a datasheet states them.

A manufacturer's selection table gives, for each pair of leaving water temperatures,
the full-load heating capacity and COP, and a separate part-load table. This module
is that table in closed form, a pure function of its arguments (floats, or numpy
arrays of equal shape) so the plant simulator steps it every second and a feasibility
study can evaluate a year of hourly points in one call. All parameters come from the
plant file (``[heatpump]``, ``HeatPumpConfig``), none are hidden here.

Temperature basis: LEAVING water temperatures on both sides (evaporator leaving,
condenser leaving), as the Modelica Buildings Carnot models use (entering
temperatures gave negative entropy generation at small lifts, ibpsa/modelica #497).

* Full-load COP: ``eta * T_cs / (T_cs - T_es)`` with saturation temperatures taken
  as leaving water temperature minus (evaporator) or plus (condenser) the design
  approach, in kelvin. ``eta`` is calibrated on the field point in
  shared/reference/domain.md: Mäntsälä, COP 3.4 lifting water 40 -> 85 °C.
* Full-load capacity: the rated capacity at the rating point, scaled by the suction
  gas density, ``exp(k_e * (T_evap_leaving - rated))`` (a positive-displacement
  compressor moves a fixed volume, so its heat follows the vapour density, which
  grows about exponentially with saturation temperature), and corrected linearly for
  the condenser leaving temperature (volumetric efficiency falls with pressure ratio).
* Part load: the compressor's electric input ratio at part-load ratio PLR is the
  DOE-2 / EnergyPlus quadratic ``EIRfPLR = a + b*PLR + c*PLR^2`` (1 at full load),
  so COP(PLR) = COP_full * PLR / EIRfPLR(PLR). The curve depends on how the machine
  unloads (variable speed, slide valve, inlet guide vanes, cylinder unloading);
  each type's coefficients and their source are in config/plant.toml.

The evaporator flow enters through the leaving temperature: the same heat taken
from less water leaves it colder, which lowers both capacity and COP
(``solve_capacity`` finds the consistent point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

KELVIN = 273.15


@dataclass(frozen=True, slots=True)
class MapParams:
    """The figures of one unit's map (see ``HeatPumpConfig`` for their sources)."""

    capacity_kw: float  # heating capacity at the rating point, full load
    rated_evap_leaving: float  # °C
    rated_cond_leaving: float  # °C
    eta_carnot: float  # Carnot fraction on saturation temperatures
    evap_approach_k: float  # leaving water minus evaporating temperature, full load
    cond_approach_k: float  # condensing temperature minus leaving water, full load
    cap_per_k_evap: float  # capacity change per K of evaporator leaving temperature
    cap_per_k_cond: float  # capacity change per K of condenser leaving temperature
    eir_plr: tuple[float, float, float]  # a, b, c of EIRfPLR
    cop_max: float = 8.0


def _clip(x: Any, lo: float, hi: float) -> Any:
    if isinstance(x, float | int):
        return lo if x < lo else (hi if x > hi else float(x))
    import numpy as np  # noqa: PLC0415 - optional: only callers passing arrays have it

    return np.clip(x, lo, hi)


def _exp(x: Any) -> Any:
    if isinstance(x, float | int):
        return math.exp(x)
    import numpy as np  # noqa: PLC0415 - optional: only callers passing arrays have it

    return np.exp(x)


def full_load_cop(t_evap_leaving: Any, t_cond_leaving: Any, p: MapParams) -> Any:
    """COP at full load for the given leaving water temperatures (°C)."""
    t_es = t_evap_leaving - p.evap_approach_k
    t_cs = t_cond_leaving + p.cond_approach_k
    lift = _clip(t_cs - t_es, 1.0, 1e9)
    return _clip(p.eta_carnot * (t_cs + KELVIN) / lift, 1.01, p.cop_max)


def full_load_capacity(t_evap_leaving: Any, t_cond_leaving: Any, p: MapParams) -> Any:
    """Heating capacity (kW) at full load for the given leaving water temperatures (°C)."""
    suction = _exp(p.cap_per_k_evap * (t_evap_leaving - p.rated_evap_leaving))
    volumetric = _clip(1.0 - p.cap_per_k_cond * (t_cond_leaving - p.rated_cond_leaving), 0.0, 2.0)
    return p.capacity_kw * suction * volumetric


def part_load_factor(plr: Any, p: MapParams) -> Any:
    """COP(PLR) / COP(full load): PLR / EIRfPLR(PLR), normalised so it is 1 at PLR = 1."""
    a, b, c = p.eir_plr
    plr = _clip(plr, 0.01, 1.0)
    return plr * (a + b + c) / (a + plr * (b + plr * c))


def cop(t_evap_leaving: Any, t_cond_leaving: Any, plr: Any, p: MapParams) -> Any:
    """COP at a part-load ratio and leaving water temperatures (°C)."""
    return _clip(
        full_load_cop(t_evap_leaving, t_cond_leaving, p) * part_load_factor(plr, p),
        1.01,
        p.cop_max,
    )


def performance(t_evap_leaving: Any, t_cond_leaving: Any, plr: Any, p: MapParams) -> Any:
    """(heat kW, COP, electric kW) at a part-load ratio of the available capacity."""
    q = _clip(plr, 0.0, 1.0) * full_load_capacity(t_evap_leaving, t_cond_leaving, p)
    c = cop(t_evap_leaving, t_cond_leaving, plr, p)
    return q, c, q / c


def solve_capacity(
    plr: float,
    t_evap_in: float,
    c_evap_kw_k: float,
    t_cond_leaving: float,
    p: MapParams,
    cop_guess: float = 4.0,
    q_guess: float | None = None,
) -> tuple[float, float, float]:
    """(heat kW, COP, evaporator leaving °C) for water entering the evaporator.

    The evaporator leaving temperature depends on the heat taken, which depends on
    capacity and COP, which depend on that temperature. For a given COP the heat is
    the root of ``q - A*exp(-a*q)``, increasing and concave, so Newton's method from
    zero converges from below; four passes settle the COP. Given the last step's
    answer (``q_guess``, ``cop_guess``) two passes of two Newton steps do. Floats only.
    """
    plr = 0.0 if plr < 0.0 else (1.0 if plr > 1.0 else plr)
    # The COP at this part load is eta_plf * T_cs / (T_cs - T_es): fold the constants.
    ea, eb, ec = p.eir_plr
    x = plr if plr > 0.01 else 0.01
    eta_plf = p.eta_carnot * x * (ea + eb + ec) / (ea + x * (eb + x * ec))
    t_cs = t_cond_leaving + p.cond_approach_k
    t_cs_k = t_cs + KELVIN
    cop_max = p.cop_max
    c = cop_guess
    q = q_guess if q_guess is not None and q_guess > 0.0 else 0.0
    warm = q > 0.0
    passes, newton = (2, 2) if warm else (4, 3)
    t_el = t_evap_in
    k_e = p.cap_per_k_evap
    volumetric = 1.0 - p.cap_per_k_cond * (t_cond_leaving - p.rated_cond_leaving)
    volumetric = 0.0 if volumetric < 0.0 else (2.0 if volumetric > 2.0 else volumetric)
    a0 = plr * p.capacity_kw * volumetric * math.exp(k_e * (t_evap_in - p.rated_evap_leaving))
    exp = math.exp
    for _ in range(passes):
        share = (1.0 - 1.0 / c) / c_evap_kw_k
        a = k_e * share  # d(exponent)/dq
        for _ in range(newton):
            g = a0 * exp(-a * q)
            q -= (q - g) / (1.0 + a * g)
        t_el = t_evap_in - q * share
        lift = t_cs - (t_el - p.evap_approach_k)
        c = eta_plf * t_cs_k / (lift if lift > 1.0 else 1.0)
        c = 1.01 if c < 1.01 else (cop_max if c > cop_max else c)
    return (q if q > 0.0 else 0.0), c, t_el


def carnot_fraction_of(cop_value: float, t_evap_leaving: float, t_cond_leaving: float) -> float:
    """Carnot fraction on water temperatures (no approach): the basis domain.md quotes."""
    t_h = t_cond_leaving + KELVIN
    return cop_value * (t_h - (t_evap_leaving + KELVIN)) / t_h if t_h > 0 else math.nan
