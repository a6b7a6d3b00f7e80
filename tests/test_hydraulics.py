"""Hydraulics: plug-flow transport delay and the injection pump against the network.

Checked against hand calculations: a step at a pipe's inlet appears at its outlet
volume / flow later (within one step), and the DH pump delivers nothing below the
speed whose head, n^2 * H0, overcomes the network's differential pressure.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from simulator.physics import CP_WATER, RHO_WATER
from simulator.physics.actuators import PumpGroup
from simulator.physics.pipe import PlugPipe, pipe_volume_m3
from simulator.plant import Plant, PlantBoundary
from simulator.plantconfig import load_plant_config

CONFIG = Path(__file__).resolve().parents[1] / "config" / "plant.toml"
CFG = load_plant_config(CONFIG)


@pytest.mark.parametrize(("flow", "dt"), [(27.4, 1.0), (5.0, 1.0), (12.3, 0.5)])
def test_a_step_arrives_after_volume_over_flow(flow: float, dt: float) -> None:
    volume = pipe_volume_m3(60.0, 0.2065)  # the FWS supply run: DN200, 60 m
    assert volume == pytest.approx(math.pi / 4 * 0.2065**2 * 60.0)
    pipe = PlugPipe(volume, 35.0)
    delay = volume * RHO_WATER / flow  # hand calculation, s
    assert pipe.delay_s(flow) == pytest.approx(delay)
    t = 0.0
    arrived = None
    while t < 3 * delay:
        out = pipe.flow(flow * dt, 30.0)  # 5 K colder water from t = 0
        t += dt
        if arrived is None and out < 34.99:
            arrived = t
    assert arrived is not None
    assert abs(arrived - delay) <= dt, (arrived, delay)
    assert pipe.outlet_temp == pytest.approx(30.0)


def test_a_pipe_keeps_mass_and_energy_exactly() -> None:
    pipe = PlugPipe(1.0, 60.0)
    e0 = pipe.stored_kj()
    e_in = e_out = 0.0
    for i in range(500):
        dm = 3.0 + (i % 7)
        t_in = 60.0 + 10.0 * math.sin(i / 20.0)
        t_out = pipe.flow(dm, t_in)
        e_in += CP_WATER * dm * t_in
        e_out += CP_WATER * dm * t_out
    assert pipe.stored_kj() - e0 == pytest.approx(e_in - e_out, rel=1e-9)
    assert pipe.mass == pytest.approx(1.0 * RHO_WATER)


def test_no_injection_below_the_speed_that_overcomes_the_network() -> None:
    pumps = CFG.pumps.dh
    dp = CFG.dh.network_dp_bar
    assert pumps.shutoff_head_bar is not None
    n_min = math.sqrt(dp / pumps.shutoff_head_bar)  # H0 n^2 = dp
    group = PumpGroup(pumps, ["p2a", "p2b"], duty_running=False)
    assert group.min_speed_for_flow(dp) == pytest.approx(n_min)
    duty = group.pumps[0]
    duty.run_cmd = True
    for speed in (0.14, 0.3, n_min - 0.01):
        duty.speed_cmd = speed
        for _ in range(10):
            group.step(1.0, dp)
        assert group.flow == 0.0, speed
    # Above it, the affinity-law curve: Q = Q_nom sqrt((H0 n^2 - dp) / (H0 - dp)).
    for speed in (0.7, 0.85, 1.0):
        duty.speed_cmd = speed
        for _ in range(10):
            group.step(1.0, dp)
        h0 = pumps.shutoff_head_bar
        expected = group.m_nominal * math.sqrt((h0 * speed**2 - dp) / (h0 - dp))
        assert group.flow == pytest.approx(expected, rel=1e-9)
        assert group.speed_for_flow(group.flow, dp) == pytest.approx(speed, rel=1e-9)
    assert group.flow == pytest.approx(group.m_nominal)  # the design point


def test_the_plant_injects_nothing_at_14_percent_speed() -> None:
    # The issue: the DH pump "injected" at 14 % speed, where a real pump has ~2 % of its head.
    plant = Plant(CFG, hp_running=True, boundary=PlantBoundary())
    hb = 0.0
    plant.cmd[("plc", "p2a_speed_cmd")] = 14.0
    for _ in range(30):
        hb += 1
        plant.cmd[("plc", "heartbeat")] = hb
        plant.step(1.0)
    assert plant.m_dh == 0.0 and plant.q_dh == 0.0


def test_the_dh_supply_at_the_connection_lags_the_headers_by_the_pipe() -> None:
    plant = Plant(CFG, hp_running=True, boundary=PlantBoundary(dh_supply_setpoint=70.0))
    m_d = plant.m_dh if plant.m_dh > 0 else plant.dh_pumps.flow
    delay = plant.dh_pipe.mass / m_d
    assert delay > 60.0  # a real dead time for the supply-temperature loop


def test_valve_deadband_backlash_and_characteristic() -> None:
    from simulator.physics.actuators import Valve

    v = Valve(15.0, position=50.0, deadband=0.5, backlash=1.0)
    v.cmd = 50.4  # inside the dead zone: nothing moves
    for _ in range(5):
        v.step(1.0)
    assert v.pos == 50.0 and v.stem == 50.0
    v.cmd = 60.0  # opening: the plug trails the stem by half the backlash
    for _ in range(5):
        v.step(1.0)
    assert v.stem == pytest.approx(60.0)
    assert v.pos == pytest.approx(59.5)
    v.cmd = 55.0  # reversal: the first 1 % of stem travel moves no plug
    v.step(0.05)  # 0.33 % of stem travel
    assert v.pos == pytest.approx(59.5)
    for _ in range(5):
        v.step(1.0)
    assert v.pos == pytest.approx(55.5)  # hysteresis: 1 % between opening and closing
    eq = Valve(15.0, position=50.0, characteristic="equal_percentage", rangeability=50.0)
    assert eq.flow_fraction == pytest.approx(50.0**-0.5)  # R^(x-1) at half stroke
    eq.set_position(100.0)
    assert eq.flow_fraction == pytest.approx(1.0)
    eq.set_position(0.0)
    assert eq.flow_fraction == 0.0


def test_tank_inlet_entrains_tank_water_and_keeps_energy_exact() -> None:
    from simulator.physics.tank import Tank

    cfg = CFG.tank
    assert cfg.inlet_entrainment > 0.0
    tank = Tank(cfg, 0.0, hot_temp=70.0, cold_temp=40.0)  # all at 40 °C
    e0 = tank.stored_kj()
    out = tank.outlet_temp(1000.0, from_top=False)
    tank.step(1.0, 1000.0, 70.0)  # 1000 kg of 70 °C water into the top
    loss = tank.loss_kj
    assert tank.stored_kj() - e0 == pytest.approx(CP_WATER * 1000.0 * (70.0 - out) - loss)
    # By hand: the inflow takes 30 % of its mass of 40 °C water with it, so no water in
    # the tank is hotter than (1000 * 70 + 300 * 40) / 1300 = 63.08 °C.
    mix = (1000.0 * 70.0 + cfg.inlet_entrainment * 1000.0 * 40.0) / (
        1000.0 * (1 + cfg.inlet_entrainment)
    )
    assert max(tank.temp) <= mix + 1e-9
    assert tank.top > 45.0
    plain = Tank(cfg.model_copy(update={"inlet_entrainment": 0.0}), 0.0, 70.0, 40.0)
    plain.step(1.0, 1000.0, 70.0)
    assert plain.top == pytest.approx(70.0, abs=0.01)  # without it, a perfect 70 °C layer
