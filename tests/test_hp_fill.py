"""The heat pump fills the tank during a network outage, then hands over gently.

Stopping from full load on a full tank handed the dry coolers the whole IT heat
within a minute, and facility water overshot its high alarm (dh-outage, 38.57 °C
against 38). The heat pump therefore unloads to its minimum before the tank is full.
"""

from __future__ import annotations

import pytest

from controller.core.conditioning import PlantView
from controller.core.heatpumpctl import FILL_MIN_LOAD, FILL_SOC, FILL_TAPER, HeatPumpControl
from simulator.runner import load_defaults


def _load_at(soc: float) -> float:
    _, site = load_defaults()
    hp = HeatPumpControl(site.settings, 0.0)
    v = PlantView()
    v.hp_known = v.hp_running = True
    v.fws_supply, v.it_heat_kw, v.hp_cop = 35.5, 1000.0, 3.5  # plenty of source
    v.dh_supply = v.hp_cond_out = 70.0
    hp.hand_over(v, 0.0)  # found running, as in the outage
    for t in range(900):  # long enough for the loops to settle
        # Asked for more than the unit can make: only the fill taper holds it back.
        cmd = hp.step(float(t), 1.0, v, soc, 70.0, 1500.0, False, False, True, False, False)
    return cmd.load_pct


def test_network_down_the_heat_pump_unloads_before_the_tank_is_full() -> None:
    _, site = load_defaults()
    min_load = site.settings.plant.hp_min_load_pct
    assert _load_at(FILL_SOC - FILL_MIN_LOAD - FILL_TAPER - 0.05) == pytest.approx(100.0)
    half = _load_at(FILL_SOC - FILL_MIN_LOAD - FILL_TAPER / 2)
    assert half == pytest.approx(min_load + (100.0 - min_load) / 2, abs=0.5)
    assert _load_at(FILL_SOC - FILL_MIN_LOAD / 2) == pytest.approx(min_load)
