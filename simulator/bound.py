"""The physical bound: the most heat any controller could sell in a scenario.

A recovery figure means little on its own ("24 MWh delivered" - out of what?), so
each scenario is also solved for an ideal controller that has perfect foresight and
no control error but the *same* plant: the same heat-pump capacity and heat-pump
model, the same tank, the same IT heat, the same demand and network availability.
The recovery ratio is the heat a real controller delivered over this bound.

Production. At each instant the heat pump can make at most

    P(t) = min(capacity, Q_it(t) * COP / (COP - 1))

where Q_it = utilisation x racks x rack power x liquid fraction is the heat the racks
give to facility water (the heat pump cannot take more without cooling the water
down, and facility water has a few kWh per kelvin of mass - negligible beside a day)
and COP comes from the plant's own Carnot-fraction model
(``simulator.physics.heatpump.HeatPump.exchange``): evaporator fed with facility
water at its return temperature when the supply is as cold as the site file lets
the heat pump pull it (setpoint minus ``fws_recovery_margin_k``: the lowest COP, so
the most condenser heat per kWh of IT heat, within the limits), condenser from DH
return to DH setpoint with the condenser pump's own flow rule. Evaporator
fouling from an ``hx_fouling`` event is applied as the plant applies it. While a
``hp_trip`` event's cause is present P = 0; once it clears the ideal controller
restarts at once.

Demand. D(t) is the utility's demand while the network is available and injection
is enabled, else 0.

Storage. The tank holds up to E = V rho c_p (T_setpoint - T_return) of usable heat
(water at the DH return temperature is empty, at the setpoint full), and starts
with initial SOC x E.

Greedy is optimal. In steps k with production limit P_k, demand D_k, a store of
size C and no rate limit, any feasible policy has production 0 <= p_k <= P_k,
delivery 0 <= x_k <= D_k and store e_{k+1} = e_k + p_k - x_k in [0, C]. Greedy
delivers x_k = min(D_k, e_k + P_k) and produces p_k = min(P_k, C - e_k + x_k)
(make the most, store the surplus, draw on the store in deficit). Write X_k for
cumulative delivery and W_k = X_k + e_k = e_0 + sum p for the heat made available.
Claim: X^g_k >= X_k for every feasible policy and every k. By induction, with also
W^g_k >= W_k: (i) if greedy met the demand, X^g_{k+1} = X^g_k + D_k >= X_k + x_k;
otherwise X^g_{k+1} = W^g_k + P_k >= W_k + p_k = X_k + e_{k+1} + x_k >= X_{k+1}.
(ii) If greedy produced P_k, W^g grows by at least p_k; otherwise its store is
full, so W^g_{k+1} = X^g_{k+1} + C >= X_{k+1} + e_{k+1} = W_{k+1} by (i). So greedy's
total delivery is the maximum, which is the bound.

Assumptions (each makes the bound higher, never lower, except the last):
* tank standing losses, mixing and thermocline degradation ignored (lossless store);
* no rate limits: heat-pump ramp and start-up time, minimum load (20 %),
  minimum run/off times, valve travel and pump spin-up are ignored;
* the heat pump works at the temperatures the site's limits give it; a controller
  that ran the condenser hotter than the DH setpoint (and mixed down with cooler
  tank water) would lower the COP and buy condenser heat with electricity, and can
  then exceed the bound where production, not demand, limits - the electricity and
  COP columns show that price;
* DH setpoint and return temperature are taken at t = 0 for the tank's size
  (constant in every shipped scenario);
* faults of the controller itself (a stopped process, lost comms) do not reduce the
  bound: an ideal controller does not have them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from simulator.events import HpTrip, HxFouling
from simulator.physics import CP_WATER, RHO_WATER
from simulator.physics.heatpump import HeatPump
from simulator.physics.tank import RHO as TANK_RHO
from simulator.plantconfig import PlantConfig
from simulator.scenario import Scenario

DEFAULT_STEP_S = 10.0


@dataclass(frozen=True, slots=True)
class GreedyResult:
    delivered_kwh: float
    demand_kwh: float
    production_kwh: float  # heat the heat pump actually made (after curtailment)
    available_kwh: float  # heat the heat pump could have made
    curtailed_kwh: float  # could have made, but the tank was full and nobody asked
    unmet_kwh: float  # asked for, but neither heat pump nor tank had it
    stored_start_kwh: float
    stored_end_kwh: float
    capacity_kwh: float


def greedy_storage(
    production_kw: Sequence[float],
    demand_kw: Sequence[float],
    dt_h: float,
    capacity_kwh: float,
    initial_kwh: float,
) -> GreedyResult:
    """Most heat deliverable from a lossless store with no rate limit (see module doc)."""
    if len(production_kw) != len(demand_kw):
        raise ValueError("production and demand must have the same length")
    if capacity_kwh < 0 or not 0 <= initial_kwh <= capacity_kwh + 1e-9:
        raise ValueError("need 0 <= initial <= capacity")
    e = min(initial_kwh, capacity_kwh)
    delivered = demand = made = avail = unmet = 0.0
    for p_kw, d_kw in zip(production_kw, demand_kw, strict=True):
        p_max = max(0.0, p_kw) * dt_h
        d = max(0.0, d_kw) * dt_h
        x = min(d, e + p_max)
        p = min(p_max, capacity_kwh - e + x)
        e += p - x
        delivered += x
        demand += d
        made += p
        avail += p_max
        unmet += d - x
    return GreedyResult(
        delivered_kwh=delivered,
        demand_kwh=demand,
        production_kwh=made,
        available_kwh=avail,
        curtailed_kwh=avail - made,
        unmet_kwh=unmet,
        stored_start_kwh=min(initial_kwh, capacity_kwh),
        stored_end_kwh=e,
        capacity_kwh=capacity_kwh,
    )


def tank_capacity_kwh(volume_m3: float, t_hot: float, t_cold: float) -> float:
    """Usable heat of a tank between the DH return (empty) and the setpoint (full)."""
    return volume_m3 * TANK_RHO * CP_WATER * max(0.0, t_hot - t_cold) / 3600.0


class HeatPumpModel:
    """The plant's heat pump at a steady operating point, for the bound."""

    def __init__(self, cfg: PlantConfig) -> None:
        self.cfg = cfg
        self.m_evap = cfg.pumps.fws.nominal_flow_m3h * RHO_WATER / 3600.0  # as the plant's pumps
        self.hp = HeatPump(cfg.heatpump, self.m_evap)

    def max_heat(
        self,
        q_it_kw: float,
        t_fws_supply: float,
        t_cond_in: float,
        t_cond_out: float,
        evap_fouling: float = 1.0,
    ) -> tuple[float, float]:
        """(condenser heat, COP) when the heat pump takes all the IT heat it can."""
        cap = self.cfg.heatpump.capacity_kw
        if q_it_kw <= 0.0:
            return 0.0, 0.0
        self.hp.evap_fouling = evap_fouling
        t_evap_in = t_fws_supply + q_it_kw / (self.m_evap * CP_WATER)
        q = cap
        for _ in range(12):
            q_c, q_e, cop = self._exchange(q, t_evap_in, t_cond_in, t_cond_out)
            if q_e <= q_it_kw and (q >= cap or q_it_kw - q_e < 0.1):
                return q_c, cop
            # COP moves little with load: scaling by the heat ratio converges in a few.
            q = min(cap, q * q_it_kw / q_e) if q_e > 0 else 0.0
        q_c, q_e, cop = self._exchange(q, t_evap_in, t_cond_in, t_cond_out)
        return (q_c * min(1.0, q_it_kw / q_e) if q_e > 0 else 0.0), cop

    def _exchange(
        self, q_cond: float, t_evap_in: float, t_cond_in: float, t_cond_out: float
    ) -> tuple[float, float, float]:
        hp = self.hp
        lift = max(t_cond_out - t_cond_in, 1.0)
        hp.m_cond = min(hp.m_cond_max, max(hp.m_cond_min, q_cond / (CP_WATER * lift)))
        hp.load = q_cond / self.cfg.heatpump.capacity_kw * 100.0
        for _ in range(3):  # the model's COP iteration starts from its last guess
            hp.exchange(0.0, 1.0, t_cond_in, t_evap_in, self.m_evap, steady=True)
        return hp.q_cond, hp.q_evap, hp.cop


@dataclass(frozen=True, slots=True)
class ScenarioBound:
    scenario: str
    step_s: float
    greedy: GreedyResult
    mean_cop: float  # production-weighted COP of the ideal heat pump

    @property
    def delivered_kwh(self) -> float:
        return self.greedy.delivered_kwh

    def to_json(self) -> dict[str, Any]:
        g = {k: round(v, 3) for k, v in asdict(self.greedy).items()}
        return {"scenario": self.scenario, "step_s": self.step_s, "mean_cop": self.mean_cop, **g}


def _fouling_factor(events: Sequence[HxFouling], t: float) -> float:
    """Evaporator UA factor at time t, from the event's own ramp as the plant uses it."""
    factor = 1.0
    for ev in events:
        if ev.exchanger == "evaporator":
            factor *= ev.ua_factor_at(t)
    return factor


def scenario_bound(
    scenario: Scenario,
    plant_cfg: PlantConfig,
    fws_supply_temp: float = 34.0,
    step_s: float = DEFAULT_STEP_S,
) -> ScenarioBound:
    """Greedy bound for one scenario, sampled every ``step_s`` (left Riemann sum)."""
    sampler = scenario.sampler()
    sample = sampler.sample
    trips = [e for e in scenario.events if isinstance(e, HpTrip)]
    fouling = [e for e in scenario.events if isinstance(e, HxFouling)]
    racks = sum(c.racks for c in plant_cfg.cdus)
    it_kw_per_util = racks * plant_cfg.it.rack_power_kw * plant_cfg.it.liquid_fraction
    model = HeatPumpModel(plant_cfg)
    b0 = sample(0.0)
    capacity = tank_capacity_kwh(plant_cfg.tank.volume_m3, b0.dh_supply_setpoint, b0.dh_return_temp)
    n = max(1, math.ceil(scenario.duration / step_s - 1e-9))
    production: list[float] = []
    demand: list[float] = []
    cop_weighted = 0.0
    cache: dict[tuple[float, ...], tuple[float, float]] = {}
    for k in range(n):
        t = k * step_s
        b = sample(t)
        tripped = any(e.active(t) for e in trips)
        q_it = b.it_utilisation * it_kw_per_util
        key = (
            round(q_it, 1),
            b.dh_return_temp,
            b.dh_supply_setpoint,
            round(_fouling_factor(fouling, t), 4),
        )
        if tripped:
            p, cop = 0.0, 0.0
        else:
            hit = cache.get(key)
            if hit is None:
                hit = model.max_heat(q_it, fws_supply_temp, key[1], key[2], key[3])
                cache[key] = hit
            p, cop = hit
        production.append(p)
        cop_weighted += p * cop
        available = b.network_available and b.injection_enabled
        demand.append(b.dh_demand if available else 0.0)
    # The last step may be shorter than step_s; weight it by what remains.
    dt_h = step_s / 3600.0
    tail = scenario.duration - (n - 1) * step_s
    if n and tail < step_s:
        production[-1] *= tail / step_s
        demand[-1] *= tail / step_s
    greedy = greedy_storage(
        production, demand, dt_h, capacity, scenario.initial.tank_soc * capacity
    )
    total = sum(production)
    mean_cop = cop_weighted / total if total > 0 else 0.0
    return ScenarioBound(scenario.name, step_s, greedy, round(mean_cop, 3))
