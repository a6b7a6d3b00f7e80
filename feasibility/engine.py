"""A year of the plant, hour by hour: energy flows from the component models and dispatch.

Three passes. First, everything that does not depend on the tank is computed for
all hours at once (IT heat, source temperature, the most heat the heat pump can
make from that source). Second, the controller's dispatch walks the hours with the
tank as its only state: the same rules as controller/core/heatpumpctl.py (charge
towards a target that follows the demand, start and stop on the tank's state of
charge, source limit, minimum load) at hourly resolution, on plain floats. Third,
the heat-pump map, dry coolers and pumps are evaluated on the dispatched duties for
all hours at once.

Hourly averages hide what happens inside the hour; two effects matter and are kept:
a heat pump asked for less than its minimum load (by the demand, or by a source too
weak to carry it) runs at minimum load for part of the hour, so its COP is that of
minimum load; and a tank that would pass its stop level stops the heat pump within
the hour.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from feasibility.drycoolers import fan_power_kw
from feasibility.heatpump import hp_map
from simulator.physics import CP_WATER
from simulator.plantconfig import PlantConfig

Array = NDArray[np.float64]
TANK_RHO = 985.0  # kg/m3, water between 40 and 70 °C
DH_MIN_FLOW = 0.10  # controller/core/injection.py MIN_FLOW_PCT: the line keeps flowing


@dataclass(frozen=True, slots=True)
class Dispatch:
    """The controller settings that shape a year (from the site file's sections)."""

    fws_supply_temp: float = 35.0
    fws_recovery_margin_k: float = 1.0
    tank_soc_target: float = 0.9
    tank_soc_min: float = 0.05
    tank_soc_restart: float = 0.25
    tank_soc_stop: float = 0.95
    charge_margin_k: float = 0.5
    start_demand_pct: float = 50.0
    source_min_frac: float = 0.125
    """The site's ``heatpump.source_min_pct`` as a share of its heat-pump capacity, so a
    resized heat pump (sweep, pilot) keeps the same stop-for-lack-of-source rule."""
    soc_kp_kw: float = 2000.0
    """Proportional gain of the tank-charge loop (kW per unit of state of charge)."""
    fws_pump_speed: float = 1.0


@dataclass(frozen=True, slots=True)
class HourlyInputs:
    """One value per hour (any number of hours)."""

    utilisation: Array
    ambient: Array
    demand_kw: Array
    supply_temp: Array
    return_temp: Array

    def __post_init__(self) -> None:
        n = len(self.utilisation)
        for name in ("ambient", "demand_kw", "supply_temp", "return_temp"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name} has {len(getattr(self, name))} hours, not {n}")


@dataclass(slots=True)
class YearResult:
    """Hourly flows (kW, equal to kWh per hour) and their totals."""

    it_heat: Array
    source_temp: Array
    hp_heat: Array
    hp_elec: Array
    recovered: Array
    delivered: Array
    demand: Array
    dumped: Array
    fan_elec: Array
    pump_elec: Array
    tank_soc: Array
    tank_loss: Array
    cop: Array
    cooling_short: Array
    starts: int
    totals: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = {
            k: float(np.sum(getattr(self, k)))
            for k in (
                "it_heat",
                "hp_heat",
                "hp_elec",
                "recovered",
                "delivered",
                "demand",
                "dumped",
                "fan_elec",
                "pump_elec",
                "tank_loss",
                "cooling_short",
            )
        }
        t["electricity"] = t["hp_elec"] + t["fan_elec"] + t["pump_elec"]
        t["seasonal_cop"] = t["hp_heat"] / t["hp_elec"] if t["hp_elec"] > 0 else 0.0
        t["starts"] = float(self.starts)
        self.totals = t


def tank_capacity_kwh(volume_m3: float, t_hot: Array, t_cold: Array) -> Array:
    return volume_m3 * TANK_RHO * CP_WATER * np.maximum(t_hot - t_cold, 1.0) / 3600.0


def source_limit_kw(
    plant: PlantConfig, q_it: Array, t_evap_in: Array, t_out: Array, t_in: Array, m_f: float
) -> Array:
    """The condenser heat at which the evaporator takes all the IT heat (capped at capacity).

    A fixed-point iteration on the COP, which itself depends on the duty.
    """
    cfg = plant.heatpump
    q = np.minimum(q_it * 1.3, cfg.capacity_kw)
    for _ in range(8):
        p = hp_map(cfg, q, t_in, t_out, t_evap_in, m_f)
        cop = np.where(p.cop > 1.01, p.cop, 4.0)
        q = np.minimum(q_it * cop / (cop - 1.0), cfg.capacity_kw)
    return q


def _dispatch(
    plant: PlantConfig,
    d_s: Dispatch,
    initial_soc: float,
    demand: Array,
    q_src: Array,
    e_cap: Array,
    deliver_max: Array,
    q_it: Array,
    t_sup: Array,
    t_ret: Array,
) -> tuple[Array, Array, Array, Array, Array, int]:
    """Pass 2: the controller's dispatch, hour by hour, with the tank as the only state.

    Returns per hour the heat pump's load while running, the running share of the
    hour, heat delivered, tank state of charge at the end of the hour and tank loss;
    and the number of starts.
    """
    n = len(demand)
    cap = plant.heatpump.capacity_kw
    q_min = plant.heatpump.min_load_pct / 100.0 * cap
    ua_loss = plant.tank.loss_w_per_k / 1000.0
    room_temp = plant.tank.room_temp
    floor = d_s.tank_soc_restart + 0.05
    q_run, run_frac, delivered, soc_out, loss = (np.zeros(n) for _ in range(5))
    on = True
    starts = 0
    e = initial_soc * float(e_cap[0])
    hours = zip(
        demand.tolist(), q_src.tolist(), e_cap.tolist(), deliver_max.tolist(), q_it.tolist(),
        t_sup.tolist(), t_ret.tolist(), strict=True,
    )  # fmt: skip
    for h, (d_asked, qs, ec, dmax, qi, ts, tr) in enumerate(hours):
        e = min(e, ec)
        soc = e / ec
        d = min(d_asked, dmax)
        enough = d >= 0.9 * q_min
        was_on = on
        if qi < d_s.source_min_frac * cap:
            on = False
        elif on:
            on = not (soc >= d_s.tank_soc_stop and not enough)
        else:
            big = d >= d_s.start_demand_pct / 100.0 * cap
            on = (big and soc < d_s.tank_soc_stop) or soc < d_s.tank_soc_restart
        if on and not was_on:
            starts += 1
        lo = ua_loss * (tr + soc * (ts - tr) - room_temp)
        q = 0.0
        if on:
            target = max(floor, min(d_s.tank_soc_target, d / cap))
            # The charge loop closes (1 - exp(-kp / E)) of its gap in an hour.
            gain = 1.0 - math.exp(-d_s.soc_kp_kw / ec)
            # The charge loop's output is bounded at zero (heatpumpctl: limits 0..cap):
            # the heat pump never holds back to empty the tank, the demand does that.
            q_want = d + max(0.0, (target - soc) * ec * gain)
            # Minimum load as far as the source allows; below it the heat pump runs at
            # minimum load for part of the hour (the source limit, on average).
            q = min(cap, max(q_min, q_want), qs)
            # A tank reaching its stop level stops the heat pump within the hour.
            room = d_s.tank_soc_stop * ec - e + d + lo
            if q > room and not enough:
                q = max(0.0, room)
                on = False
        deliv = min(d, q + max(0.0, e - d_s.tank_soc_min * ec))
        e = max(0.0, e + q - deliv - lo)
        if q > 0.0:
            q_run[h] = max(q, q_min)
            run_frac[h] = q / q_run[h]
        delivered[h] = deliv
        soc_out[h] = min(1.0, e / ec)
        loss[h] = lo
    return q_run, run_frac, delivered, soc_out, loss, starts


def dh_pump_speed(plant: PlantConfig, flow: Array) -> Array:
    """Injection pump speed (0..1) for a flow (share of nominal) against the network.

    H = H0 n^2 - k Q^2 with the network's differential pressure to overcome (the
    simulator's pump curve, controller/core/injection.py ``speed_for_flow``).
    """
    h0, dp = plant.pumps.dh.shutoff_head_bar, plant.dh.network_dp_bar
    if h0 is None or dp <= 0.0:
        return flow
    r = min(dp / h0, 1.0)
    return np.sqrt(r + (1.0 - r) * flow * flow)


def run_year(
    plant: PlantConfig, dispatch: Dispatch, inputs: HourlyInputs, initial_soc: float = 0.5
) -> YearResult:
    hp = plant.heatpump
    m_f = plant.pumps.fws.nominal_flow_m3h / 3.6 * 0.99 * dispatch.fws_pump_speed
    c_f = m_f * CP_WATER
    q_it = plant.it_liquid_kw * np.asarray(inputs.utilisation, dtype=float)
    t_sup = np.asarray(inputs.supply_temp, dtype=float)
    t_ret = np.asarray(inputs.return_temp, dtype=float)
    demand = np.maximum(np.asarray(inputs.demand_kw, dtype=float), 0.0)
    # Pass 1: the source. Source-limited, the heat pump pulls facility water down to
    # the source loop's setpoint (supply minus the recovery margin).
    t_src_lim = dispatch.fws_supply_temp - dispatch.fws_recovery_margin_k + q_it / c_f
    t_charge = t_sup + dispatch.charge_margin_k
    # At the lowest outlet the heat pump will run at (the supply itself, while the tank
    # discharges) its COP is highest and it draws the most from the source for a
    # given duty: limiting there keeps every hour within the IT heat.
    q_src = source_limit_kw(plant, q_it, t_src_lim, t_sup, t_ret, m_f)
    e_cap = tank_capacity_kwh(plant.tank.volume_m3, t_sup, t_ret)
    m_dh_max = plant.pumps.dh.nominal_flow_m3h / 3.6 * 0.99
    deliver_max = m_dh_max * CP_WATER * np.maximum(t_sup - t_ret, 1.0)
    q_run, run_frac, delivered, soc_out, loss, starts = _dispatch(
        plant, dispatch, initial_soc, demand, q_src, e_cap, deliver_max, q_it, t_sup, t_ret
    )
    # Pass 3: heat pump, dry coolers and pumps on the dispatched duties.
    q_hp = q_run * run_frac
    t_out = np.where(q_hp >= delivered, t_charge, t_sup)
    # Facility water at its setpoint while the dry coolers take the rest; where the
    # heat pump would then draw more than the IT heat, it is the one holding the
    # water, at the source loop's setpoint (pass 1 sized the duty for that).
    t_evap_free = dispatch.fws_supply_temp + q_it / c_f
    t_evap_lim = t_src_lim
    pt = hp_map(hp, q_run, t_ret, t_out, t_evap_free, m_f)
    src_limited = (q_run >= q_src - 1e-6) | (pt.q_evap * run_frac > q_it)
    t_evap_in = np.where(src_limited, t_evap_lim, t_evap_free)
    pt = hp_map(hp, q_run, t_ret, t_out, t_evap_in, m_f)
    hp_elec = pt.w_el * run_frac
    recovered = pt.q_evap * run_frac
    dumped = np.maximum(q_it - recovered, 0.0)
    t_dc_in = t_evap_in - recovered / c_f
    fan, short = fan_power_kw(plant.drycoolers, dumped, m_f, t_dc_in, np.asarray(inputs.ambient))
    m_d = delivered / (CP_WATER * np.maximum(t_sup - t_ret, 1.0))
    flow = np.where(delivered > 0.0, np.clip(m_d / m_dh_max, DH_MIN_FLOW, 1.0), 0.0)
    speed = np.where(delivered > 0.0, dh_pump_speed(plant, flow), 0.0)
    pumps = (
        plant.pumps.fws.power_kw * dispatch.fws_pump_speed**3 + plant.pumps.dh.power_kw * speed**3
    )
    return YearResult(
        it_heat=q_it,
        source_temp=t_evap_in,
        hp_heat=q_hp,
        hp_elec=hp_elec,
        recovered=recovered,
        delivered=delivered,
        demand=demand,
        dumped=dumped,
        fan_elec=fan,
        pump_elec=pumps,
        tank_soc=soc_out,
        tank_loss=loss,
        cop=pt.cop,
        cooling_short=short,
        starts=starts,
    )
