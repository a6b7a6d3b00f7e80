"""Dry coolers on glycol: mixture properties against published tables, and frost.

The coil circuit's ethylene glycol is checked against ASHRAE Handbook Fundamentals
(freezing points) and the Modelica Standard Library's Glycol20_20degC medium; then a
bitter night with the heat pump out (all IT heat to the dry coolers) shows the
controller holding the glycol entering the plate exchanger above the frost limit
while still keeping facility water below its limit.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.physics.glycol import air_density, ethylene_glycol
from simulator.runner import ClosedLoop
from simulator.scenario import load_scenario


@pytest.mark.parametrize(
    ("fraction", "freezing"),
    # ASHRAE Handbook Fundamentals (2017) ch. 31, ethylene glycol solutions, by mass.
    [(0.2, -7.9), (0.3, -14.1), (0.4, -22.3), (0.5, -33.8)],
)
def test_glycol_freezing_point_matches_ashrae(fraction: float, freezing: float) -> None:
    # The correlation (Melinder/IIR) and ASHRAE's table differ by up to ~2 K at 50 %.
    assert ethylene_glycol(fraction).freezing_point == pytest.approx(freezing, abs=2.3)


def test_glycol_20_matches_the_modelica_medium() -> None:
    # Modelica.Thermal.FluidHeatFlow.Media.Glycol20_20degC: rho 1028 kg/m3,
    # cp 3910 J/(kg K), "anti-freeze -8 °C".
    g = ethylene_glycol(0.2, at_temp=20.0)
    assert g.density == pytest.approx(1028.0, rel=0.01)
    assert g.cp == pytest.approx(3.910, rel=0.01)
    assert g.freezing_point == pytest.approx(-8.0, abs=0.5)
    # More glycol: lower cp, higher density, lower freezing point.
    g30 = ethylene_glycol(0.3, at_temp=20.0)
    assert g30.cp < g.cp and g30.density > g.density and g30.freezing_point < g.freezing_point


def test_air_density_follows_the_ideal_gas_law() -> None:
    # 101325 / (287.05 * 273.15) = 1.2922 kg/m3 at 0 °C.
    assert air_density(0.0) == pytest.approx(1.2922, abs=1e-4)
    assert air_density(-15.0) / air_density(35.0) == pytest.approx(308.15 / 258.15)


BITTER_NIGHT = """
name = "bitter-night"
description = "-15 °C and the heat pump out: all IT heat to the dry coolers."
duration = "1h"
dt = 1.0
seed = 5

[initial]
tank_soc = 0.5
hp_running = true
fws_supply_temp = 35.0

[series.ambient_temp]
value = -15.0

[series.it_utilisation]
value = 0.8

[[events]]
kind = "hp_trip"
at = "60s"
fault_code = 9
"""


def test_the_controller_keeps_the_glycol_above_the_frost_limit(tmp_path: Path) -> None:
    path = tmp_path / "bitter-night.toml"
    path.write_text(BITTER_NIGHT, encoding="utf-8")
    loop = ClosedLoop(load_scenario(path), controller="ours")
    glycol: list[float] = []

    def watch(t: float, plant, _out) -> None:  # type: ignore[no-untyped-def]
        dc = plant.drycoolers
        if t > 600.0 and dc.m_water > 0.0:
            glycol.append(dc.t_glycol)

    result = loop.run(observer=watch)
    dc = loop.plant.drycoolers
    limit = dc.cfg.frost_limit
    assert len(glycol) > 2000  # water went through the coolers the whole time
    assert min(glycol) >= limit, min(glycol)
    assert dc.glycol.freezing_point < -10.0  # the coils themselves are safe at -15 °C
    assert result.kpis["seconds_above_fws_limit"] == 0
    assert max(result.series["fws_supply"]) <= 40.0  # type: ignore[type-var]
