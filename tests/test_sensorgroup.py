"""Sensor voting as cycle tables: median, bad, frozen and deviant members.

Rows: (time, readings of the members, expected voted value, expected faulty
members, expected degraded). A failure names the table, the row and the time.
"""

from __future__ import annotations

import pytest

from controller.core.sensorgroup import SensorGroup

KEYS4 = ["a", "b", "c", "d"]
Row = tuple[float, list[float | None], float | None, set[int], bool]


def run_table(name: str, g: SensorGroup, table: list[Row]) -> None:
    for i, (t, readings, value, faulty, degraded) in enumerate(table):
        got = g.update(dict(zip(g.keys, readings, strict=True)), t)
        bad = {j for j in range(g.n) if g.faulty(j)}
        where = f"{name} row {i} t={t}"
        assert got == (pytest.approx(value) if value is not None else None), where
        assert (bad, g.degraded) == (faulty, degraded), f"{where}: faulty {bad}"


def group4(tol: float = 1.0, disagree_s: float = 30.0, frozen_s: float = 600.0) -> SensorGroup:
    return SensorGroup("fws_supply", KEYS4, tol, disagree_s, frozen_s)


def test_median_of_the_healthy_members_and_bad_ones_left_out() -> None:
    run_table(
        "median",
        group4(),
        [
            (0, [35.0, 35.2, 34.9, 35.1], 35.05, set(), False),  # even count: mean of middle two
            (1, [35.0, None, 34.9, 35.1], 35.0, {1}, True),  # a bad member: median of three
            (2, [35.0, None, None, 35.2], 35.1, {1, 2}, True),
            (3, [None, None, None, 35.2], 35.2, {0, 1, 2}, True),  # one left: used alone
            (4, [None, None, None, None], None, {0, 1, 2, 3}, True),  # none: no value
            (5, [35.0, 35.2, 34.9, 35.1], 35.05, set(), False),  # back: whole again
            (6, [35.0, 35.1, 35.2, 35.9], 35.15, set(), False),  # a median, not a mean (35.3)
            (7, [35.0, None, 35.2, 35.9], 35.2, {1}, True),
        ],
    )


def test_a_deviant_member_is_voted_out_after_disagree_s_and_back_after_as_long() -> None:
    rows: list[Row] = [(0, [35.0, 35.0, 35.0, 35.0], 35.0, set(), False)]
    rows += [(t, [35.0, 35.0, 35.0, 38.0], 35.0, set(), False) for t in (1, 15, 30)]
    rows += [
        (31, [35.0, 35.0, 35.0, 38.0], 35.0, {3}, True),  # 30 s further than 1 K
        (40, [35.0, 35.0, 35.0, 35.5], 35.0, {3}, True),  # agrees again: still out...
        (69, [35.0, 35.0, 35.0, 35.5], 35.0, {3}, True),
        (70, [35.0, 35.0, 35.0, 35.5], 35.0, set(), False),  # ... for disagree_s
    ]
    run_table("deviant", group4(disagree_s=30.0), rows)


def test_a_frozen_member_is_left_out_when_the_group_moved() -> None:
    rows: list[Row] = []
    for k in range(0, 11):
        t = k * 60.0
        live = 35.0 + 0.05 * k  # the water warms 0.5 K in 10 min; member 0 sticks
        rows.append((t, [35.0, live, live, live], live if k else 35.0, set(), False))
    rows[-1] = (600.0, [35.0, 35.5, 35.5, 35.5], 35.5, {0}, True)  # frozen for frozen_s
    rows.append((660.0, [35.4, 35.55, 35.55, 35.55], 35.55, set(), False))  # moves again
    run_table("frozen", group4(tol=2.0, frozen_s=600.0), rows)


def test_two_sensors_disagreeing_trust_the_control_sensor() -> None:
    g = SensorGroup("dh_supply", ["plc", "meter"], 1.0, 30.0, 600.0)
    run_table(
        "pair",
        g,
        [
            (0, [70.0, 70.4], 70.2, set(), False),  # agree: the mean
            (1, [70.0, 71.5], 70.0, set(), True),  # disagree: the control sensor, degraded
            (2, [None, 71.5], 71.5, {0}, True),  # control sensor bad: the other one
            (3, [70.0, 70.4], 70.2, set(), False),
        ],
    )
    assert not g.disagreement
