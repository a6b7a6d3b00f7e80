"""Heat-pump load as a cycle table: the tank-charge demand low-selected against the
source limit, with the loser tracking the winner (external reset).

Rows: (time, facility-water supply, expected enable, expected limited by source).
Every row also checks the low select itself: the load is the smaller of what the
network and tank want and what the source allows, within the unit's range.
"""

from __future__ import annotations

import pytest
from core_plant import shipped_site

from controller.core.conditioning import PlantView
from controller.core.heatpumpctl import HeatPumpControl

Row = tuple[float, float, bool, bool]


def view(fws_supply: float) -> PlantView:
    v = PlantView(fws_supply=fws_supply, it_heat_kw=800.0, dh_supply=70.0, hp_known=True)
    v.hp_running, v.hp_cop, v.hp_heat_kw, v.hp_power_kw = True, 5.0, 900.0, 180.0
    return v


def run_table(name: str, table: list[Row], deliver_kw: float = 700.0, soc: float = 0.5) -> None:
    s = shipped_site().settings
    hp = HeatPumpControl(s, 0.0)
    t = 0.0
    for i, (row_t, supply, enable, limited) in enumerate(table):
        while t < row_t:
            t += 1.0
            cmd = hp.step(t, 1.0, view(supply), soc, 70.0, deliver_kw, True, True, True, False)
            q_want = deliver_kw + hp.soc_loop.last_output
            low = min(q_want, cmd.q_source_kw)
            want_q = min(hp.cap, max(hp.q_min, low)) if cmd.enable else 0.0
            where = f"{name} row {i} t={t}"
            if cmd.enable:
                assert cmd.q_target_kw == pytest.approx(want_q), where
            assert cmd.load_pct == pytest.approx(want_q / hp.cap * 100.0), where
        got = (cmd.enable, cmd.limited_by_source)
        assert got == (enable, limited), f"{name} row {i} t={row_t}: (enable, limited) {got}"


def test_source_limit_takes_over_when_the_facility_water_runs_cold() -> None:
    sp = shipped_site().settings
    source_sp = sp.setpoints.fws_supply_temp - sp.limits.fws_recovery_margin_k
    run_table(
        "low select",
        [
            (60, 35.0, True, False),  # water warm: the network and tank decide
            (120, 35.0, True, False),
            (200, source_sp - 1.0, True, True),  # below the source setpoint: the limit wins
            (400, source_sp - 1.0, True, True),
            (600, 35.0, True, False),  # water back: the demand side takes over again
        ],
    )


def test_force_off_and_an_unavailable_unit_stop_it() -> None:
    s = shipped_site().settings
    hp = HeatPumpControl(s, 0.0)
    # (time, force off, available, expected enable)
    rows = [(1, False, True, True), (2, True, True, False), (3, False, False, False)]
    for i, (t, force_off, available, enable) in enumerate(rows):
        cmd = hp.step(t, 1.0, view(35.0), 0.5, 70.0, 700.0, True, True, available, force_off)
        assert cmd.enable is enable, f"row {i} t={t}"
        if not enable:
            assert cmd.load_pct == 0.0, f"row {i} t={t}"
