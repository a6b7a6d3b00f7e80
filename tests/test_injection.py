"""Injection as cycle tables: feed-forward plus power trim, low-selected against the
supply-temperature guard, and the cold cut-out.

Rows: (time, DH supply, heat pump running, expected injecting, expected limited by
the temperature guard). A failure names the table, the row and the time.
"""

from __future__ import annotations

from core_plant import shipped_site

from controller.core.conditioning import PlantView
from controller.core.injection import COLD_STOP_K, COLD_STOP_S, MIN_SPEED, InjectionControl

SP = 70.0
Row = tuple[float, float, bool, bool, bool]


def run_table(name: str, table: list[Row], target_kw: float = 700.0) -> None:
    inj = InjectionControl(shipped_site().settings)
    t = 0.0
    for i, (row_t, supply, hp_running, injecting, limited) in enumerate(table):
        while t < row_t:
            t += 1.0
            v = PlantView(dh_supply=supply, dh_return=40.0, dh_power_kw=target_kw)
            speed = inj.step(t, 1.0, v, True, SP, target_kw, hp_running)
            where = f"{name} row {i} t={t}"
            assert speed == inj.speed and (speed == 0.0 or MIN_SPEED <= speed <= 100.0), where
        got = (inj.injecting, inj.limited_by_temp)
        assert got == (injecting, limited), f"{name} row {i} t={row_t}: (injecting, guard) {got}"


def test_the_temperature_guard_wins_the_low_select_when_the_supply_sags() -> None:
    guard_sp = SP - shipped_site().settings.tuning.injection_guard_k
    run_table(
        "guard",
        [
            (30, SP, True, True, False),  # at setpoint: the power loop decides
            (60, guard_sp - 1.0, True, True, True),  # below the guard: it takes over
            (200, guard_sp - 1.0, True, True, True),  # guard at its flow floor, power tied on it
            (400, SP, True, True, False),  # recovered: back to the power loop
        ],
    )


def test_cold_cut_out_stops_injection_after_120_s_far_too_cold_without_heat_pump() -> None:
    cold = SP - COLD_STOP_K - 1.0
    run_table(
        "cold cut-out",
        [
            (10, SP, False, True, False),
            (11, cold, False, True, True),  # the cold timer starts here
            (11 + COLD_STOP_S - 1, cold, False, True, True),
            (11 + COLD_STOP_S + 1, cold, False, False, False),  # stopped: no pump speed
            (200, SP - 2.0, False, False, False),  # not yet within 1 K: stays off
            (201, SP - 0.5, False, True, False),  # recovered: injects again
        ],
    )
