"""The district-heating side of the control after issue 10: line delay and pump curve.

The network's supply sensor sits a line delay downstream, and the injection pump lifts
against the network's differential pressure. The loops therefore judge the water
leaving the plant (mixed from the heat pump's outlet and the tank top), invert the
pump curve for their feed-forward, and never let the flow stop while injecting.
"""

from __future__ import annotations

import math

import pytest

from controller.core.conditioning import PlantView
from controller.core.dhleaving import plant_leaving_temp
from controller.core.injection import MIN_FLOW_PCT, InjectionControl
from simulator.runner import load_defaults


def _view(**kw: object) -> PlantView:
    v = PlantView()
    for k, x in kw.items():
        setattr(v, k, x)
    return v


def test_leaving_temperature_mixes_heat_pump_and_tank_water() -> None:
    # Charging: the network takes heat-pump water only.
    v = _view(hp_running=True, dh_flow_m3h=20.0, hp_cond_flow_m3h=30.0, hp_cond_out=73.0,
              tank_top=70.0)  # fmt: skip
    assert plant_leaving_temp(v) == 73.0
    # Discharging: 20 m3/h from the heat pump at 74 °C, 10 from the tank top at 70 °C.
    v = _view(hp_running=True, dh_flow_m3h=30.0, hp_cond_flow_m3h=20.0, hp_cond_out=74.0,
              tank_top=70.0)  # fmt: skip
    assert plant_leaving_temp(v) == pytest.approx((20 * 74.0 + 10 * 70.0) / 30)
    # Heat pump off: the tank alone.
    v = _view(hp_running=False, dh_flow_m3h=30.0, hp_cond_flow_m3h=0.0, hp_cond_out=50.0,
              tank_top=69.0)  # fmt: skip
    assert plant_leaving_temp(v) == 69.0


def test_injection_feed_forward_inverts_the_pump_curve() -> None:
    _, site = load_defaults()
    p = site.settings.plant
    assert p.dh_pump_shutoff_head_bar is not None and p.dh_network_dp_bar > 0
    inj = InjectionControl(site.settings)
    r = p.dh_network_dp_bar / p.dh_pump_shutoff_head_bar
    for flow in (10.0, 50.0, 100.0):
        speed = inj.speed_for_flow(flow)
        # Forward through the curve: Q/Q_nom = sqrt((n^2 - r) / (1 - r)).
        back = 100.0 * math.sqrt(((speed / 100.0) ** 2 - r) / (1.0 - r))
        assert back == pytest.approx(flow, rel=1e-9)
    assert inj.speed_for_flow(100.0) == pytest.approx(100.0)
    # The floor while injecting is the speed of the minimum flow, above sqrt(dp / H0).
    assert inj.speed_for_flow(MIN_FLOW_PCT) > 100.0 * math.sqrt(r)


def test_injection_never_stops_the_flow_while_the_guard_cuts() -> None:
    _, site = load_defaults()
    inj = InjectionControl(site.settings)
    floor = inj.speed_for_flow(MIN_FLOW_PCT)
    # Water leaving the plant far too cold: the guard cuts as far as it may.
    v = _view(hp_running=True, dh_flow_m3h=20.0, hp_cond_flow_m3h=20.0, hp_cond_out=60.0,
              tank_top=60.0, dh_supply=60.0, dh_return=40.0, dh_power_kw=400.0)  # fmt: skip
    speeds = [inj.step(float(t), 1.0, v, True, 72.0, 1000.0, True) for t in range(600)]
    assert inj.limited_by_temp
    assert min(speeds) >= floor - 1e-9
    assert speeds[-1] == pytest.approx(floor)


def test_low_demand_near_the_minimum_speed_settles_instead_of_chattering() -> None:
    # Summer: 180 kW at a 20 K lift is 17 % of nominal flow, just above the 58 % speed
    # the network's differential pressure demands, where flow is steepest in speed.
    # Looped in speed, the power trim alternated between two speeds every scan.
    from simulator.physics.actuators import PumpGroup
    from simulator.plantconfig import load_plant_config
    from simulator.runner import CONFIG_DIR

    plant = load_plant_config(CONFIG_DIR / "plant.toml")
    _, site = load_defaults()
    inj = InjectionControl(site.settings)
    pumps = PumpGroup(plant.pumps.dh, ["p2a", "p2b"], duty_running=True)
    dp = plant.dh.network_dp_bar
    power = 0.0
    delivered = []
    for t in range(900):
        v = _view(hp_running=True, dh_flow_m3h=pumps.flow * 3.6, hp_cond_flow_m3h=20.0,
                  hp_cond_out=65.5, tank_top=65.5, dh_supply=65.5, dh_return=45.0,
                  dh_power_kw=power)  # fmt: skip
        speed = inj.step(float(t), 1.0, v, True, 65.0, 180.0, True)
        pumps.pumps[0].speed_cmd = speed / 100.0
        m = pumps.step(1.0, dp)
        power = m * 4.186 * 20.5
        delivered.append(power)
    tail = delivered[-120:]
    assert max(tail) - min(tail) < 5.0, (min(tail), max(tail))
    assert sum(tail) / len(tail) == pytest.approx(180.0, rel=0.03)


def test_injection_waits_for_a_starting_heat_pump_to_warm_up() -> None:
    """Pre-circulated condenser water (return temperature) must not go to the network."""
    _, site = load_defaults()
    inj = InjectionControl(site.settings)
    off = _view(hp_running=False, dh_flow_m3h=0.0, hp_cond_flow_m3h=0.0, hp_cond_out=55.0,
                tank_top=70.0, dh_supply=70.0, dh_return=40.0, dh_power_kw=0.0)  # fmt: skip
    assert inj.step(0.0, 1.0, off, True, 70.0, 900.0, False) > 0.0  # the tank alone serves
    inj = InjectionControl(site.settings)
    inj.step(0.0, 1.0, off, False, 70.0, 0.0, False)  # seen stopped: a start is a start
    # The unit starts: its outlet is still at 55 °C, then rises through the band
    # (not settled), overshoots by more than 3 K, and only then settles.
    outlets = [55.0] * 30 + [69.5] * 10 + [74.0] * 30 + [70.2] * 59
    for t, out in enumerate(outlets, start=1):
        v = _view(**{**vars_of(off), "hp_running": True, "hp_cond_flow_m3h": 4.0,
                     "hp_cond_out": out})  # fmt: skip
        assert inj.step(float(t), 1.0, v, True, 70.0, 900.0, True) == 0.0, t
    v = _view(**{**vars_of(off), "hp_running": True, "hp_cond_flow_m3h": 4.0,
                 "hp_cond_out": 70.2})  # fmt: skip
    assert inj.step(float(len(outlets) + 2), 1.0, v, True, 70.0, 900.0, True) > 0.0


def vars_of(v: PlantView) -> dict[str, object]:
    return {k: getattr(v, k) for k in ("hp_running", "dh_flow_m3h", "hp_cond_flow_m3h",
            "hp_cond_out", "tank_top", "dh_supply", "dh_return", "dh_power_kw")}  # fmt: skip
