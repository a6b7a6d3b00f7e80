"""Heat-pump performance map against its calibration point and hand calculations.

The map (simulator/physics/hpmap.py) is a pure function shared with the feasibility
study, so it is tested on its own: the field point it is calibrated on, the part-load
curve of every compressor type against the DOE-2 quadratic worked by hand, the flow
effect the issue found missing, and floats and numpy arrays giving the same numbers.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from simulator.physics import hpmap
from simulator.physics.heatpump import map_params
from simulator.plantconfig import HeatPumpConfig, load_plant_config

CONFIG = Path(__file__).resolve().parents[1] / "config" / "plant.toml"
HP: HeatPumpConfig = load_plant_config(CONFIG).heatpump
P = map_params(HP)


def test_full_load_cop_is_within_5_percent_of_the_mantsala_field_point() -> None:
    # domain.md §3: Mäntsälä, COP 3.4 for water 40 -> 85 °C (basis: leaving temperatures).
    cop = hpmap.full_load_cop(40.0, 85.0, P)
    assert cop == pytest.approx(3.4, rel=0.05)
    # ... which is 0.43 of Carnot on the water temperatures, as domain.md computes.
    assert hpmap.carnot_fraction_of(cop, 40.0, 85.0) == pytest.approx(0.43, abs=0.01)


def test_full_load_cop_is_the_carnot_fraction_with_the_approaches_by_hand() -> None:
    # 37 °C evaporator leaving, 72 °C condenser leaving, 3 K approaches:
    # T_cs = 75 °C = 348.15 K, T_es = 34 °C, COP = 0.48 * 348.15 / 41 = 4.076.
    expected = HP.eta_carnot * (72.0 + 3.0 + 273.15) / ((72.0 + 3.0) - (37.0 - 3.0))
    assert hpmap.full_load_cop(37.0, 72.0, P) == pytest.approx(expected, rel=1e-12)
    assert expected == pytest.approx(4.076, abs=0.001)


def test_capacity_follows_suction_density_and_lift() -> None:
    assert hpmap.full_load_capacity(40.0, 85.0, P) == pytest.approx(HP.capacity_kw)
    # 10 K colder source: R134a vapour density 50.1 -> 37.5 kg/m3 (ratio 0.749).
    assert hpmap.full_load_capacity(30.0, 85.0, P) / HP.capacity_kw == pytest.approx(
        37.5 / 50.1, rel=0.01
    )
    # Cooler sink: a little more capacity (lower pressure ratio).
    assert hpmap.full_load_capacity(40.0, 70.0, P) > HP.capacity_kw


@pytest.mark.parametrize("kind", sorted(HP.part_load))
def test_part_load_factor_is_the_doe2_curve_by_hand(kind: str) -> None:
    cfg = HP.model_copy(update={"compressor": kind})
    p = map_params(cfg)
    c = cfg.part_load[kind]
    for plr in (0.25, 0.5, 0.75):
        eir = (c.a + c.b * plr + c.c * plr**2) / (c.a + c.b + c.c)
        assert hpmap.part_load_factor(plr, p) == pytest.approx(plr / eir, rel=1e-12)
    assert hpmap.part_load_factor(1.0, p) == pytest.approx(1.0)


def test_compressor_types_unload_differently() -> None:
    at_quarter = {}
    for kind in HP.part_load:
        p = map_params(HP.model_copy(update={"compressor": kind}))
        at_quarter[kind] = hpmap.part_load_factor(0.25, p)
    # A variable-speed drive gains at part load; a slide valve, inlet guide vanes and
    # cylinder unloading all lose (the COP at 20 % load is no longer the full-load one).
    assert at_quarter["screw_variable_speed"] > 1.0
    for kind in ("screw_slide_valve", "centrifugal", "reciprocating"):
        assert at_quarter[kind] < 0.9, (kind, at_quarter[kind])


def test_low_evaporator_flow_lowers_capacity_and_cop() -> None:
    c_full = 27.4 * 4.186  # kW/K, design facility-water flow
    q_full, cop_full, t_full = hpmap.solve_capacity(1.0, 45.0, c_full, 72.0, P)
    q_low, cop_low, t_low = hpmap.solve_capacity(1.0, 45.0, 0.15 * c_full, 72.0, P)
    # The issue: 1200 kW even at 15 % evaporator flow. Now the water leaves far colder.
    assert q_low < 0.7 * q_full
    assert cop_low < 0.8 * cop_full
    assert t_low < t_full - 10.0
    # The solution is consistent: capacity at the leaving temperature it produces.
    assert q_low == pytest.approx(hpmap.full_load_capacity(t_low, 72.0, P), rel=1e-3)
    assert t_low == pytest.approx(45.0 - q_low * (1 - 1 / cop_low) / (0.15 * c_full), abs=0.1)


def test_floats_and_numpy_arrays_give_the_same_numbers() -> None:
    te = [30.0, 37.0, 40.0, 44.0]
    tc = [65.0, 72.0, 85.0, 90.0]
    plr = [0.2, 0.5, 1.0, 0.7]
    q, c, w = hpmap.performance(np.array(te), np.array(tc), np.array(plr), P)
    for i in range(len(te)):
        qi, ci, wi = hpmap.performance(te[i], tc[i], plr[i], P)
        assert isinstance(qi, float)
        assert q[i] == pytest.approx(qi, rel=1e-12)
        assert c[i] == pytest.approx(ci, rel=1e-12)
        assert w[i] == pytest.approx(wi, rel=1e-12)
        assert math.isclose(qi, ci * wi, rel_tol=1e-12)


def test_a_warm_start_from_a_nearby_answer_finds_the_same_point() -> None:
    c_e = 27.4 * 4.186
    q0, cop0, t0 = hpmap.solve_capacity(0.7, 45.0, c_e, 72.0, P)
    for guess in (0.9 * q0, 1.1 * q0):
        q, c, t = hpmap.solve_capacity(0.7, 45.0, c_e, 72.0, P, cop0 * 1.05, guess)
        assert q == pytest.approx(q0, rel=1e-3)
        assert c == pytest.approx(cop0, rel=1e-3)
        assert t == pytest.approx(t0, abs=0.02)
