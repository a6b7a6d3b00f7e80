"""The physical bound on hand-made cases whose answer can be worked out on paper."""

from __future__ import annotations

import itertools
import random

import pytest

from simulator.bound import HeatPumpModel, greedy_storage, scenario_bound, tank_capacity_kwh
from simulator.runner import load_defaults
from simulator.scenario import load_scenario


def test_surplus_then_deficit_with_a_tank_of_known_size() -> None:
    # 2 h of 800 kW surplus into a 1000 kWh tank holding 200: it fills (800 stored,
    # 800 curtailed); then 3 h of 500 kW deficit: the tank gives its 1000 and empties.
    production = [1000.0] * 2 + [500.0] * 3
    demand = [200.0] * 2 + [1000.0] * 3
    g = greedy_storage(production, demand, 1.0, 1000.0, 200.0)
    assert g.delivered_kwh == pytest.approx(2 * 200 + 3 * 500 + 1000)
    assert g.curtailed_kwh == pytest.approx(1600 - 800)
    assert g.unmet_kwh == pytest.approx(3 * 1000 - 3 * 500 - 1000)
    assert g.stored_end_kwh == pytest.approx(0.0)


def test_demand_always_above_supply_gives_production_plus_initial_tank() -> None:
    production = [900.0, 700.0, 950.0, 0.0]
    demand = [2000.0] * 4  # 4000 kWh asked: more than 1275 made + 1750 stored
    g = greedy_storage(production, demand, 0.5, 3500.0, 1750.0)
    assert g.delivered_kwh == pytest.approx(0.5 * sum(production) + 1750.0)
    assert g.curtailed_kwh == 0.0


def test_supply_always_above_demand_delivers_the_demand() -> None:
    g = greedy_storage([1000.0] * 10, [300.0] * 10, 0.25, 100.0, 50.0)
    assert g.delivered_kwh == pytest.approx(0.25 * 300 * 10)
    assert g.unmet_kwh == 0.0
    assert g.stored_end_kwh == pytest.approx(100.0)


def test_greedy_beats_every_other_policy_on_small_random_cases() -> None:
    """Exhaustive check of the optimality argument on a discretised store."""
    rng = random.Random(6)
    for _ in range(40):
        n = 4
        production = [rng.choice([0, 1, 2]) for _ in range(n)]
        demand = [rng.choice([0, 1, 2]) for _ in range(n)]
        cap = rng.choice([0, 1, 2, 3])
        e0 = rng.randint(0, cap)
        best = 0
        # Any policy: per step choose production p <= P and delivery x <= D (integers).
        choices = [
            [(p, x) for p in range(production[k] + 1) for x in range(demand[k] + 1)]
            for k in range(n)
        ]
        for plan in itertools.product(*choices):
            e, total = e0, 0
            for p, x in plan:
                e += p - x
                if not 0 <= e <= cap:
                    break
                total += x
            else:
                best = max(best, total)
        g = greedy_storage(production, demand, 1.0, cap, e0)
        assert g.delivered_kwh == pytest.approx(best)


def test_rejects_inconsistent_inputs() -> None:
    with pytest.raises(ValueError):
        greedy_storage([1.0], [1.0, 2.0], 1.0, 10.0, 0.0)
    with pytest.raises(ValueError):
        greedy_storage([1.0], [1.0], 1.0, 10.0, 20.0)


def test_tank_capacity_of_the_reference_site() -> None:
    # 100 m3 between 40 and 70 °C: DESIGN.md's "~3.5 MWh".
    assert tank_capacity_kwh(100.0, 70.0, 40.0) == pytest.approx(3436.0, abs=1.0)


def test_heat_pump_model_takes_the_it_heat_and_adds_its_electricity() -> None:
    plant_cfg, _ = load_defaults()
    m = HeatPumpModel(plant_cfg)
    q, cop = m.max_heat(700.0, 34.0, 40.0, 70.0)
    assert 3.0 < cop < 6.0
    # Condenser heat = evaporator heat x COP / (COP - 1), evaporator heat = IT heat.
    assert q == pytest.approx(700.0 * cop / (cop - 1.0), rel=2e-3)
    q_big, _ = m.max_heat(2000.0, 34.0, 40.0, 70.0)
    # Capacity-limited: full load. Since issue 10 the capacity is the map's at these
    # temperatures (warmer source water than the rating point: more than nameplate).
    assert m.hp.load == pytest.approx(100.0)
    assert q_big == pytest.approx(m.hp.q_cond) and q_big > q
    assert m.max_heat(0.0, 34.0, 40.0, 70.0) == (0.0, 0.0)


def test_scenario_bound_outage_and_trip_reduce_what_can_be_sold() -> None:
    plant_cfg, _ = load_defaults()
    g = scenario_bound(load_scenario("dh-outage"), plant_cfg, step_s=60.0).greedy
    # Demand only counts while the network is up (2 of the 8 hours it is not).
    assert 5.5 * 950.0 < g.demand_kwh < 6.0 * 1250.0
    assert g.delivered_kwh <= g.demand_kwh + 1e-6
    # hp-trip: constant IT heat, the heat pump out for the 10 min the cause lasts.
    trip = scenario_bound(load_scenario("hp-trip"), plant_cfg, step_s=60.0).greedy
    p, _ = HeatPumpModel(plant_cfg).max_heat(0.8 * 8 * 130.0 * 0.85, 34.0, 40.0, 70.0)
    assert trip.available_kwh == pytest.approx(p * (6.0 - 10 / 60), rel=1e-6)
    assert trip.stored_start_kwh == pytest.approx(0.6 * trip.capacity_kwh)
    assert trip.delivered_kwh == pytest.approx(trip.demand_kwh)  # the tank bridges the trip
