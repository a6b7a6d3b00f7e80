"""The whole core as cycle tables: a plant image per scan, expected mode and commands.

Each row is (time, what changes in the plant before that scan, what the core must
send). The core steps once a second between rows (a time leap in OpenEMS's words);
the expectations are checked on the row's own scan. A failure names the table, the
row and the time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from core_plant import PlantImage, core, shipped_site

from controller.core.core import ControlCore, CoreOutput
from controller.core.modes import Mode

Change = Callable[[PlantImage], Any] | None
Row = tuple[float, Change, dict[str, Any]]

S = shipped_site().settings
VALVE, FAN = f"{S.roles.plc}.bypass_valve_cmd", f"{S.roles.drycooler}.fan_speed_cmd"
HP_ON, HP_LOAD = f"{S.roles.heatpump}.enable", f"{S.roles.heatpump}.load_setpoint"
HP_SP = f"{S.roles.heatpump}.supply_setpoint"


def run_table(name: str, table: list[Row], c: ControlCore | None = None) -> CoreOutput:
    c = c or core()
    plant = PlantImage()
    t = 0.0
    out: CoreOutput | None = None
    for i, (row_t, change, want) in enumerate(table):
        while t < row_t:  # time leap to the row
            out = c.step(plant.image(), c.settings, t, 1.0)
            t += 1.0
        if change is not None:
            change(plant)
        out = c.step(plant.image(), c.settings, t, 1.0)
        t += 1.0
        where = f"{name} row {i} t={row_t}"
        for key, value in want.items():
            if key == "mode":
                assert out.status.mode is value, f"{where}: mode {out.status.mode}"
            elif key == "interlocks":
                assert set(out.status.interlocks) == value, f"{where}: {out.status.interlocks}"
            elif key == "events":
                kinds = [e.message for e in out.events]
                assert all(any(v in k for k in kinds) for v in value), f"{where}: {kinds}"
            else:
                got = out.commands[key]
                assert got == pytest.approx(value), f"{where}: {key} = {got}, expected {value}"
    assert out is not None
    return out


def test_startup_hands_over_the_plant_as_found_then_recovers() -> None:
    run_table(
        "startup",
        [
            (0, None, {"mode": Mode.STARTUP, VALVE: 50.0, FAN: 50.0, HP_ON: 1.0, HP_LOAD: 75.0}),
            (9, None, {"mode": Mode.STARTUP, VALVE: 50.0, FAN: 50.0}),
            (10, None, {"mode": Mode.RECOVERY}),  # startup_s = 10 s of good signals
        ],
    )


def test_heat_pump_trip_pushes_the_coolers_to_full_and_stops_the_unit() -> None:
    trip: Change = lambda p: p.heat_pump(running=False, tripped=True)  # noqa: E731
    run_table(
        "hp trip",
        [
            (30, None, {"mode": Mode.RECOVERY}),
            (60, trip, {FAN: 100.0, VALVE: 100.0, HP_ON: 0.0, "interlocks": {"hp_trip"}}),
            # The unit is out of service from the next scan; BYPASS after the 10 s dwell.
            (70, None, {"mode": Mode.RECOVERY}),
            (71, None, {"mode": Mode.BYPASS}),
        ],
    )


def test_fws_high_high_is_safe_at_once_and_left_after_dwell() -> None:
    hot: Change = lambda p: p.set(fws_supply=40.5)  # noqa: E731
    back: Change = lambda p: p.set(fws_supply=35.0)  # noqa: E731
    dwell = S.interlocks.dwell_s
    run_table(
        "high-high",
        [
            (30, None, {"mode": Mode.RECOVERY}),
            (40, hot, {"mode": Mode.SAFE, VALVE: 100.0, FAN: 100.0, HP_ON: 0.0, HP_LOAD: 0.0}),
            (41, back, {"mode": Mode.SAFE, VALVE: 100.0, "interlocks": {"fws_high_high"}}),
            (41 + dwell - 1, None, {"interlocks": {"fws_high_high"}}),
            (41 + dwell, None, {"interlocks": set(), "mode": Mode.SAFE}),
            (41 + dwell + 9, None, {"mode": Mode.SAFE}),
            (41 + dwell + 10, None, {"mode": Mode.RECOVERY}),  # SAFE is left after 10 s
        ],
    )


def test_a_silent_heat_pump_reverts_after_the_grace_and_the_plant_is_degraded() -> None:
    lost: Change = lambda p: p.silent(S.roles.heatpump)  # noqa: E731
    grace = S.interlocks.device_loss_grace_s
    run_table(
        "device loss",
        [
            (30, None, {"mode": Mode.RECOVERY, HP_ON: 1.0}),
            (40, lost, {HP_ON: 1.0, "events": ["data from heatpump lost"]}),
            (44, None, {"mode": Mode.RECOVERY}),
            (45, None, {"mode": Mode.DEGRADED}),  # 5 s after the loss is seen
            (40 + grace - 1, None, {HP_ON: 1.0}),  # the unit keeps its last commands...
            (40 + grace, None, {HP_ON: 0.0, HP_LOAD: 0.0, HP_SP: 65.0}),  # ... then reverts
        ],
    )


def test_commands_are_the_same_for_the_same_inputs() -> None:
    """The core is pure: two cores fed the same images answer the same commands."""
    a = run_table("pure a", [(120, None, {})])
    b = run_table("pure b", [(120, None, {})])
    assert a.commands == b.commands
