"""One design, one set of prices: the year's flows, CapEx, the streams and each party's finance."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from controller.accounting.contract import Statement
from feasibility.case import BOILER_EFFICIENCY, GAS_CO2_T_PER_MWH, Case
from feasibility.costs import Capex, annual_om, capex
from feasibility.drycoolers import fan_power_kw
from feasibility.engine import HourlyInputs, YearResult, run_year
from feasibility.finance import discounted_payback_years, irr, lcoh, npv, payback_years
from feasibility.partnership import Streams, discount_rate, party_flows
from feasibility.statements import month_figures_of, year_statements
from simulator.physics import CP_WATER


@dataclass(frozen=True, slots=True)
class Knobs:
    """Multipliers and shifts for sensitivities (1.0 / 0.0 = the study as written)."""

    electricity: float = 1.0
    heat_price: float = 1.0
    capex: float = 1.0
    utilisation: float = 1.0
    discount_pts: float = 0.0
    gas_carbon: float = 1.0
    """Scales the utility's avoided boiler cost (gas and carbon prices together)."""


@dataclass(frozen=True, slots=True)
class PartyResult:
    flows: np.ndarray
    rate: float
    npv: float
    irr: float | None
    payback: float | None
    discounted_payback: float | None


@dataclass(slots=True)
class Evaluation:
    hp_kw: float
    tank_m3: float
    year: YearResult
    fans_without_kwh: float
    capex: Capex
    om: float
    statements: list[Statement]
    streams: Streams
    parties: dict[str, PartyResult]
    lcoh: float | None
    co2_avoided_t: float
    figures: dict[str, float] = field(default_factory=dict)


_FANS0: dict[tuple[int, bytes], tuple[Case, np.ndarray]] = {}


def counterfactual_fans(case: Case, inputs: HourlyInputs) -> np.ndarray:
    """Fan power (kW) if every kW of IT heat went to the dry coolers (the same for every
    design of a case, so kept once per case and utilisation profile)."""
    key = (id(case), inputs.utilisation.tobytes())
    if key not in _FANS0:
        _FANS0.clear()
        # The case is kept with its result so its id cannot be reused while cached.
        _FANS0[key] = (case, _fans_without(case, inputs))
    return _FANS0[key][1]


def _fans_without(case: Case, inputs: HourlyInputs) -> np.ndarray:
    p = case.plant
    m_f = p.pumps.fws.nominal_flow_m3h / 3.6 * 0.99 * case.dispatch.fws_pump_speed
    q_it = p.it_liquid_kw * inputs.utilisation
    t_in = case.dispatch.fws_supply_temp + q_it / (m_f * CP_WATER)
    fans, _ = fan_power_kw(p.drycoolers, q_it, m_f, t_in, inputs.ambient)
    return fans


def run_design(case: Case, hp_kw: float | None = None, tank_m3: float | None = None,
               knobs: Knobs = Knobs()) -> Evaluation:  # fmt: skip
    plant = case.with_design(hp_kw, tank_m3)
    inputs = case.inputs
    if knobs.utilisation != 1.0:
        inputs = replace(inputs, utilisation=np.clip(inputs.utilisation * knobs.utilisation, 0, 1))
    year = run_year(plant, case.dispatch, inputs, case.study.initial_soc)
    return price_year(case, plant.heatpump.capacity_kw, plant.tank.volume_m3, year, inputs, knobs)


def price_year(case: Case, hp_kw: float, tank_m3: float, year: YearResult, inputs: HourlyInputs,
               knobs: Knobs) -> Evaluation:  # fmt: skip
    st = case.study
    pr = st.prices
    n = st.partnership.term_years
    yrs = np.arange(n)
    cat = case.catalogue
    evap_kw = float(np.max(year.recovered)) if year.recovered.size else 0.0
    cap = capex(
        cat,
        hp_kw=hp_kw,
        tank_m3=tank_m3,
        evap_kw=max(evap_kw, 1.0),
        distance_m=st.connection.distance_m,
        route=st.connection.route,
        source_hx=st.design.source_hx,
        price_year=st.costs.price_year,
        inflation_pct=st.costs.inflation_pct,
        factor=st.costs.capex_factor * knobs.capex,
    )
    hp_heat_mwh = year.totals["hp_heat"] / 1000.0
    om = annual_om(cat, cap, hp_kw, hp_heat_mwh, st.costs.price_year, st.costs.inflation_pct)
    price = case.electricity_price * knobs.electricity / 1000.0  # EUR/kWh
    dh_pump = year.pump_elec - case.plant.pumps.fws.power_kw * case.dispatch.fws_pump_speed**3
    elec_cost = float(np.sum((year.hp_elec + dh_pump) * price))
    fans0 = counterfactual_fans(case, inputs)
    cooling = float(np.sum((fans0 - year.fan_elec) * price))
    figures = month_figures_of(year, case.power_tolerance_pct)

    def billed(y: int) -> list[Statement]:
        return year_statements(
            figures, case.contract, st.start_year + y, case.availability_target_pct, case.gas
        )

    statements = billed(0)
    energy = sum(float(s.energy_amount + s.shortfall_amount) for s in statements)
    capacity = sum(float(s.capacity_amount) for s in statements)
    if case.contract.pricing == "gas_indexed":
        # Each year billed through the contract code at that year's gas prices.
        later = [billed(y) for y in range(n)]
        energy_by_year = np.array(
            [sum(float(s.energy_amount + s.shortfall_amount) for s in b) for b in later]
        )
    else:
        energy_by_year = energy * (1 + pr.heat_escalation_pct / 100.0) ** yrs
    el_esc = (1 + pr.electricity_escalation_pct / 100.0) ** yrs
    delivered_mwh = year.totals["delivered"] / 1000.0
    boiler = (
        np.array([case.avoided_boiler(y + 1) for y in range(n)]) * delivered_mwh * knobs.gas_carbon
    )
    streams = Streams(
        sales=(energy_by_year + capacity) * knobs.heat_price,
        boiler=boiler,
        cooling=cooling * el_esc,
        electricity=elec_cost * el_esc,
        om=np.full(n, om),
        source=np.full(n, pr.source_price_eur_per_mwh * year.totals["recovered"] / 1000.0),
    )
    flows = party_flows(st.partnership, cap.total, streams)
    parties = {}
    for name, f in flows.items():
        r = discount_rate(st.partnership, name) + knobs.discount_pts / 100.0
        parties[name] = PartyResult(
            f, r, npv(r, f), irr(f), payback_years(f), discounted_payback_years(r, f)
        )
    r_p = parties["project"].rate
    costs = np.concatenate(([cap.total], streams.electricity + streams.om))
    heat = np.concatenate(([0.0], np.full(n, delivered_mwh)))
    elec_mwh = float(np.sum(year.hp_elec + dh_pump - (fans0 - year.fan_elec))) / 1000.0
    co2 = delivered_mwh / BOILER_EFFICIENCY * GAS_CO2_T_PER_MWH - elec_mwh * pr.grid_co2_t_per_mwh
    ev = Evaluation(
        hp_kw=hp_kw,
        tank_m3=tank_m3,
        year=year,
        fans_without_kwh=float(np.sum(fans0)),
        capex=cap,
        om=om,
        statements=statements,
        streams=streams,
        parties=parties,
        lcoh=lcoh(r_p, costs, heat),
        co2_avoided_t=co2,
    )
    ev.figures = {
        "sales_year1_eur": float(streams.sales[0]),
        "energy_sales_year1_eur": energy * knobs.heat_price,
        "capacity_year1_eur": capacity * knobs.heat_price,
        "boiler_value_year1_eur": float(boiler[0]),
        "avoided_cooling_year1_eur": cooling,
        "electricity_year1_eur": elec_cost,
        "om_year1_eur": om,
    }
    return ev
