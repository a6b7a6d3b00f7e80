"""Tank state of charge as a table: layers against what the network can use now.

Rows: (name, ten sensor readings top to bottom, cold, hot, expected SOC, expected bad
sensors). A failure names the row.
"""

from __future__ import annotations

import pytest

from controller.core.tankstate import RHO_CP_KWH_PER_M3K, TankState

H, C = 70.0, 40.0
ROWS: list[tuple[str, list[float | None], float, float, float | None, int]] = [
    ("full", [H] * 10, C, H, 1.0, 0),
    ("empty", [C] * 10, C, H, 0.0, 0),
    ("half, sharp thermocline", [H] * 5 + [C] * 5, C, H, 0.5, 0),
    ("half-way layers count half", [55.0] * 10, C, H, 0.5, 0),
    ("above setpoint counts as full", [80.0] * 10, C, H, 1.0, 0),
    ("setpoint raised: same tank holds less", [H] * 10, C, 80.0, 0.75, 0),
    ("one bad probe interpolated", [H] * 4 + [None] + [C] * 5, C, H, 0.45, 1),
    ("bad top probe takes its neighbour", [None] + [H] * 4 + [C] * 5, C, H, 0.5, 1),
    ("too few probes: unknown", [None] * 6 + [H] * 4, C, H, None, 6),
    ("exactly half the probes still enough", [None] * 5 + [C] * 5, C, H, 0.0, 5),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_state_of_charge(
    row: tuple[str, list[float | None], float, float, float | None, int],
) -> None:
    name, readings, cold, hot, soc, bad = row
    tank = TankState(100.0, 10)
    tank.update(readings, cold, hot)
    got = (tank.soc, tank.bad_sensors)
    assert got == (pytest.approx(soc) if soc is not None else None, bad), f"{name}: {got}"


def test_stored_energy_is_the_heat_above_the_cold_end() -> None:
    tank = TankState(100.0, 10)
    tank.update([H] * 5 + [C] * 5, C, H)
    assert tank.stored_kwh == pytest.approx(50.0 * 30.0 * RHO_CP_KWH_PER_M3K)
